"""Exercises of notebook 08, memory and cost: what reverse mode stores, and checkpoints."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import Checker, WrongOutput, number
from course.exercise import Exercise, Mistake
from course.result import fmt, safe_repr

# ---------------------------------------------------------------------------------
# 08.saved_bytes
# ---------------------------------------------------------------------------------

ACTIVATIONS = {"tanh": ad.tanh, "sigmoid": ad.sigmoid, "relu": ad.relu}


def layer_stack(activation: str):
    """The network of 08.saved_bytes: ``h_l = act(h_{l-1} W_l + b_l)``, loss ``sum(h_L)``."""
    act = ACTIVATIONS[activation]

    def net(x, *params):
        h = x
        for W, b in zip(params[0::2], params[1::2]):
            h = act(h @ W + b)
        return ad.sum(h)

    return net


def stack_arguments(batch: int, widths: list, seed: int = 0) -> list:
    """``[x, W1, b1, W2, b2, ...]`` for a stack of the given shapes (float64)."""
    rng = np.random.default_rng(seed)
    args = [rng.standard_normal((batch, widths[0]))]
    for n_in, n_out in zip(widths[:-1], widths[1:]):
        args += [rng.standard_normal((n_in, n_out)) / math.sqrt(n_in),
                 0.1 * rng.standard_normal(n_out)]
    return args


class SavedBytes(Checker):
    """``saved_bytes(batch, widths, activation) -> bytes``, against ``ad.saved_memory``."""

    fixed = ({"batch": 32, "widths": [64, 32, 16], "activation": "tanh"},
             {"batch": 32, "widths": [64, 32, 16], "activation": "relu"})

    def random_case(self, rng, k):
        depth = int(rng.integers(1, 5))
        return {"batch": int(rng.integers(1, 17)),
                "widths": [int(w) for w in rng.integers(1, 13, size=depth + 1)],
                "activation": ("sigmoid", "tanh", "relu")[k % 3]}

    def call(self, fn, case, fname):
        return {"bytes": fn(case["batch"], list(case["widths"]), case["activation"])}

    def expected(self, case):
        args = stack_arguments(case["batch"], case["widths"])
        saved = ad.saved_memory(layer_stack(case["activation"]), *args)
        return {"bytes": np.asarray(saved.nbytes, float)}

    def describe(self, case, fname):
        return (f"{fname}(batch={case['batch']}, widths={case['widths']}, "
                f"activation={case['activation']!r})")


# ---------------------------------------------------------------------------------
# 08.checkpoint_plan
# ---------------------------------------------------------------------------------

def peak_units(L: int, m: int, k: int) -> int:
    """Peak activations alive of a plan, as notebook 08 derives it (and measures in adlab).

    The first ``m`` of ``L`` layers (the input end) are checkpointed in ``m / k``
    segments of ``k`` layers, the other ``L - m`` recorded as usual, one activation
    each. The reverse sweep frees the plain layers before it recomputes any segment, so
    the peak is the larger of what the forward sweep keeps, ``(L - m) + m / k``, and what
    recomputing the last segment needs, the ``m / k`` segment outputs plus its ``k``
    outputs (:func:`adlab.memory.checkpoint_peak` with ``placement="input"``).
    """
    if m == 0:
        return L
    return max((L - m) + m // k, m // k + k)


def sum_peak(L: int, m: int, k: int) -> int:
    """The old law: plain activations taken to stay alive while segments are recomputed
    (true only for segments at the output end)."""
    return L if m == 0 else (L - m) + m // k + k


def no_segment_peak(L: int, m: int, k: int) -> int:
    return L if m == 0 else (L - m) + m // k


def plans(L: int):
    """Every plan, fewest checkpointed layers first, then shortest segments."""
    yield 0, 1
    yield from ((m, k) for m in range(1, L + 1) for k in _divisors(m))


def _divisors(m: int) -> list[int]:
    return [k for k in range(1, m + 1) if m % k == 0]


def model_plan(L: int, a: int, budget: int, peak: Any = None) -> tuple[int, int]:
    """The first plan (fewest m, then shortest k) that the model ``peak`` says fits."""
    peak = peak or peak_units
    for m, k in plans(L):
        if peak(L, m, k) * a <= budget:
            return m, k
    return L, L


def fewest_recomputed(L: int, a: int, budget: int) -> int | None:
    """The fewest checkpointed layers of any plan whose peak fits the budget."""
    for m, k in plans(L):
        if peak_units(L, m, k) * a <= budget:
            return m
    return None


def smallest_peak(L: int) -> int:
    return min(peak_units(L, m, k) for m, k in plans(L))


def sqrt_plan(case: dict) -> tuple[int, int]:
    """Every layer checkpointed, in segments of the divisor of L nearest sqrt(L)."""
    L = case["L"]
    return L, min((k for k in range(1, L + 1) if L % k == 0),
                  key=lambda k: (abs(k - math.sqrt(L)), k))


class CheckpointPlan(Checker):
    """``checkpoint_plan(L, a, budget) -> (m, k)``: fits the budget, fewest recomputations."""

    fixed = ({"L": 16, "a": 16384, "budget": 10 * 16384},
             {"L": 64, "a": 4096, "budget": 16 * 4096},
             {"L": 16, "a": 16384, "budget": 20 * 16384})

    def random_case(self, rng, k):
        L = int(rng.integers(2, 41))
        a = int(rng.choice([8, 1024, 4096, 16384, 65536]))
        low = smallest_peak(L) * a
        high = (L + 2) * a
        if k % 4 == 3:
            return {"L": L, "a": a, "budget": low}  # the tightest budget that can work
        return {"L": L, "a": a, "budget": int(rng.integers(low, high + 1))}

    def call(self, fn, case, fname):
        L, a, budget = case["L"], case["a"], case["budget"]
        plan = fn(L, a, budget)
        if not isinstance(plan, (tuple, list)) or len(plan) != 2:
            raise WrongOutput(f"{fname} should return a pair (m, k)", safe_repr(plan))
        try:
            m, k = int(plan[0]), int(plan[1])
            if m != plan[0] or k != plan[1]:
                raise ValueError
        except (TypeError, ValueError):
            raise WrongOutput("m and k should be whole numbers", safe_repr(plan)) from None
        if not 0 <= m <= L:
            raise WrongOutput(f"m (the layers to checkpoint) should lie in 0..{L}",
                              safe_repr(plan))
        if m > 0 and not (1 <= k <= m and m % k == 0):
            raise WrongOutput(f"k (the segment length) should divide m = {m}: the first m "
                              f"layers are cut into m / k segments of k layers each",
                              safe_repr(plan))
        peak = peak_units(L, m, k) * a
        return {"checkpointed layers": m, "fits the budget": float(peak <= budget)}

    def expected(self, case):
        m = fewest_recomputed(case["L"], case["a"], case["budget"])
        return {"checkpointed layers": np.asarray(m, float),
                "fits the budget": np.asarray(1.0)}

    def describe(self, case, fname):
        L, a, budget = case["L"], case["a"], case["budget"]
        return (f"{fname}(L={L}, a={a}, budget={budget})  (the budget holds "
                f"{budget / a:.4g} activations)")


# ---------------------------------------------------------------------------------
# 08.stored_values
# ---------------------------------------------------------------------------------

UNARY = ("sin", "cos", "exp", "tanh", "sigmoid", "neg")
BINARY = ("add", "sub", "mul", "div")
OPS = {"add": ad.add, "sub": ad.sub, "mul": ad.mul, "div": ad.div, "pow": ad.pow,
       "sin": ad.sin, "cos": ad.cos, "exp": ad.exp, "tanh": ad.tanh,
       "sigmoid": ad.sigmoid, "neg": ad.neg}


def reads_table() -> dict[str, tuple]:
    """What each argument's VJP rule reads, from adlab's registry.

    ``reads[op][i]`` is a tuple of names: ``"x"`` (the first argument), ``"y"`` (the
    second) or ``"ans"`` (the operation's own output).
    """
    table = {}
    for name in OPS:
        prim = ad.REGISTRY[name]
        assert prim.argnames[:2] == ("x", "y")[:prim.nargs], prim.argnames
        table[name] = tuple(prim.reads_of(i) for i in range(prim.nargs))
    return table


def build(spec: dict, xs: tuple) -> Any:
    """The function of a spec: ``["op", a, b]`` nodes; an int is an earlier node, a
    float a constant."""
    nodes = list(xs)
    for op, *args in spec["nodes"]:
        vals = [nodes[a] if isinstance(a, int) else a for a in args]
        nodes.append(OPS[op](*vals))
    return nodes[-1]


def spec_trace(spec: dict) -> ad.Trace:
    def f(*xs):
        return build(spec, xs)
    with np.errstate(all="ignore"):  # a random program may divide by zero: no matter here
        return ad.trace(f, *(np.float64(v) for v in spec["values"]))


def plain_nodes(t: ad.Trace) -> list[tuple]:
    """The trace as ``(name, op, args)`` tuples; an argument is a node's name or a number."""
    return [(n.name, n.op, tuple(str(a) if isinstance(a, str) else float(a) for a in n.args))
            for n in t.nodes]


class StoredValues(Checker):
    """``stored_values(nodes, reads) -> set of names``, against ``Trace.saved()``."""

    fixed = (
        # the curriculum's f = (x1 x2 - (x3 + x4))^2: only x1, x2 and c are read
        {"values": [1.0, 2.0, 3.0, 4.0],
         "nodes": [["mul", 0, 1], ["add", 2, 3], ["sub", 4, 5], ["pow", 6, 2.0]]},
        # sin(x) * 2 + x * y: the constant's own rule is never run
        {"values": [0.5, -1.5],
         "nodes": [["sin", 0], ["mul", 2, 2.0], ["mul", 0, 1], ["add", 3, 4]]},
        # tanh(x y) + exp(y): tanh and exp read their outputs
        {"values": [0.5, 1.5],
         "nodes": [["mul", 0, 1], ["tanh", 2], ["exp", 1], ["add", 3, 4]]},
    )

    def random_case(self, rng, k):
        n_in = 1 + k % 3
        values = [number(rng, -2, 2) for _ in range(n_in)]
        nodes: list = []
        for _ in range(int(rng.integers(2, 7))):
            newest = n_in + len(nodes) - 1
            other = int(rng.integers(0, newest + 1))
            r = rng.random()
            if r < 0.35:
                nodes.append([str(rng.choice(UNARY)), newest])
            elif r < 0.5:  # a constant on one side
                c = float(rng.choice([2.0, 0.5, 3.0]))
                op = str(rng.choice(["mul", "add", "sub", "div", "pow"]))
                nodes.append([op, newest, c] if op == "pow" or rng.random() < 0.5
                             else [op, c, newest])
            else:
                pair = [newest, other] if rng.random() < 0.5 else [other, newest]
                nodes.append([str(rng.choice(BINARY)), *pair])
        return {"values": values, "nodes": nodes}

    def call(self, fn, case, fname):
        nodes = plain_nodes(spec_trace(case))
        names = [n[0] for n in nodes]
        got = fn(nodes, reads_table())
        try:
            got = set(got)
        except TypeError:
            raise WrongOutput(f"{fname} should return a set of node names",
                              safe_repr(got)) from None
        unknown = [g for g in got if g not in names]
        if unknown:
            raise WrongOutput(f"{safe_repr(unknown[0])} is not the name of a node of this "
                              f"trace (they are {', '.join(names)})", safe_repr(got))
        return {f"{n} stored": float(n in got) for n in names}

    def expected(self, case):
        t = spec_trace(case)
        saved = set(t.saved())
        return {f"{n.name} stored": np.asarray(float(n.name in saved)) for n in t.nodes}

    def describe(self, case, fname):
        def text(name, op, args):
            if op == "input":
                return f"{name} = input"
            shown = ", ".join(fmt(a) if isinstance(a, float) else a for a in args)
            return f"{name} = {op}({shown})"
        lines = "; ".join(text(*node) for node in plain_nodes(spec_trace(case)))
        return f"{fname}(nodes, reads) for the trace  {lines}"


# ---------------------------------------------------------------------------------
# Known mistakes: what confused learners answer, computed from a case
# ---------------------------------------------------------------------------------

SUMS = ("add", "sub")


def kept_by(case: dict, *, sum_operands: bool = False, outputs: bool = True,
            constant_rules: bool = False) -> set[str]:
    """The nodes kept under a learner's rule of thumb (adlab's own rules by default).

    ``sum_operands``: + and - are taken to read their node operands; ``outputs=False``:
    a rule's read of its own output ("ans") is overlooked; ``constant_rules``: the rule
    of a constant argument is taken to run as well.
    """
    table = reads_table()
    kept: set[str] = set()
    for node, op, operands in plain_nodes(spec_trace(case)):
        stands_for = {"ans": node, **dict(zip(("x", "y"), operands))}
        for position, operand in enumerate(operands):
            named = isinstance(operand, str)
            if sum_operands and op in SUMS and named:
                kept.add(operand)
            if not (named or constant_rules):
                continue
            roles = [r for r in table[op][position] if outputs or r != "ans"]
            kept.update(stands_for[r] for r in roles if isinstance(stands_for[r], str))
    return kept


def as_stored(case: dict, kept: set[str]) -> dict:
    return {f"{n.name} stored": float(n.name in kept) for n in spec_trace(case).nodes}


def node_text(node: Any) -> str:
    shown = ", ".join(a if isinstance(a, str) else fmt(a) for a in node.args)
    return f"{node.name} = {node.op}({shown})"


def names_text(names: Any) -> str:
    return ", ".join(sorted(names, key=lambda n: int(n[1:]))) or "none"


def explain_sum_operands(case: dict) -> str:
    t = spec_trace(case)
    value = {n.name: n.value for n in t.nodes}
    extra = kept_by(case, sum_operands=True) - set(t.saved())
    for node in t.nodes:
        wrong = [a for a in node.args if node.op in SUMS and a in extra]
        if wrong:
            values = " and ".join(f"{a} = {fmt(value[a])}" for a in wrong)
            return (f"the node {node_text(node)} reads nothing: the partials of + and - are the "
                    f"constants 1 and -1, so its operands ({values}) are not kept for it; "
                    f"the values some rule reads are {names_text(t.saved())}")
    return "add and sub read nothing: their partials are constants"


def explain_outputs(case: dict) -> str:
    t = spec_trace(case)
    missing = set(t.saved()) - kept_by(case, outputs=False)
    for node in t.nodes:
        if node.name in missing:
            return (f"in {node_text(node)} = {fmt(node.value)} the rule of {node.op} reads its "
                    f"own OUTPUT (reads[{node.op!r}] holds 'ans'), so {node.name} is kept "
                    "too; exp, tanh and sigmoid compute their partial from the result")
    return "exp, tanh and sigmoid read their own output ('ans'), which is kept"


def explain_constant_rules(case: dict) -> str:
    t = spec_trace(case)
    extra = kept_by(case, constant_rules=True) - set(t.saved())
    for node in t.nodes:
        constants = [a for a in node.args if not isinstance(a, str)]
        if constants and (node.name in extra or any(a in extra for a in node.args)):
            return (f"in {node_text(node)} the constant {fmt(constants[0])} is not "
                    "differentiated, so its rule never runs and reads nothing: "
                    f"{names_text(extra)} should not be kept")
    return "the rule of a constant argument never runs"


def explain_every_node(case: dict) -> str:
    t = spec_trace(case)
    return (f"you kept all {len(t.nodes)} nodes, but reverse mode keeps only the values some "
            f"rule reads: here {names_text(t.saved())}; + and - read nothing, and a node "
            "only a sum uses is dropped")


def layer_widths(case: dict) -> list[int]:
    return list(case["widths"][1:])


def saved_numbers(case: dict, activation: str | None = None) -> int:
    """Numbers kept per batch when the activation is taken to be ``activation``."""
    w = layer_widths(case)
    if (activation or case["activation"]) == "relu":
        return case["batch"] * (sum(w) + sum(w[:-1]))  # every z_l, and h_l for a product
    return case["batch"] * sum(w)                       # h_l, read by act and by a product


def explain_float32(case: dict) -> str:
    n = saved_numbers(case)
    return (f"you counted 4 bytes a number (float32), but adlab computes in float64, 8 bytes "
            f"a number: the {n} kept numbers take {8 * n} bytes, not {4 * n}")


def explain_per_example(case: dict) -> str:
    n, batch = saved_numbers(case), case["batch"]
    return (f"you counted one example, {8 * n // batch} bytes, but every kept array has "
            f"batch = {batch} rows: {8 * n} bytes for the whole batch")


def explain_relu_outputs(case: dict) -> str:
    w, batch = layer_widths(case), case["batch"]
    return (f"you kept each layer's output h_l as for tanh, but relu's rule reads its INPUT "
            f"z_l (where it was positive): {batch} x {sum(w)} numbers for z_1..z_{len(w)}, "
            f"plus {batch} x {sum(w[:-1])} for the outputs a next product reads, "
            f"{8 * saved_numbers(case)} bytes in all")


def explain_squashing_inputs(case: dict) -> str:
    w, act = layer_widths(case), case["activation"]
    return (f"the rule of {act} reads its OUTPUT h_l, not its input: the pre-activations "
            f"z_l are read by no rule (+ reads nothing), so only the {case['batch']} x "
            f"{sum(w)} outputs are kept, {8 * saved_numbers(case)} bytes, not "
            f"{8 * saved_numbers(case, 'relu')}")


def explain_activation_reads(case: dict) -> str:
    w, act = layer_widths(case), case["activation"]
    read = "its input z_l" if act == "relu" else f"its output h_l (h_{len(w)} included)"
    return (f"you counted only what the next layer's product reads ({case['batch']} x "
            f"{sum(w[:-1])} numbers), but the rule of {act} reads a value as well, {read}: "
            f"{8 * saved_numbers(case)} bytes")


def plan_outputs(case: dict, plan: tuple[int, int]) -> dict:
    m, k = plan
    fits = peak_units(case["L"], m, k) * case["a"] <= case["budget"]
    return {"checkpointed layers": float(m), "fits the budget": float(fits)}


def layers_plan(case: dict) -> tuple[int, int]:
    """The plan when the peak, in activations, is compared with the budget in bytes."""
    return model_plan(case["L"], 1, case["budget"])


def explain_sum(case: dict) -> str:
    L, a, budget = case["L"], case["a"], case["budget"]
    m, k = model_plan(L, a, budget, sum_peak)
    want, best = fewest_recomputed(L, a, budget), model_plan(L, a, budget)
    s = best[0] // best[1] if best[0] else 0
    shown = (f"max(({L} - {best[0]}) + {s}, {s} + {best[1]}) = "
             f"{peak_units(L, *best)}" if best[0] else f"{L}")
    return (f"plain activations are freed before the segments are recomputed: the segments "
            f"sit at the input end, so the reverse sweep has swept the L - m plain layers "
            f"(and freed their values) before it reruns any segment. The peak is the larger "
            f"of the two phases, not their sum (the sum holds for segments at the output "
            f"end). With the sum you checkpoint m = {m} layers; m = {want} fits already: "
            f"(m, k) = {best} peaks at {shown} activations, within the {budget / a:.4g} the "
            f"budget holds")


def explain_no_segment(case: dict) -> str:
    L, a, budget = case["L"], case["a"], case["budget"]
    m, k = model_plan(L, a, budget, no_segment_peak)
    s = m // k
    return (f"your plan (m = {m}, k = {k}) leaves out the {k} outputs alive while a segment "
            f"is recomputed: its peak is max(({L} - {m}) + {s}, {s} + {k}) = "
            f"{peak_units(L, m, k)} activations, more than the {budget / a:.4g} the budget "
            "holds")


def explain_layers(case: dict) -> str:
    L, a, budget = case["L"], case["a"], case["budget"]
    m, k = layers_plan(case)
    return (f"you compared a peak counted in activations ({peak_units(L, m, k)}) with a "
            f"budget in bytes ({budget}); multiply by a = {a} first: that plan needs "
            f"{peak_units(L, m, k) * a} bytes")


def explain_sqrt(case: dict) -> str:
    L, a, budget = case["L"], case["a"], case["budget"]
    want = fewest_recomputed(L, a, budget)
    return (f"checkpointing all {L} layers in segments of about sqrt({L}) gives about the "
            f"smallest peak, but the task is the fewest recomputed layers that fit "
            f"{budget / a:.4g} activations: m = {want}, not {L}")


EXERCISES = (
    Exercise(
        id="08.stored_values", notebook="08_memory_and_cost", points=2,
        name="stored_values", title="Which values reverse mode stores",
        checker=StoredValues(),
        hint="A value is kept only when the reverse rule of some argument reads it. You "
             "need no rule by heart: the table reads says, for every operation and every "
             "argument position, what that argument's rule reads. Inputs are nodes too.",
        more_hints=(
            "reads[op][i] names roles, not nodes: 'x' is the operation's first argument, "
            "'y' its second and 'ans' the operation's own output (the node being defined). "
            "Turn each role into what it stands for and keep it only if that is a node name "
            "(a str); a constant is not a node. Only the rules of node arguments run: a "
            "constant is not differentiated.",
            "Outline: start from an empty set; go through the nodes, skipping the inputs; "
            "for each position whose argument is a str, look its roles up in the table, map "
            "them to names or numbers and add the names; return the set. For "
            "f = (x1*x2 - (x3+x4))**2 only x1, x2 and c remain: + and - read nothing.",
        ),
        mistakes=(
            Mistake("sum-operands-stored",
                    lambda c: as_stored(c, kept_by(c, sum_operands=True)),
                    explain_sum_operands),
            Mistake("output-read-forgotten",
                    lambda c: as_stored(c, kept_by(c, outputs=False)),
                    explain_outputs),
            Mistake("constant-rule-run",
                    lambda c: as_stored(c, kept_by(c, constant_rules=True)),
                    explain_constant_rules),
            Mistake("every-node-stored",
                    lambda c: as_stored(c, {n.name for n in spec_trace(c).nodes}),
                    explain_every_node),
        ),
    ),
    Exercise(
        id="08.saved_bytes", notebook="08_memory_and_cost", points=2, name="saved_bytes",
        title="Predict the bytes reverse mode stores for a network", checker=SavedBytes(),
        hint="Count only the intermediates some reverse rule reads. A layer "
             "h_l = act(h_{l-1} W_l + b_l) has three rules (the product, the +, the "
             "activation): ask which value each one reads, and whether it is an input "
             "(x, W, b: not counted) or an intermediate (counted). relu differs from tanh "
             "and sigmoid here.",
        more_hints=(
            "The product reads h_{l-1} (and W_l, an input); the + reads nothing; tanh and "
            "sigmoid read their OUTPUT h_l, relu its INPUT z_l = h_{l-1} W_l + b_l. A kept "
            "value of layer l is a (batch, w_l) float64 array, 8 * batch * w_l bytes, "
            "counted once even when two rules read it.",
            "Outline: take the layer widths (widths without the input's width); list the "
            "kept arrays for the activation at hand (tanh and sigmoid: every output h_l, the "
            "last one included; relu: every z_l, and the outputs that a next product "
            "reads); add their widths, then multiply by the batch and by 8. Check: 32 rows "
            "through 64 -> 32 -> 16 with tanh keep 12288 bytes.",
        ),
        mistakes=(
            Mistake("float32-bytes",
                    lambda c: {"bytes": 4.0 * saved_numbers(c)}, explain_float32),
            Mistake("per-example",
                    lambda c: {"bytes": 8.0 * saved_numbers(c) / c["batch"]},
                    explain_per_example),
            Mistake("relu-input-not-counted",
                    lambda c: {"bytes": 8.0 * saved_numbers(c, "tanh")},
                    explain_relu_outputs),
            Mistake("pre-activation-counted",
                    lambda c: {"bytes": 8.0 * saved_numbers(c, "relu")},
                    explain_squashing_inputs),
            Mistake("activation-read-forgotten",
                    lambda c: {"bytes": 8.0 * c["batch"] * sum(layer_widths(c)[:-1])},
                    explain_activation_reads),
        ),
    ),
    Exercise(
        id="08.checkpoint_plan", notebook="08_memory_and_cost", points=3,
        name="checkpoint_plan", title="Checkpoints for a memory budget",
        checker=CheckpointPlan(),
        hint="Judge every plan by its peak, the most activations alive at one time, and "
             "search the plans in order of recomputation: fewer checkpointed layers m "
             "first. The first plan whose peak fits the budget is the answer. The segments "
             "sit at the input end: ask what is still alive when they are recomputed.",
        more_hints=(
            "The reverse sweep meets the L - m plain layers first and frees each after its "
            "last use, so the plain layers and the recomputations are never alive together. "
            "In activations the peak is the larger of (L - m) + m / k (what the forward "
            "sweep keeps: the plain outputs and one value per segment) and m / k + k (the "
            "segment values while the last segment's k outputs are made again). Multiply "
            "by a before comparing with the budget, which is in bytes; m = 0 costs L.",
            "Outline: if all L layers fit, return (0, 1); otherwise let m run upwards from "
            "1 to L and, for each m, k over the divisors of m; compute the peak in bytes as "
            "the max of the two phases and return the first (m, k) within the budget. "
            "Check: L = 16 with room for 10 activations gives m = 7, k = 7: "
            "max(9 + 1, 1 + 7) = 10.",
        ),
        mistakes=(
            Mistake("plain-kept-while-recomputing",
                    lambda c: plan_outputs(c, model_plan(c["L"], c["a"], c["budget"],
                                                         sum_peak)),
                    explain_sum),
            Mistake("recomputed-segment-forgotten",
                    lambda c: plan_outputs(c, model_plan(c["L"], c["a"], c["budget"],
                                                         no_segment_peak)),
                    explain_no_segment),
            Mistake("peak-in-layers-not-bytes",
                    lambda c: plan_outputs(c, layers_plan(c)), explain_layers),
            Mistake("sqrt-rule-always",
                    lambda c: plan_outputs(c, sqrt_plan(c)), explain_sqrt),
        ),
    ),
)
