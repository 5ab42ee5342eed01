"""Exercises of notebook 04, reverse mode: adjoints and stored intermediates."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import SHAPES, Checker, WrongOutput, number, unpack
from course.exercise import Exercise, Mistake
from course.expr import Variable, variables
from course.expr import sin as expr_sin
from course.result import fmt, safe_repr


class DivVjp(Checker):
    r"""``div_vjp(g, x, y) -> (x_bar, y_bar)`` for :math:`z = x / y`, elementwise.

    :math:`\bar x = g / y,\ \bar y = -g\,x / y^2`; expected: adlab's pullback of ``ad.div``.
    """

    fixed = ({"g": 2.0, "x": 3.0, "y": 2.0},            # x_bar = 1, y_bar = -1.5
             {"g": np.array([0.5, -1.0, 2.0]), "x": np.array([1.0, -2.0, 3.0]),
              "y": np.array([4.0, 0.5, -1.5])})

    def random_case(self, rng, k):
        shape = SHAPES[(k + 3) % len(SHAPES)]  # a square matrix early: catches transposes
        # y away from zero on both sides: the rule divides by y and by y squared
        y = np.asarray(number(rng, 0.5, 3, shape)) * np.where(rng.random(shape) < 0.5, -1, 1)
        return {"g": number(rng, -3, 3, shape), "x": number(rng, -3, 3, shape),
                "y": float(y) if shape == () else y}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return unpack(fn(c["g"], c["x"], c["y"]), ("x_bar", "y_bar"), fname)

    def expected(self, case):
        _, pullback = ad.vjp(ad.div, case["x"], case["y"])
        x_bar, y_bar = pullback(case["g"])
        return {"x_bar": np.asarray(x_bar, float), "y_bar": np.asarray(y_bar, float)}


#: the operations of a 04.derive tree spec: name -> (children, course.expr node, adlab)
TREE_OPS: dict[str, tuple[int, Callable, Callable]] = {
    "plus": (2, lambda a, b: a + b, lambda a, b: a + b),
    "minus": (2, lambda a, b: a - b, lambda a, b: a - b),
    "mul": (2, lambda a, b: a * b, lambda a, b: a * b),
    "sin": (1, expr_sin, ad.sin),
}


def build_nodes(spec: dict, leaf: Any, adlab: bool = False) -> list:
    """Every node of a tree spec, in order, with ``leaf(name)`` for each variable.

    A spec lists nodes in order: ``["var", name]``, ``["plus", i, j]``, ``["minus", i,
    j]``, ``["mul", i, j]`` or ``["sin", i]`` (i, j: earlier nodes); the last node is the
    root. A node used twice is one shared object, so the same spec gives a course.expr
    tree or (``adlab=True``, with adlab values as leaves) an adlab graph.
    """
    nodes: list = []
    for kind, *parts in spec["nodes"]:
        if kind == "var":
            nodes.append(leaf(parts[0]))
            continue
        _, tree_op, adlab_op = TREE_OPS[kind]
        nodes.append((adlab_op if adlab else tree_op)(*(nodes[i] for i in parts)))
    return nodes


def build(spec: dict, leaf: Any, adlab: bool = False) -> Any:
    """The root of :func:`build_nodes`: the whole expression."""
    return build_nodes(spec, leaf, adlab)[-1]


def expression_nodes(spec: dict) -> list:
    """The spec's nodes as course.expr objects (one Variable object per name)."""
    leaves = {name: Variable(name, value) for name, value in spec["values"].items()}
    return build_nodes(spec, leaves.__getitem__)


def expression(spec: dict) -> Any:
    """The spec as a course.expr tree (one Variable object per name)."""
    return expression_nodes(spec)[-1]


class Derive(Checker):
    """``derive(expr, seed, adjoints)`` on random trees of Plus, Minus, Multiply and Sin
    nodes, against adlab's gradient of the same function."""

    fixed = (
        {"values": {"x": 2.0, "y": 3.0}, "seed": 1.0,  # x * (x + y) + y * y
         "nodes": [["var", "x"], ["var", "y"], ["plus", 0, 1], ["mul", 0, 2],
                   ["mul", 1, 1], ["plus", 3, 4]]},
        {"values": {"x": 1.5}, "seed": 2.0,  # (x * x) * x: x used three times
         "nodes": [["var", "x"], ["mul", 0, 0], ["mul", 1, 0]]},
        {"values": {"x": 2.0, "y": 3.0}, "seed": 1.0,  # x * y - sin(x + y), the notebook's w
         "nodes": [["var", "x"], ["var", "y"], ["mul", 0, 1], ["plus", 0, 1], ["sin", 3],
                   ["minus", 2, 4]]},
    )

    def random_case(self, rng, k):
        names = ["x", "y", "z"][: 1 + k % 3]
        values = {n: number(rng, -2.5, 2.5) for n in names}
        nodes: list = [["var", n] for n in names]
        # every tree has a subtraction and a sine, placed at random among the others
        ops = [str(rng.choice(["plus", "minus", "mul", "sin"]))
               for _ in range(int(rng.integers(3, 7)))]
        for needed in ("minus", "sin"):
            if needed not in ops:
                spare = [i for i, op in enumerate(ops)
                         if op not in ("minus", "sin") or ops.count(op) > 1]
                ops[int(rng.choice(spare))] = needed
        while ops[0] == "minus" and len(nodes) == 1:  # x - x would be 0: not first
            ops.append(ops.pop(0))
        for op in ops:
            # the newest node is always used, so every operation reaches the root; the
            # other operand may be any earlier node (shared variables and subtrees) and
            # stands left or right of it at random (a - b is not b - a)
            newest = len(nodes) - 1
            if op == "sin":
                nodes.append([op, newest])
                continue
            other = int(rng.integers(0, len(nodes) - (op == "minus")))  # never e - e
            pair = [newest, other] if rng.random() < 0.5 else [other, newest]
            nodes.append([op, *pair])
        seed = 1.0 if k % 2 == 0 else number(rng, -2, 2)
        return {"values": values, "seed": seed, "nodes": nodes}

    def call(self, fn, case, fname):
        adjoints: dict = {}
        fn(expression(case), case["seed"], adjoints)
        for key in adjoints:
            if not isinstance(key, str):
                raise WrongOutput("the keys of adjoints should be the variables' names "
                                  "(strings)", safe_repr(adjoints))
        return {f"adjoints[{k!r}]": v for k, v in sorted(adjoints.items())}

    def expected(self, case):
        reached = variables(expression(case))
        grads = ad.grad(lambda vals: build(case, vals.__getitem__, adlab=True))(
            dict(case["values"]))
        return {f"adjoints[{n!r}]": np.asarray(case["seed"] * grads[n], float)
                for n in reached}

    def describe(self, case, fname):
        values = ", ".join(f"{n} = {fmt(v)}" for n, v in case["values"].items())
        return (f"{fname}(expr, seed={fmt(case['seed'])}, adjoints={{}}) with "
                f"expr = {expression(case)!r}, {values}")


