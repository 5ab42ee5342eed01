r"""Checkers: seeded cases, the learner's outputs, adlab's expected outputs, a comparison.

A checker splits checking into the part that runs learner code and the part that
judges it, so that the judging never runs where learner code has been:

* :meth:`Checker.cases` draws the inputs (seeded, so a learner sees the same cases
  every time; grading draws more of them);
* :meth:`Checker.call` runs the learner's function on one case and returns its
  outputs by name (this runs in the forked child);
* :meth:`Checker.expected` computes the right outputs with adlab (in the parent);
* :func:`compare` converts both to float arrays and compares shapes and values.

Learner outputs are converted with ``np.asarray(..., dtype=float)`` before anything
compares them, so an object whose ``__eq__`` always says True is simply not a number.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

import adlab as ad
from course.expr import Variable, variables
from course.result import fmt, safe_repr

Case = dict[str, Any]
Outputs = dict[str, Any]
MAX_NUMBERS = 100_000  # per output; far more than any case needs
RTOL, ATOL = 1e-6, 1e-9


class WrongOutput(Exception):
    """The learner's function returned something of the wrong kind.

    ``args[0]`` says what was wrong, ``got`` shows what came back instead.
    """

    def __init__(self, message: str, got: str = ""):
        super().__init__(message)
        self.got = got


def as_floats(value: Any, what: str) -> np.ndarray:
    """``value`` as a float array, or :class:`WrongOutput` saying what it is instead."""
    shown = f"{what} = {safe_repr(value)}"
    if isinstance(value, (str, bytes)) or value is None:
        raise WrongOutput(f"{what} is not a number or an array of numbers", shown)
    try:
        a = np.asarray(value)
        if a.dtype.kind not in "iufO":
            raise TypeError
        a = a.astype(float)
    except Exception:
        raise WrongOutput(f"{what} is not a number or an array of numbers", shown) from None
    if a.size > MAX_NUMBERS:
        raise WrongOutput(f"{what} has {a.size} numbers, far more than expected",
                          f"{what} with shape {a.shape}")
    return a


def unpack(result: Any, names: tuple[str, ...], fname: str) -> Outputs:
    """Split a returned tuple into named outputs, with a clear message when it is not one."""
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        wanted = ", ".join(names)
        raise WrongOutput(f"{fname} should return {len(names)} values, as in "
                          f"`return {wanted}`", safe_repr(result))
    return dict(zip(names, result))


def encode(outputs: Outputs) -> dict:
    """Learner outputs as JSON-able data: ``{name: {"shape": [...], "data": [...]}}``."""
    out = {}
    for name, value in outputs.items():
        a = as_floats(value, name)
        out[name] = {"shape": list(a.shape), "data": a.ravel().tolist()}
    return out


def decode(data: dict) -> dict[str, np.ndarray]:
    return {name: np.asarray(v["data"], dtype=float).reshape(v["shape"])
            for name, v in data.items()}


def compare(expected: dict[str, np.ndarray], got: dict[str, np.ndarray]) -> str | None:
    """None if every output matches, else a sentence saying what differs."""
    for name in got:
        if name not in expected:
            return f"{name} should not be there"
    for name, want in expected.items():
        if name not in got:
            return f"{name} is missing"
        have = got[name]
        if have.shape != want.shape:
            return f"{name} has shape {have.shape} but should have shape {want.shape}"
        close = np.isclose(have, want, rtol=RTOL, atol=ATOL)
        if not close.all():
            if want.ndim == 0:
                return f"{name} is wrong"
            index = tuple(int(i) for i in np.argwhere(~close)[0])
            return (f"{name} is wrong at index {index}: expected {fmt(want[index])}, "
                    f"got {fmt(have[index])}")
    return None


def show(outputs: dict[str, np.ndarray]) -> str:
    return ", ".join(f"{name} = {fmt(v)}" for name, v in outputs.items())


class Checker:
    """Base class. Subclasses list ``fixed`` cases and draw random ones."""

    fixed: tuple[Case, ...] = ()

    def cases(self, rng: np.random.Generator, n: int) -> list[Case]:
        """``n`` cases: the fixed ones (worked examples) first, then random ones."""
        out = [dict(c) for c in self.fixed[:n]]
        out += [self.random_case(rng, k) for k in range(n - len(out))]
        return out

    def random_case(self, rng: np.random.Generator, k: int) -> Case:
        raise NotImplementedError

    def call(self, fn: Any, case: Case, fname: str) -> Outputs:
        """Run the learner's function on a copy of the case; return outputs by name."""
        raise NotImplementedError

    def expected(self, case: Case) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def describe(self, case: Case, fname: str) -> str:
        """The call, as the learner would write it."""
        return f"{fname}({', '.join(f'{k}={fmt(v)}' for k, v in case.items())})"


def _number(rng: np.random.Generator, low: float, high: float, shape: tuple = ()) -> Any:
    """Random values with two decimals (readable in feedback), kept away from zero."""
    v = np.round(rng.uniform(low, high, size=shape), 2)
    v = np.where(np.abs(v) < 0.1, 0.5, v)
    return float(v) if shape == () else v


_SHAPES = [(), (3,), (2, 3), (3, 3), (4,)]


class SinTangent(Checker):
    r"""``sin_jvp(x, x_dot) -> (y, y_dot)`` with :math:`\dot y = \cos(x)\,\dot x`."""

    fixed = ({"x": 2.0, "x_dot": 1.0}, {"x": 0.5, "x_dot": -2.0})

    def random_case(self, rng, k):
        shape = _SHAPES[k % len(_SHAPES)]
        return {"x": _number(rng, -3, 3, shape), "x_dot": _number(rng, -2, 2, shape)}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return unpack(fn(c["x"], c["x_dot"]), ("y", "y_dot"), fname)

    def expected(self, case):
        y, y_dot = ad.jvp(ad.sin, (case["x"],), (case["x_dot"],))
        return {"y": np.asarray(y, float), "y_dot": np.asarray(y_dot, float)}


class MulVjp(Checker):
    r"""``mul_vjp(g, x, y) -> (x_bar, y_bar)`` with :math:`\bar x = g\,y,\ \bar y = g\,x`."""

    fixed = ({"g": 1.0, "x": 2.0, "y": 3.0},
             {"g": np.array([0.5, -1.0, 2.0]), "x": np.array([1.0, 2.0, 3.0]),
              "y": np.array([4.0, 5.0, 6.0])})

    def random_case(self, rng, k):
        shape = _SHAPES[(k + 3) % len(_SHAPES)]  # a square matrix early: catches transposes
        return {name: _number(rng, -3, 3, shape) for name in ("g", "x", "y")}

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
        shape = _SHAPES[k % len(_SHAPES)]
        return {"x": _number(rng, -3, 3, shape), "y": _number(rng, -3, 3, shape)}

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
        values = {n: _number(rng, -2.5, 2.5) for n in names}
        nodes: list = [["var", n] for n in names]
        for _ in range(int(rng.integers(2, 6))):
            # the newest node is always used, so every operation reaches the root;
            # the other operand may be any earlier node: shared variables and subtrees
            op = "plus" if rng.random() < 0.5 else "mul"
            nodes.append([op, len(nodes) - 1, int(rng.integers(0, len(nodes)))])
        seed = 1.0 if k % 2 == 0 else _number(rng, -2, 2)
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
