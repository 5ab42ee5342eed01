"""Exercises of notebook 08, memory and cost: what reverse mode stores, and checkpoints."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import Checker, WrongOutput, number
from course.exercise import Exercise
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
    """Peak stored activations (in layers' worth) of a plan, as notebook 08 derives it.

    The first ``m`` of ``L`` layers are checkpointed in segments of ``k`` (the last one
    shorter if ``k`` does not divide ``m``), the other ``L - m`` are recorded as usual.
    The forward sweep keeps one value per segment and the ``L - m`` plain outputs; the
    reverse sweep adds the ``k`` outputs of the segment it is recomputing.
    """
    if m == 0:
        return L
    return (L - m) + math.ceil(m / k) + k


def fewest_recomputed(L: int, a: int, budget: int) -> int | None:
    """The fewest checkpointed layers of any plan whose peak fits the budget."""
    for m in range(L + 1):
        ks = range(1, m + 1) if m else (1,)
        if any(peak_units(L, m, k) * a <= budget for k in ks):
            return m
    return None


def smallest_peak(L: int) -> int:
    return min(peak_units(L, m, k) for m in range(L + 1) for k in range(1, max(m, 1) + 1))


class CheckpointPlan(Checker):
    """``checkpoint_plan(L, a, budget) -> (m, k)``: fits the budget, fewest recomputations."""

    fixed = ({"L": 16, "a": 16384, "budget": 10 * 16384},
             {"L": 16, "a": 16384, "budget": 20 * 16384},
             {"L": 64, "a": 4096, "budget": 16 * 4096})

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
        if m > 0 and not 1 <= k <= m:
            raise WrongOutput(f"k (the segment length) should lie in 1..m = 1..{m}",
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
                f"{budget / a:.4g} layers' worth of activations)")


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


EXERCISES = (
    Exercise(
        id="08.stored_values", notebook="08_memory_and_cost", points=2,
        name="stored_values", title="Which values reverse mode stores",
        checker=StoredValues(),
        hint="Walk over the operations (skip the inputs). For each argument that is a "
             "node (a str, not a number), look up what that argument's rule reads: "
             "reads[op][i] holds 'x' (the first argument), 'y' (the second) or 'ans' (the "
             "node itself). Add the names those stand for, when they are nodes. The rule "
             "of a constant argument never runs, so it reads nothing; + and - read "
             "nothing at all.",
    ),
    Exercise(
        id="08.saved_bytes", notebook="08_memory_and_cost", points=2, name="saved_bytes",
        title="Predict the bytes reverse mode stores for a network", checker=SavedBytes(),
        hint="Per layer l (width w_l): the matmul reads its input h_{l-1} (and W_l, an "
             "input), the + reads nothing, tanh and sigmoid read their OUTPUT h_l, relu "
             "reads its INPUT z_l. The network's inputs x, W, b are not counted, nor is "
             "anything only + or sum reads. Each stored value is a (batch, w_l) float64 "
             "array: 8 * batch * w_l bytes, counted once even if two rules read it.",
    ),
    Exercise(
        id="08.checkpoint_plan", notebook="08_memory_and_cost", points=3,
        name="checkpoint_plan", title="Checkpoints for a memory budget",
        checker=CheckpointPlan(),
        hint="Try every plan: for m = 0, 1, ..., L (fewest recomputed layers first) and "
             "k = 1..m, the peak is a * ((L - m) + ceil(m / k) + k) (with m = 0: a * L). "
             "Return the first (m, k) whose peak is <= budget. Use math.ceil: a shorter "
             "last segment still needs its own stored input.",
    ),
)