# The operations of exercise 04.saved_values, as adlab computes them
SAVED_OPS = {
    "add": lambda x, y: x + y,
    "sub": lambda x, y: x - y,
    "mul": lambda x, y: x * y,
    "sin": ad.sin,
    "exp": ad.exp,
    "square": lambda x: x ** 2,
}
_SYMBOL = {"add": "+", "sub": "-", "mul": "*"}


def program_text(program: list) -> str:
    """``a = x1 * x2; b = sin(a); ...``: a program of exercise 04.saved_values as text."""
    lines = []
    for name, op, *args in program:
        if op in _SYMBOL:
            rhs = f"{args[0]} {_SYMBOL[op]} {args[1]}"
        elif op == "square":
            rhs = f"{args[0]} ** 2"
        else:
            rhs = f"{op}({args[0]})"
        lines.append(f"{name} = {rhs}")
    return "; ".join(lines)


class SavedValues(Checker):
    """``saved_values(program) -> set of names``: the values the reverse sweep reads.

    A program is a list of steps ``(name, op, operand, ...)``; names no step defines are
    inputs. Expected: ``ad.trace(...).saved()`` of the same program, run by adlab.
    """

    fixed = (
        {"inputs": {"x1": 1.5, "x2": -2.0, "x3": 0.5, "x4": 3.0},  # the worked example
         "program": [["a", "mul", "x1", "x2"], ["b", "add", "x3", "x4"],
                     ["c", "sub", "a", "b"], ["f", "square", "c"]]},
        {"inputs": {"x1": 2.0, "x2": 3.0},                         # z = x1 x2 + sin x1
         "program": [["a", "mul", "x1", "x2"], ["b", "sin", "x1"], ["z", "add", "a", "b"]]},
        {"inputs": {"x": 0.5, "y": -1.0},                          # exp reads its output
         "program": [["a", "mul", "x", "y"], ["b", "exp", "a"], ["c", "add", "b", "y"],
                     ["d", "sub", "c", "x"]]},
    )

    def random_case(self, rng, k):
        inputs = {f"x{i + 1}": number(rng, -1.5, 1.5) for i in range(1 + k % 3)}
        names = list(inputs)
        program: list = []
        for step in range(int(rng.integers(2, 6))):
            op = str(rng.choice(list(SAVED_OPS)))
            # the newest value is always used, so every step reaches the output
            newest = names[-1] if not program else program[-1][0]
            other = names[int(rng.integers(0, len(names)))]
            args = [newest] if op in ("sin", "exp", "square") else [newest, other]
            if len(args) == 2 and rng.random() < 0.5:
                args.reverse()
            name = "abcdefgh"[step]
            program.append([name, op, *args])
            names.append(name)
        return {"inputs": inputs, "program": program}

    @staticmethod
    def names(case) -> list[str]:
        return list(case["inputs"]) + [step[0] for step in case["program"]]

    def call(self, fn, case, fname):
        program = [tuple(step) for step in copy.deepcopy(case["program"])]
        got = fn(program)
        if isinstance(got, (str, bytes)) or not isinstance(got, (set, frozenset, list, tuple)):
            raise WrongOutput(f"{fname} should return a set of names, such as "
                              "{'x1', 'c'}", safe_repr(got))
        known = self.names(case)
        for name in got:
            if name not in known:
                raise WrongOutput(f"{safe_repr(name)} is not a name in this program "
                                  f"(the names are {', '.join(known)})", safe_repr(got))
        return {f"{name} stored": 1.0 if name in got else 0.0 for name in known}

    def expected(self, case):
        inputs = list(case["inputs"])

        def run(*values):
            env = dict(zip(inputs, values))
            for name, op, *args in case["program"]:
                env[name] = SAVED_OPS[op](*(env[a] for a in args))
            return env[case["program"][-1][0]]

        t = ad.trace(run, *case["inputs"].values())
        if len(t.nodes) != len(self.names(case)):  # one recorded node per step
            raise RuntimeError("a step of the program recorded more than one node")
        by_node = dict(zip((node.name for node in t.nodes), self.names(case)))
        saved = {by_node[n] for n in t.saved()}
        return {f"{name} stored": np.asarray(float(name in saved))
                for name in self.names(case)}

    def describe(self, case, fname):
        return (f"{fname}(program) for {program_text(case['program'])} "
                "(1 means stored, 0 not stored)")


UNARY = ("sin", "exp", "square")


