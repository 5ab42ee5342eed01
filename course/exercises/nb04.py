"""Exercises of notebook 04, reverse mode: adjoints and stored intermediates."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import SHAPES, Checker, WrongOutput, number, unpack
from course.exercise import Exercise, Mistake
from course.expr import Variable, variables
from course.result import fmt, safe_repr


class MulVjp(Checker):
    r"""``mul_vjp(g, x, y) -> (x_bar, y_bar)`` with :math:`\bar x = g\,y,\ \bar y = g\,x`."""

    fixed = ({"g": 1.0, "x": 2.0, "y": 3.0},
             {"g": np.array([0.5, -1.0, 2.0]), "x": np.array([1.0, 2.0, 3.0]),
              "y": np.array([4.0, 5.0, 6.0])})

    def random_case(self, rng, k):
        shape = SHAPES[(k + 3) % len(SHAPES)]  # a square matrix early: catches transposes
        return {name: number(rng, -3, 3, shape) for name in ("g", "x", "y")}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return unpack(fn(c["g"], c["x"], c["y"]), ("x_bar", "y_bar"), fname)

    def expected(self, case):
        _, pullback = ad.vjp(ad.mul, case["x"], case["y"])
        x_bar, y_bar = pullback(case["g"])
        return {"x_bar": np.asarray(x_bar, float), "y_bar": np.asarray(y_bar, float)}


def shared(x: Any, y: Any) -> Any:
    """The worked example z = x (x + y) + y y: x is used twice, y twice."""
    return x * (x + y) + y * y


class SharedAdjoint(Checker):
    r"""``reverse_sweep_shared(x, y) -> (z, x_bar, y_bar)`` for :math:`z = x(x+y) + y^2`."""

    fixed = ({"x": 2.0, "y": 3.0}, {"x": -1.5, "y": 0.5})

    def random_case(self, rng, k):
        shape = SHAPES[k % len(SHAPES)]
        return {"x": number(rng, -3, 3, shape), "y": number(rng, -3, 3, shape)}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return unpack(fn(c["x"], c["y"]), ("z", "x_bar", "y_bar"), fname)

    def expected(self, case):
        z, pullback = ad.vjp(shared, case["x"], case["y"])
        x_bar, y_bar = pullback(np.ones_like(z))  # seed z_bar = 1 for every entry
        return {"z": np.asarray(z, float), "x_bar": np.asarray(x_bar, float),
                "y_bar": np.asarray(y_bar, float)}


def build(spec: dict, leaf: Any) -> Any:
    """The expression of a tree spec, with ``leaf(name)`` for each variable.

    A spec lists nodes in order: ``["var", name]``, ``["plus", i, j]`` or ``["mul", i,
    j]`` (i, j: earlier nodes); the last node is the root. A node used twice is one
    shared object, so the same spec gives a course.expr tree or an adlab graph.
    """
    nodes: list = []
    for node in spec["nodes"]:
        if node[0] == "var":
            nodes.append(leaf(node[1]))
        elif node[0] == "plus":
            nodes.append(nodes[node[1]] + nodes[node[2]])
        else:
            nodes.append(nodes[node[1]] * nodes[node[2]])
    return nodes[-1]


def expression(spec: dict) -> Any:
    """The spec as a course.expr tree (one Variable object per name)."""
    leaves = {name: Variable(name, value) for name, value in spec["values"].items()}
    return build(spec, leaves.__getitem__)


class Derive(Checker):
    """``derive(expr, seed, adjoints)`` on random trees, against adlab's gradient."""

    fixed = (
        {"values": {"x": 2.0, "y": 3.0}, "seed": 1.0,  # x * (x + y) + y * y
         "nodes": [["var", "x"], ["var", "y"], ["plus", 0, 1], ["mul", 0, 2],
                   ["mul", 1, 1], ["plus", 3, 4]]},
        {"values": {"x": 1.5}, "seed": 2.0,  # (x * x) * x: x used three times
         "nodes": [["var", "x"], ["mul", 0, 0], ["mul", 1, 0]]},
    )

    def random_case(self, rng, k):
        names = ["x", "y", "z"][: 1 + k % 3]
        values = {n: number(rng, -2.5, 2.5) for n in names}
        nodes: list = [["var", n] for n in names]
        for _ in range(int(rng.integers(2, 6))):
            # the newest node is always used, so every operation reaches the root;
            # the other operand may be any earlier node: shared variables and subtrees
            op = "plus" if rng.random() < 0.5 else "mul"
            nodes.append([op, len(nodes) - 1, int(rng.integers(0, len(nodes)))])
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
        grads = ad.grad(lambda vals: build(case, vals.__getitem__))(dict(case["values"]))
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


