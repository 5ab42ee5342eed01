"""Exercises of notebook 04, reverse mode: adjoints and stored intermediates."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import SHAPES, Checker, WrongOutput, number, unpack
from course.exercise import Exercise
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


EXERCISES = (
    Exercise(
        id="04.mul_vjp", notebook="04_reverse_mode", points=2, name="mul_vjp",
        title="The reverse rule of a product", checker=MulVjp(),
        hint="For z = x * y the local partials are dz/dx = y and dz/dy = x. Each input's "
             "adjoint is the output's adjoint g times the partial with respect to that "
             "input: x_bar = g * y and y_bar = g * x, elementwise (no transposes).",
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
        id="04.derive", notebook="04_reverse_mode", points=3, name="derive",
        title="A recursive derive() on an expression tree", checker=Derive(),
        hint="At a Plus, pass the seed unchanged to both children; at a Multiply, pass "
             "seed * (the OTHER child's value) to each child; at a Variable, add the seed "
             "to adjoints[name] (start from adjoints.get(name, 0.0)): a variable used "
             "several times receives the sum of all its contributions.",
    ),
)