def run_program(program: list, env: dict) -> Any:
    """Run the steps of ``program`` with SAVED_OPS on the values in ``env`` (filled in by
    name); the output is the last step's value. With adlab's boxes in ``env``, adlab
    records it."""
    for name, op, *args in program:
        env[name] = SAVED_OPS[op](*(env[a] for a in args))
    return env[program[-1][0]]


def uses(program: list) -> dict:
    """``{name: [(step index, operand index), ...]}``: every place a value is read."""
    out: dict = {}
    for i, (_, _, *args) in enumerate(program):
        for j, a in enumerate(args):
            out.setdefault(a, []).append((i, j))
    return out


def _weighted(rng: np.random.Generator, names: list, cumulative: np.ndarray) -> str:
    """One of ``names``, drawn with the weights whose running sums are ``cumulative``."""
    return names[int(np.searchsorted(cumulative, rng.random() * cumulative[-1], side="right"))]


class SharedAdjoint(Checker):
    """``reverse_sweep_shared(program, values) -> {input: adjoint}``, for any program.

    A program is a list of steps ``(name, op, operand, ...)`` as in 04.saved_values (the
    ops of :data:`SAVED_OPS`); the names in ``values`` are its inputs and the last step is
    its output. Every input is read at least twice and some value by three different
    steps, so only a sweep that adds up the contributions of all uses passes. Expected:
    adlab's gradient of the same program, run with SAVED_OPS.
    """

    fixed = (
        {"values": {"x": 2.0, "y": 3.0},   # the worked example z = x (x + y) + y y
         "program": [["a", "add", "x", "y"], ["b", "mul", "x", "a"], ["c", "mul", "y", "y"],
                     ["z", "add", "b", "c"]]},
        {"values": {"x": 0.5, "y": -1.5},  # x read by three steps, a by two, two subs
         "program": [["a", "mul", "x", "y"], ["b", "sin", "x"], ["c", "sub", "a", "b"],
                     ["d", "mul", "c", "x"], ["e", "add", "d", "a"], ["f", "sub", "e", "y"]]},
    )
    LIMIT = 20.0  # no value of a random program leaves [-LIMIT, LIMIT]

    def random_case(self, rng, k):
        inputs = [f"x{i + 1}" for i in range(2 + k % 2)]
        fewest = 2 * len(inputs)  # 4 steps for 2 inputs, 6 for 3: room for all the uses
        for _ in range(10_000):
            program = self._draw(rng, inputs, int(rng.integers(fewest, 9)))
            if not self._fits(program, inputs):
                continue
            values = {n: number(rng, -1.5, 1.5) for n in inputs}
            if self._safe(program, values):
                return {"values": values, "program": program}
        raise RuntimeError("no program fits")  # pragma: no cover

    @staticmethod
    def _draw(rng, inputs: list, steps: int) -> list:
        """Random steps. A step mostly reads a result that nothing has read yet (so that
        every step reaches the output), sometimes starts a new branch from any value; its
        other operand is any value, more likely an input read fewer than twice."""
        ops = list(SAVED_OPS)
        names, program = list(inputs), []
        while len(program) < steps:
            op = ops[int(rng.integers(len(ops)))]
            read = uses(program)
            unread = [n for n in names[len(inputs):] if n not in read]
            weight = np.cumsum([8.0 if n in inputs and len(read.get(n, [])) < 2
                                else 2.0 if n in inputs else 1.0 for n in names])
            args = [unread[0] if unread and rng.random() < 0.75
                    else _weighted(rng, names, weight)]
            if op not in UNARY:
                args.append(unread[1] if len(unread) > 1 and rng.random() < 0.5
                            else _weighted(rng, names, weight))
                if rng.random() < 0.5:
                    args.reverse()
            if op == "sub" and args[0] == args[1]:
                continue  # u - u is 0: no path through it; draw again
            name = "abcdefgh"[len(program)]
            program.append([name, op, *args])
            names.append(name)
        return program

    @staticmethod
    def _fits(program: list, inputs: list) -> bool:
        read = uses(program)
        results = [step[0] for step in program]
        return (len(program) >= 2 * len(inputs)
                and all(len(read.get(n, [])) >= 2 for n in inputs)      # inputs used twice
                and all(n in read for n in results[:-1])               # all reach the output
                and any(len({i for i, _ in places}) >= 3 for places in read.values()))

    def _safe(self, program: list, values: dict) -> bool:
        """No value beyond LIMIT, no adjoint of an input near 0 or beyond 10 LIMIT."""
        env = dict(values)
        for step in program:
            run_program([step], env)
            if not abs(env[step[0]]) <= self.LIMIT:
                return False
        grads = self.expected({"program": program, "values": values})
        return all(0.01 <= abs(float(g)) <= 10 * self.LIMIT for g in grads.values())

    def call(self, fn, case, fname):
        program = [tuple(step) for step in copy.deepcopy(case["program"])]
        inputs = list(case["values"])
        got = fn(program, dict(case["values"]))
        if not isinstance(got, dict):
            raise WrongOutput(f"{fname} should return a dict of the inputs' adjoints, "
                              "such as {'x': 7.0, 'y': 8.0}", safe_repr(got))
        wanted = ", ".join(repr(n) for n in inputs)
        extra = [k for k in got if k not in inputs]
        if extra:
            raise WrongOutput(f"the keys should be the names of the inputs alone ({wanted}); "
                              f"{', '.join(safe_repr(k) for k in extra)} "
                              f"{'is not an input' if len(extra) == 1 else 'are not inputs'}",
                              safe_repr(got))
        missing = [n for n in inputs if n not in got]
        if missing:
            raise WrongOutput(f"the adjoint of {missing[0]!r} is missing: the keys should "
                              f"be the names of the inputs ({wanted})", safe_repr(got))
        return {f"{n}_bar": got[n] for n in inputs}

    def expected(self, case):
        program = case["program"]
        grads = ad.grad(lambda env: run_program(program, dict(env)))(dict(case["values"]))
        return {f"{n}_bar": np.asarray(grads[n], float) for n in case["values"]}

    def describe(self, case, fname):
        steps = ", ".join("(" + ", ".join(repr(p) for p in step) + ")"
                          for step in case["program"])
        values = ", ".join(f"{n!r}: {v!r}" for n, v in case["values"].items())
        return (f"{fname}([{steps}], {{{values}}}), the program "
                f"{program_text(case['program'])}")