EXERCISES = (
    Exercise(
        id="04.mul_vjp", notebook="04_reverse_mode", points=2, name="mul_vjp",
        title="The reverse rule of a product", checker=MulVjp(),
        hint="Reverse mode pulls the output's adjoint g back to each input through the "
             "local partial derivative of z = x * y with respect to that input.",
        more_hints=(
            "The local partials are dz/dx = y and dz/dy = x: each input's adjoint is g "
            "times the partial with respect to that input.",
            "Outline: two elementwise products, one per input, returned in the order "
            "(x_bar, y_bar); no transposes and no sums, since z has the shape of x and y.",
        ),
        mistakes=(
            Mistake("swapped-partials",
                    lambda c: {"x_bar": c["g"] * c["x"], "y_bar": c["g"] * c["y"]},
                    lambda c: "each adjoint got its own input's value, but the partial of "
                              "x * y with respect to x is the OTHER factor, y: here x_bar "
                              f"should be g * y = {fmt(c['g'] * c['y'])}, not g * x = "
                              f"{fmt(c['g'] * c['x'])}"),
            Mistake("seed-dropped",
                    lambda c: {"x_bar": np.asarray(c["y"], float) + 0 * c["g"],
                               "y_bar": np.asarray(c["x"], float) + 0 * c["g"]},
                    lambda c: "you returned the local partials alone; the adjoint that "
                              f"arrives from z, g = {fmt(c['g'])}, multiplies each of them "
                              "(it is 1 only when z is the final output)"),
        ),
    ),
    Exercise(
        id="04.shared_adjoint", notebook="04_reverse_mode", points=2,
        name="reverse_sweep_shared", title="Summing the adjoint of a variable used twice",
        checker=SharedAdjoint(),
        hint="Write the forward sweep (a = x + y, b = x * a, c = y * y, z = b + c), then "
             "walk it backwards from z_bar = 1. x is used twice (in a and in b) and so is "
             "y (in a and in c): every use contributes, so add the contributions "
             "(x_bar = x_bar + ...) instead of overwriting. At (2, 3): z = 19, x_bar = 7, "
             "y_bar = 8.",
    ),
    Exercise(
        id="04.saved_values", notebook="04_reverse_mode", points=2, name="saved_values",
        title="Which values the reverse sweep reads", checker=SavedValues(),
        hint="Go through the steps and ask, for each, what its local partials read: "
             "add and sub read nothing (their partials are 1 and -1), mul reads both "
             "operands, sin and square read their operand, exp reads its own result. "
             "Collect those names; a value nobody reads is not stored. For "
             "f = (x1*x2 - (x3+x4))**2 that is {'x1', 'x2', 'c'}.",
    ),
    Exercise(
        id="04.derive", notebook="04_reverse_mode", points=3, name="derive",
        title="A recursive derive() on an expression tree", checker=Derive(),
        hint="At a Plus, pass the seed unchanged to both children; at a Multiply, pass "
             "seed * (the OTHER child's value) to each child; at a Variable, add the seed "
             "to adjoints[name] (start from adjoints.get(name, 0.0)): a variable used "
             "several times receives the sum of all its contributions.",
    ),
)