# ---------------------------------------------------------------------------------
# Known mistakes of 04.div_vjp: a wrong (x_bar, y_bar) from (g, x, y), and the feedback
# that names it with the case's numbers
# ---------------------------------------------------------------------------------

def _div_inputs(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """g, x and y of a 04.div_vjp case, as float arrays."""
    return (np.asarray(case["g"], float), np.asarray(case["x"], float),
            np.asarray(case["y"], float))


def _div_right(g: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple:
    return g / y, -g * x / (y * y)


def _div_at(case: dict) -> str:
    g, x, y = _div_inputs(case)
    return f"g = {fmt(g)}, x = {fmt(x)}, y = {fmt(y)}"


def _div_mistake(code: str, rule: Callable, explain: Callable) -> Mistake:
    """``rule(g, x, y) -> (x_bar, y_bar)``: what the mistake returns; ``explain(case,
    right, wrong)`` names it, with both pairs of the case."""
    def wrong(case: dict) -> dict:
        x_bar, y_bar = rule(*_div_inputs(case))
        return {"x_bar": x_bar, "y_bar": y_bar}

    def text(case: dict) -> str:
        return explain(case, _div_right(*_div_inputs(case)), rule(*_div_inputs(case)))
    return Mistake(code, wrong, text)


DIV_MISTAKES = (
    _div_mistake(
        "y-bar-sign",
        lambda g, x, y: (g / y, g * x / (y * y)),
        lambda c, right, wrong: (
            "the partial of x / y with respect to y has a minus sign (for x > 0 a larger y "
            f"makes the quotient smaller): at {_div_at(c)}, y_bar should be "
            f"{fmt(right[1])}, not {fmt(wrong[1])}")),
    _div_mistake(
        "y-bar-no-square",
        lambda g, x, y: (g / y, -g * x / y),
        lambda c, right, wrong: (
            "the partial of x / y with respect to y divides by y squared (x / y is "
            "x * y**-1, and the derivative of y**-1 is -y**-2), not by y: at "
            f"{_div_at(c)}, y_bar should be {fmt(right[1])}, not {fmt(wrong[1])}")),
    _div_mistake(
        "cotangent-dropped",
        lambda g, x, y: (1 / y + 0 * g, -x / (y * y) + 0 * g),
        lambda c, right, wrong: (
            "you returned the local partials of x / y alone; the adjoint that arrives "
            f"from z, g = {fmt(c['g'])}, multiplies each of them (it is 1 only when z is "
            f"the final output): x_bar should be {fmt(right[0])}, not {fmt(wrong[0])}")),
    _div_mistake(
        "adjoint-as-numerator",
        lambda g, x, y: (g / y, -g / (y * y)),
        lambda c, right, wrong: (
            "the adjoint y_bar is g TIMES the partial of x / y with respect to y, and that "
            "partial keeps the x of the quotient; -g / y**2 is the derivative of g / y, as "
            f"if the adjoint had taken the numerator's place. At {_div_at(c)}, y_bar should be "
            f"{fmt(right[1])}, not {fmt(wrong[1])}")),
    _div_mistake(
        "product-rule-pasted",
        lambda g, x, y: (g * y, g * x),
        lambda c, right, wrong: (
            "the pair (g * y, g * x) is the reverse rule of the PRODUCT x * y (each factor "
            "gets g times the other one); a quotient has partials of its own, which you get "
            f"by differentiating x / y by x and by y. At {_div_at(c)}, (x_bar, y_bar) should "
            f"be ({fmt(right[0])}, {fmt(right[1])}), not ({fmt(wrong[0])}, "
            f"{fmt(wrong[1])})")),
)


# ---------------------------------------------------------------------------------
# Known mistakes of 04.shared_adjoint, 04.saved_values and 04.derive: what each wrong
# idea computes on a case, and the feedback that names it with the case's numbers
# ---------------------------------------------------------------------------------

def _stored(case: dict) -> dict:
    """Every value of a 04.shared_adjoint program, by name (plain numbers, no adlab)."""
    env = {n: float(v) for n, v in case["values"].items()}
    run_program(case["program"], env)
    return {n: float(v) for n, v in env.items()}


def _gradient(case: dict, live: Callable | None = None, rules: dict | None = None) -> dict:
    """adlab's gradient of a variant of the program, by input name.

    ``live(i, j)`` False: operand j of step i enters as a stored number, so no adjoint
    flows back through that use. ``rules[op](operands, stored)`` replaces an operation by
    one with the same value and another local partial (stored: the operands' numbers).
    The wrong answers of the mistakes are gradients of such variants, computed by adlab.
    """
    stored, program = _stored(case), case["program"]

    def run(env):
        env = dict(env)
        for i, (name, op, *args) in enumerate(program):
            operands = [env[a] if live is None or live(i, j) else stored[a]
                        for j, a in enumerate(args)]
            if rules and op in rules:
                env[name] = rules[op](operands, [stored[a] for a in args])
            else:
                env[name] = SAVED_OPS[op](*operands)
        return env[program[-1][0]]

    grads = ad.grad(run)({n: float(v) for n, v in case["values"].items()})
    return {n: float(grads[n]) for n in case["values"]}


def _as_outputs(grads: dict) -> dict:
    return {f"{n}_bar": v for n, v in grads.items()}


def _last_use_kept(case: dict) -> dict:
    """The sweep that overwrites (``=``): of all the uses of a value, only the one that
    the backward visit reaches last counts, the first use in program order (its second
    operand, when a step reads the value twice)."""
    kept = set()
    for places in uses(case["program"]).values():
        first = places[0][0]
        kept.add(max(p for p in places if p[0] == first))
    return _gradient(case, live=lambda i, j: (i, j) in kept)


def _contributions(case: dict, name: str) -> list[tuple[str, float]]:
    """What each use of ``name`` adds to its adjoint, in the order a backward visit
    reaches them: ``[(reading step, amount), ...]``, each amount by adlab, with every
    other use of ``name`` cut off."""
    program = case["program"]
    places = sorted(uses(program)[name], key=lambda p: (-p[0], p[1]))
    out = []
    for place in places:
        def live(i, j, place=place):
            return program[i][2 + j] != name or (i, j) == place
        out.append((program[place[0]][0], _gradient(case, live=live)[name]))
    return out


def _sum_text(terms: list[tuple[str, float]]) -> str:
    text = ""
    for k, (step, amount) in enumerate(terms):
        if k == 0:
            text = f"{fmt(amount)} (from {step})"
        else:
            sign = "-" if amount < 0 else "+"
            text += f" {sign} {fmt(abs(amount))} (from {step})"
    return text


def _differing(case: dict, wrong: dict) -> str:
    """The first input whose adjoint ``wrong`` gets wrong (the first input if none)."""
    right = _as_outputs(_gradient(case))
    for name in case["values"]:
        if not np.isclose(wrong[name], right[f"{name}_bar"]):
            return name
    return next(iter(case["values"]))


def _outcome(case: dict, wrong: dict) -> str:
    name = _differing(case, wrong)
    right = _gradient(case)[name]
    return f"the sweep then gives {name}_bar = {fmt(wrong[name])} instead of {fmt(right)}"


def _explain_overwritten(case: dict) -> str:
    wrong, right = _last_use_kept(case), _gradient(case)
    read = uses(case["program"])
    differ = [n for n in case["values"] if not np.isclose(wrong[n], right[n])] \
        or list(case["values"])
    name = max(differ, key=lambda n: len(read[n]))
    terms = _contributions(case, name)
    steps = [step for step, _ in terms]
    order = list(dict.fromkeys(steps))
    if len(order) == len(steps):
        by = "by " + ", ".join(order[:-1]) + " and " + order[-1]
    else:
        times = {1: "once", 2: "twice"}
        by = ", ".join(f"{times.get(steps.count(s), f'{steps.count(s)} times')} by {s}"
                       for s in order)
    return (f"an adjoint is a sum over uses, and the input {name} is read {len(terms)} "
            f"times ({by}): {name}_bar = {_sum_text(terms)} = {fmt(right[name])}; an "
            "adjoint that is overwritten instead of added to keeps only the contribution "
            f"that arrives last, and the sweep then gives {name}_bar = {fmt(wrong[name])}")


def _adjoint_of(case: dict, target: str) -> float:
    """d output / d (the value of step ``target``), by adlab: that value plus t, at t = 0."""
    program, values = case["program"], case["values"]

    def run(t):
        env = {n: float(v) for n, v in values.items()}
        for name, op, *args in program:
            env[name] = SAVED_OPS[op](*(env[a] for a in args))
            if name == target:
                env[name] = env[name] + t
        return env[program[-1][0]]

    return float(ad.grad(run)(0.0))


def _first_step(case: dict, op: str) -> list | None:
    return next((step for step in case["program"] if step[1] == op), None)


def _step_text(step: list) -> str:
    return program_text([step])


def _sub_flipped(case: dict) -> dict:
    return _gradient(case, rules={"sub": lambda u, s: u[0] - u[1] + 2 * (u[1] - s[1])})


def _explain_sub_sign(case: dict) -> str:
    step = _first_step(case, "sub")
    if step is None:
        return "the local partial of u - v with respect to v is -1, not +1"
    name, _, _, v = step
    bar = _adjoint_of(case, name)
    return (f"the local partial of u - v with respect to v is -1: in {_step_text(step)} "
            f"the second operand {v} receives -{name}_bar = {fmt(-bar)}, not +{name}_bar = "
            f"{fmt(bar)}; with that sign flipped {_outcome(case, _sub_flipped(case))}")


def _square_halved(case: dict) -> dict:
    return _gradient(case, rules={"square": lambda u, s: u[0] ** 2 - s[0] * (u[0] - s[0])})


def _explain_square_half(case: dict) -> str:
    step = _first_step(case, "square")
    if step is None:
        return "the local partial of u ** 2 is 2 u, not u"
    u = step[2]
    value = _stored(case)[u]
    return (f"the local partial of u ** 2 is 2 u, not u: in {_step_text(step)}, with "
            f"{u} = {fmt(value)}, it is {fmt(2 * value)}, not {fmt(value)}; with the "
            f"factor 2 left out {_outcome(case, _square_halved(case))}")


def _sin_negated(case: dict) -> dict:
    return _gradient(case, rules={"sin": lambda u, s: ad.sin(u[0])
                                  - 2 * np.cos(s[0]) * (u[0] - s[0])})


def _explain_sin_sign(case: dict) -> str:
    step = _first_step(case, "sin")
    if step is None:
        return "the local partial of sin(u) is cos(u), not -cos(u)"
    u = step[2]
    value = _stored(case)[u]
    return (f"the local partial of sin(u) is +cos(u) (it is cos whose derivative has the "
            f"minus sign, -sin): in {_step_text(step)}, with {u} = {fmt(value)}, it is "
            f"cos({fmt(value)}) = {fmt(np.cos(value))}, not {fmt(-np.cos(value))}; with "
            f"that sign flipped {_outcome(case, _sin_negated(case))}")


def _explain_no_seed(case: dict) -> str:
    output = case["program"][-1][0]
    return (f"every adjoint came out 0: the reverse sweep starts from the seed "
            f"{output}_bar = 1 on the output ({output}, the last step), and with every "
            "adjoint starting at 0 and no seed, nothing is ever added but zeros")


def _right_saved(case: dict) -> set:
    """The names the reverse sweep reads, as adlab's trace says (the expected answer)."""
    return {key[: -len(" stored")] for key, v in SavedValues().expected(case).items() if v}


def _saved_outputs(case: dict, names: set) -> dict:
    return {f"{n} stored": float(n in names) for n in SavedValues.names(case)}


def _name_set(case: dict, names: set) -> str:
    """``{'x1', 'x2', 'c'}``: names in the order of the program."""
    return "{" + ", ".join(repr(n) for n in SavedValues.names(case) if n in names) + "}"


def _steps(case: dict, ops: tuple) -> list:
    return [step for step in case["program"] if step[1] in ops]


def _saved_with_sum_operands(case: dict) -> set:
    return _right_saved(case) | {a for step in _steps(case, ("add", "sub")) for a in step[2:]}


def _saved_intermediates(case: dict) -> set:
    return {step[0] for step in case["program"][:-1]}


def _saved_exp_operand(case: dict) -> set:
    read_elsewhere = {a for step in _steps(case, ("mul", "sin", "square")) for a in step[2:]}
    exp_steps = _steps(case, ("exp",))
    results = {step[0] for step in exp_steps} - read_elsewhere
    return (_right_saved(case) - results) | {step[2] for step in exp_steps}


def _explain_sum_operands(case: dict) -> str:
    right = _right_saved(case)
    extra = _saved_with_sum_operands(case) - right
    return (f"+ and - have constant local partials (1 and -1), so the reverse sweep never "
            f"reads their operands: {_name_set(case, extra)} need not be stored; it reads "
            f"only {_name_set(case, right)}")


def _explain_intermediates(case: dict) -> str:
    right, wrong = _right_saved(case), _saved_intermediates(case)
    text = (f"the reverse sweep keeps only the values some local partial reads, not every "
            f"intermediate result: here {_name_set(case, right)}")
    if wrong - right:
        text += f"; no local partial reads {_name_set(case, wrong - right)}"
    return text


def _explain_exp_operand(case: dict) -> str:
    exp_steps = _steps(case, ("exp",))
    results = {step[0] for step in exp_steps}
    operands = {step[2] for step in exp_steps}
    return (f"the derivative of exp(u) is exp(u) itself, so the sweep reads the result "
            f"{_name_set(case, results)}, not the operand {_name_set(case, operands)}: "
            f"the stored set is {_name_set(case, _right_saved(case))}, not "
            f"{_name_set(case, _saved_exp_operand(case))}")


def _node_values(case: dict) -> list:
    return [node.evaluate() for node in expression_nodes(case)]


def _visits(case: dict, factor: str = "other", chain: bool = True, minus: str = "right",
            sine: str = "cos") -> list[tuple[int, float]]:
    """Every call of a recursive derive on a 04.derive case, in the order it makes them
    (left child first): ``[(node index, seed arriving), ...]``, the root first.

    The right rules are the defaults; the others are known mistakes: ``factor="own"``, a
    product hands each child its own value instead of the other one; ``chain=False``,
    a product hands on its local partial without the seed; ``minus="plus"``,
    a subtraction hands +seed to its second child; ``sine="sin"``, a sine hands on seed
    times sin instead of cos; ``sine="output"``, seed times cos of the node's own value
    sin(u) instead of cos(u)."""
    values, nodes = _node_values(case), case["nodes"]
    out: list = []
    todo = [(len(nodes) - 1, case["seed"])]
    while todo:
        i, amount = todo.pop()
        out.append((i, amount))
        kind, *parts = nodes[i]
        if kind == "var":
            continue
        if kind == "sin":
            u = values[parts[0]]
            partial = {"cos": np.cos(u), "sin": np.sin(u), "output": np.cos(values[i])}[sine]
            todo.append((parts[0], amount * float(partial)))
            continue
        left, right = parts
        if kind == "plus":
            todo += [(right, amount), (left, amount)]
        elif kind == "minus":
            todo += [(right, amount if minus == "plus" else -amount), (left, amount)]
        else:
            to_left, to_right = ((values[right], values[left]) if factor == "other"
                                 else (values[left], values[right]))
            scale = amount if chain else 1.0
            todo += [(right, scale * to_right), (left, scale * to_left)]
    return out


def _arrivals(case: dict, **rules: Any) -> dict:
    """What reaches each variable of a 04.derive case, use by use, in the order a
    recursive derive visits the tree: ``{name: [amount, ...]}`` (rules: see _visits)."""
    got: dict = {}
    for i, amount in _visits(case, **rules):
        node = case["nodes"][i]
        if node[0] == "var":
            got.setdefault(node[1], []).append(amount)
    return got


def _first_visit(case: dict, kind: str) -> tuple[int, float] | None:
    """(index, seed arriving) of the first node of this kind a right derive reaches."""
    return next(((i, a) for i, a in _visits(case) if case["nodes"][i][0] == kind), None)


def _derive_outputs(got: dict, combine: Callable) -> dict:
    return {f"adjoints[{n!r}]": float(combine(got[n])) for n in sorted(got)}


def _first_difference(case: dict, wrong: dict) -> tuple[str, float, float]:
    """(name, right, wrong) for the first variable whose adjoint differs."""
    right = {n: sum(v) for n, v in _arrivals(case).items()}
    for name in sorted(right):
        if not np.isclose(right[name], wrong[name]):
            return name, right[name], wrong[name]
    name = sorted(right)[0]
    return name, right[name], wrong[name]


def _explain_overwritten_adjoint(case: dict) -> str:
    got = _arrivals(case)
    last = {n: v[-1] for n, v in got.items()}
    name, total, _ = _first_difference(case, last)
    parts = got[name] if len(got[name]) <= 6 else [*got[name][:5], "..."]
    terms = " + ".join(p if isinstance(p, str) else fmt(p) for p in parts)
    return (f"the variable {name} is reached {len(got[name])} times, and "
            f"adjoints[{name!r}] must be the sum of all those contributions: {terms} = "
            f"{fmt(total)}, not {fmt(last[name])}, the last one alone (the adjoint was "
            "overwritten, not added to)")


def _explain_own_factor(case: dict) -> str:
    wrong = {n: sum(v) for n, v in _arrivals(case, factor="own").items()}
    name, right, bad = _first_difference(case, wrong)
    return (f"the partial of a product a * b with respect to a is b, the OTHER factor; "
            f"handing each factor its own value gives adjoints[{name!r}] = {fmt(bad)} "
            f"instead of {fmt(right)}")


def _explain_seed_dropped(case: dict) -> str:
    wrong = {n: sum(v) for n, v in _arrivals(case, chain=False).items()}
    name, right, bad = _first_difference(case, wrong)
    return (f"at a product each operand receives the seed that arrived from above TIMES "
            f"the other factor; handing on the other factor alone drops that seed (it is "
            f"{fmt(case['seed'])} at the root) and gives adjoints[{name!r}] = {fmt(bad)} "
            f"instead of {fmt(right)}")


def _wrong_result(case: dict, **rules: Any) -> str:
    wrong = {n: sum(v) for n, v in _arrivals(case, **rules).items()}
    name, right, bad = _first_difference(case, wrong)
    return f"adjoints[{name!r}] = {fmt(bad)} instead of {fmt(right)}"


def _explain_minus_as_plus(case: dict) -> str:
    general = ("a subtraction does not treat its two children alike: the partial of a - b "
               "is 1 with respect to a but -1 with respect to b, so b receives -seed")
    first = _first_visit(case, "minus")
    if first is None:
        return general
    i, amount = first
    nodes = expression_nodes(case)
    node, b = nodes[i], nodes[case["nodes"][i][2]]
    return (f"{general}. Here {node!r} is reached with the seed {fmt(amount)}, so its "
            f"second child {b!r} must receive {fmt(-amount)}, not {fmt(amount)}; handing "
            f"+seed to both children gives {_wrong_result(case, minus='plus')}")


def _sine_at(case: dict) -> tuple[str, str, float, float] | None:
    """(the sine node, its child, the child's value, the seed arriving) at the first sine
    a right derive reaches."""
    first = _first_visit(case, "sin")
    if first is None:
        return None
    i, amount = first
    nodes = expression_nodes(case)
    child = nodes[case["nodes"][i][1]]
    return repr(nodes[i]), repr(child), child.evaluate(), amount


def _explain_sin_value(case: dict) -> str:
    general = ("the local partial of sin(u) is its derivative, cos(u), not sin(u): the "
               "child receives seed * cos(u)")
    at = _sine_at(case)
    if at is None:
        return general
    node, child, u, amount = at
    return (f"{general}. At {node}, reached with the seed {fmt(amount)} and with u = "
            f"{child} = {fmt(u)}, that is {fmt(amount)} * cos({fmt(u)}) = "
            f"{fmt(amount * np.cos(u))}, not {fmt(amount)} * sin({fmt(u)}) = "
            f"{fmt(amount * np.sin(u))}; with the sine the adjoints come out as "
            f"{_wrong_result(case, sine='sin')}")


def _explain_sin_wrong_point(case: dict) -> str:
    general = ("the local partial of sin(u) is cos taken at the CHILD's value u, not at "
               "the node's own value sin(u)")
    at = _sine_at(case)
    if at is None:
        return general
    node, child, u, amount = at
    return (f"{general}. At {node}, with u = {child} = {fmt(u)}, the partial is "
            f"cos({fmt(u)}) = {fmt(np.cos(u))}, not cos(sin({fmt(u)})) = "
            f"cos({fmt(np.sin(u))}) = {fmt(np.cos(np.sin(u)))}; taking the cosine of "
            f"the node's value gives {_wrong_result(case, sine='output')}")


EXERCISES = (
    Exercise(
        id="04.div_vjp", notebook="04_reverse_mode", points=2, name="div_vjp",
        title="The reverse rule of a quotient", checker=DivVjp(),
        hint="Apply the general rule the product's example followed: each input's adjoint "
             "is the output's adjoint g times the local partial derivative of z = x / y "
             "with respect to that input. Work out the two partials of the quotient first; "
             "the product's partials do not carry over.",
        more_hints=(
            "The local partials of z = x / y are dz/dx = 1/y and dz/dy = -x/y**2 (write "
            "x / y as x * y**-1 to see where the minus sign and the square come from); g "
            "multiplies each of them.",
            "Outline: two elementwise expressions, x_bar from g and y, y_bar from g, x and "
            "y, returned in the order (x_bar, y_bar); no sums and no transposes, since z "
            "has the shape of x and y. By hand at g = 2, x = 3, y = 2: (1, -1.5).",
        ),
        mistakes=DIV_MISTAKES,
    ),
    Exercise(
        id="04.shared_adjoint", notebook="04_reverse_mode", points=2,
        name="reverse_sweep_shared", title="A reverse sweep of any program, summed over uses",
        checker=SharedAdjoint(),
        hint="Keep every value of the forward sweep by its name, then visit the steps in "
             "reverse order, starting from the seed 1 on the output. Each step passes its "
             "own adjoint, times a local partial, to each of its operands. A value read by "
             "several steps (or twice by one) receives one contribution per use, and its "
             "adjoint is the sum of them all.",
        more_hints=(
            "The local partials: add gives 1 to both operands, sub 1 to the first and -1 to "
            "the second, mul gives each operand the value of the OTHER one, sin the cosine "
            "of its operand, exp its own result, square twice its operand. Adjoints start "
            "at 0 and are only ever increased (+=): by the time the backward visit reaches "
            "a step, every step that reads its result has already added its share.",
            "Outline: a dict of adjoints with 0 for every name; the output's entry set to "
            "1; one loop over the reversed program, in which a step reads its own adjoint "
            "and the stored values, works out one local partial per operand and adds "
            "adjoint times partial into that operand's entry (in c = y * y, y gets two "
            "additions); at the end, a dict with the entries of the inputs alone. For the "
            "worked example at x = 2, y = 3 that is {'x': 7, 'y': 8}.",
        ),
        mistakes=(
            Mistake("adjoint-overwritten", lambda c: _as_outputs(_last_use_kept(c)),
                    _explain_overwritten),
            Mistake("sub-sign", lambda c: _as_outputs(_sub_flipped(c)), _explain_sub_sign),
            Mistake("square-without-2", lambda c: _as_outputs(_square_halved(c)),
                    _explain_square_half),
            Mistake("sin-sign", lambda c: _as_outputs(_sin_negated(c)), _explain_sin_sign),
            Mistake("seed-missing", lambda c: {f"{n}_bar": 0.0 for n in c["values"]},
                    _explain_no_seed),
        ),
    ),
    Exercise(
        id="04.saved_values", notebook="04_reverse_mode", points=2, name="saved_values",
        title="Which values the reverse sweep reads", checker=SavedValues(),
        hint="The reverse sweep has to keep exactly the values that some local partial "
             "derivative reads; a value that no partial reads is not stored, however "
             "much the forward sweep needed it.",
        more_hints=(
            "Operation by operation: add and sub have constant partials (1 and -1) and "
            "read nothing; mul reads both operands; sin and square read their operand; "
            "exp reads its own result, since the derivative of e^u is e^u.",
            "Outline: start from an empty set, go through the steps (name, op, operands), "
            "add the names that this op's partials read, return the set. For "
            "f = (x1*x2 - (x3+x4))**2 that is {'x1', 'x2', 'c'}: b is never read.",
        ),
        mistakes=(
            Mistake("sum-operands-saved",
                    lambda c: _saved_outputs(c, _saved_with_sum_operands(c)),
                    _explain_sum_operands),
            Mistake("intermediates-saved",
                    lambda c: _saved_outputs(c, _saved_intermediates(c)),
                    _explain_intermediates),
            Mistake("exp-operand-saved",
                    lambda c: _saved_outputs(c, _saved_exp_operand(c)),
                    _explain_exp_operand),
        ),
    ),
    Exercise(
        id="04.derive", notebook="04_reverse_mode", points=3, name="derive",
        title="A recursive derive() on an expression tree", checker=Derive(),
        hint="derive hands the adjoint of a node (the seed) down to its children by the "
             "chain rule: each child receives the seed times the local partial derivative "
             "of the node with respect to that child, and the variables at the leaves add "
             "up what arrives along every path. Work that partial out for each of the four "
             "operations; the notebook worked through the sum and the product, the "
             "difference and the sine are yours.",
        more_hints=(
            "The local partials, one per child: a + b has 1 and 1; a * b has, for each "
            "factor, the value of the OTHER one (from evaluate()); a - b has 1 for a and "
            "-1 for b; sin(a) has the cosine of the child's value (math.cos), taken at "
            "the child a, not at the node sin(a). A Variable adds the seed to "
            "adjoints[name], starting from 0.0.",
            "Outline: one branch per node type, chosen by isinstance (Variable, Plus, "
            "Minus, Multiply, Sin), and a TypeError for anything else; an operation "
            "calls derive once per child (.a and .b; a Sin has .a alone), each time with "
            "the seed times that child's partial; the Variable branch adds, never "
            "assigns, so a variable used several times receives the sum of all its "
            "contributions. For w = x * y - sin(x + y) at (2, 3) the sum for x is "
            "3 from the product and -cos(5) = -0.283662 through the sine: 2.716338.",
        ),
        mistakes=(
            Mistake("adjoint-overwritten",
                    lambda c: _derive_outputs(_arrivals(c), lambda v: v[-1]),
                    _explain_overwritten_adjoint),
            Mistake("own-factor",
                    lambda c: _derive_outputs(_arrivals(c, factor="own"), sum),
                    _explain_own_factor),
            Mistake("seed-dropped-at-product",
                    lambda c: _derive_outputs(_arrivals(c, chain=False), sum),
                    _explain_seed_dropped),
            Mistake("minus-as-plus",
                    lambda c: _derive_outputs(_arrivals(c, minus="plus"), sum),
                    _explain_minus_as_plus),
            Mistake("sin-value-not-derivative",
                    lambda c: _derive_outputs(_arrivals(c, sine="sin"), sum),
                    _explain_sin_value),
            Mistake("sin-at-wrong-point",
                    lambda c: _derive_outputs(_arrivals(c, sine="output"), sum),
                    _explain_sin_wrong_point),
        ),
    ),
)
