"""Exercises of notebook 03, forward mode: tangents and seeds."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import SHAPES, Checker, WrongOutput, as_floats, number, unpack
from course.exercise import Exercise
from course.result import fmt, safe_repr


class SinTangent(Checker):
    r"""``sin_jvp(x, x_dot) -> (y, y_dot)`` with :math:`\dot y = \cos(x)\,\dot x`."""

    fixed = ({"x": 2.0, "x_dot": 1.0}, {"x": 0.5, "x_dot": -2.0})

    def random_case(self, rng, k):
        shape = SHAPES[k % len(SHAPES)]
        return {"x": number(rng, -3, 3, shape), "x_dot": number(rng, -2, 2, shape)}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return unpack(fn(c["x"], c["x_dot"]), ("y", "y_dot"), fname)

    def expected(self, case):
        y, y_dot = ad.jvp(ad.sin, (case["x"],), (case["x_dot"],))
        return {"y": np.asarray(y, float), "y_dot": np.asarray(y_dot, float)}


class DivTangent(Checker):
    r"""``div_jvp(x, x_dot, y, y_dot) -> (z, z_dot)`` for :math:`z = x / y`.

    :math:`\dot z = \dot x / y - x\,\dot y / y^2`: both inputs move, so both terms count.
    """

    fixed = ({"x": 1.0, "x_dot": 1.0, "y": 2.0, "y_dot": 0.0},   # dz/dx = 1/y = 0.5
             {"x": 3.0, "x_dot": 0.0, "y": 2.0, "y_dot": 1.0},   # dz/dy = -x/y^2 = -0.75
             {"x": np.array([1.0, -2.0, 4.0]), "x_dot": np.array([0.5, 1.0, -1.0]),
              "y": np.array([2.0, 0.5, -4.0]), "y_dot": np.array([1.0, -2.0, 0.25])})

    def random_case(self, rng, k):
        shape = SHAPES[k % len(SHAPES)]
        # y away from zero on both sides: the quotient rule divides by y squared
        y = np.asarray(number(rng, 0.5, 3, shape)) * np.where(rng.random(shape) < 0.5, -1, 1)
        return {"x": number(rng, -3, 3, shape), "x_dot": number(rng, -2, 2, shape),
                "y": float(y) if shape == () else y, "y_dot": number(rng, -2, 2, shape)}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return unpack(fn(c["x"], c["x_dot"], c["y"], c["y_dot"]), ("z", "z_dot"), fname)

    def expected(self, case):
        z, z_dot = ad.jvp(ad.div, (case["x"], case["y"]), (case["x_dot"], case["y_dot"]))
        return {"z": np.asarray(z, float), "z_dot": np.asarray(z_dot, float)}


def squared_gap(x1: Any, x2: Any, x3: Any, x4: Any) -> Any:
    """The worked example f = (x1 x2 - (x3 + x4))^2."""
    return (x1 * x2 - (x3 + x4)) ** 2


def z_example(x1: Any, x2: Any) -> Any:
    """The worked example z = x1 x2 + sin(x1)."""
    return x1 * x2 + ad.sin(x1)


GAP_POINT = (1.5, -2.0, 0.5, 3.0)


class ForwardSweep(Checker):
    r"""``forward_sweep(x, x_dot) -> (f, f_dot)`` for :math:`f = (x_1x_2 - (x_3+x_4))^2`."""

    fixed = (
        {"x": GAP_POINT, "x_dot": (1.0, 0.0, 0.0, 0.0)},    # df/dx1 = 2c x2 = 26
        {"x": GAP_POINT, "x_dot": (0.0, 0.0, 1.0, 0.0)},    # df/dx3 = -2c = 13
        {"x": GAP_POINT, "x_dot": (0.5, -1.0, 2.0, 0.25)},  # a directional derivative
    )

    def random_case(self, rng, k):
        shape = SHAPES[k % len(SHAPES)]
        x = tuple(number(rng, -2.5, 2.5, shape) for _ in range(4))
        if k % 3 == 0:  # a one-hot seed: one partial derivative
            hot = int(rng.integers(0, 4))
            x_dot = tuple(float(i == hot) if shape == () else np.full(shape, float(i == hot))
                          for i in range(4))
        else:
            x_dot = tuple(number(rng, -2, 2, shape) for _ in range(4))
        return {"x": x, "x_dot": x_dot}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return unpack(fn(c["x"], c["x_dot"]), ("f", "f_dot"), fname)

    def expected(self, case):
        f, f_dot = ad.jvp(squared_gap, case["x"], case["x_dot"])
        return {"f": np.asarray(f, float), "f_dot": np.asarray(f_dot, float)}


# The questions of exercise 03.choose_seed, and nothing more: the function each seed is
# for, and what its forward pass should return, written as the question states it. The
# wanted derivative is computed at check time from adlab's gradient (reverse mode, so not
# the way the learner's seed is used); no seed is stored. A learner's seed is judged only
# by what ad.jvp makes of it, so every correct seed passes.


def towards(target: tuple[float, ...]) -> Callable[[dict], float]:
    """The directional derivative along the unit vector pointing towards ``target``."""
    def along(grad: dict) -> float:
        direction = np.asarray(target, float)
        return float(np.dot(list(grad.values()), direction / np.linalg.norm(direction)))
    return along


@dataclass(frozen=True)
class SeedQuestion:
    """One question: ``label`` names the derivative in feedback, ``wanted`` computes it
    from the function's gradient, given as ``{input name: partial derivative}`` in
    argument order."""

    function: Callable
    inputs: tuple[str, ...]
    at: str                                   # the case key of the point: "z_at" or "f_at"
    label: str
    wanted: Callable[[dict], float]


Z_INPUTS, F_INPUTS = ("x1", "x2"), ("x1", "x2", "x3", "x4")

SEED_QUESTIONS = {
    "a": SeedQuestion(z_example, Z_INPUTS, "z_at", "a: dz/dx2", lambda g: g["x2"]),
    "b": SeedQuestion(squared_gap, F_INPUTS, "f_at", "b: df/dx4", lambda g: g["x4"]),
    "c": SeedQuestion(z_example, Z_INPUTS, "z_at", "c: z towards (5, 12)",
                      towards((5.0, 12.0))),
    "d": SeedQuestion(squared_gap, F_INPUTS, "f_at", "d: f, x1 up 2, x2 down 1",
                      lambda g: 2 * g["x1"] - g["x2"]),
    "e": SeedQuestion(squared_gap, F_INPUTS, "f_at", "e: df/dx1 - df/dx3",
                      lambda g: g["x1"] - g["x3"]),
}


def gradient(question: SeedQuestion, point: tuple) -> dict[str, float]:
    """Every partial derivative of the question's function at point, by name (reverse mode)."""
    partials = ad.grad(question.function, argnums=tuple(range(len(point))))(*point)
    return {name: float(p) for name, p in zip(question.inputs, partials, strict=True)}


class ChooseSeed(Checker):
    """``choose_seeds() -> {"a": seed, ...}``: each seed is run through ``ad.jvp``.

    A seed is right when forward mode with it gives the wanted derivative, which is
    computed from the gradient as its question states, at the worked examples' points
    and at random ones; so any correct seed passes (for f, df/dx3 = df/dx4 everywhere)
    and swapped seeds fail.
    """

    fixed = ({"z_at": (2.0, 3.0), "f_at": GAP_POINT},)

    def random_case(self, rng, k):
        return {"z_at": tuple(number(rng, -3, 3) for _ in range(2)),
                "f_at": tuple(number(rng, -2.5, 2.5) for _ in range(4))}

    def call(self, fn, case, fname):
        seeds = fn()
        if not isinstance(seeds, Mapping):
            raise WrongOutput(f"{fname}() should return a dict of seeds, "
                              "{'a': (...), 'b': (...), ...}", safe_repr(seeds))
        missing = [k for k in SEED_QUESTIONS if k not in seeds]
        extra = [k for k in seeds if k not in SEED_QUESTIONS]
        if missing or extra:
            what = (f"the seed for {missing[0]!r} is missing" if missing
                    else f"there is no question {extra[0]!r}")
            raise WrongOutput(f"{fname}() should return one seed for each question a to e: "
                              f"{what}", safe_repr(sorted(map(str, seeds))))
        out = {}
        for key, q in SEED_QUESTIONS.items():
            seed = as_floats(seeds[key], f"the seed {key!r}")
            if seed.shape != (len(q.inputs),):
                raise WrongOutput(f"the seed {key!r} should hold {len(q.inputs)} numbers, one "
                                  f"per input ({', '.join(q.inputs)}), in that order",
                                  f"{key!r}: {safe_repr(seeds[key])}")
            _, derivative = ad.jvp(q.function, case[q.at], tuple(float(s) for s in seed))
            out[q.label] = derivative
        return out

    def expected(self, case):
        return {q.label: np.asarray(q.wanted(gradient(q, case[q.at])), float)
                for q in SEED_QUESTIONS.values()}

    def describe(self, case, fname):
        z_at = ", ".join(fmt(v) for v in case["z_at"])
        f_at = ", ".join(fmt(v) for v in case["f_at"])
        return (f"{fname}(): each seed run through forward mode (ad.jvp), z at (x1, x2) = "
                f"({z_at}), f at (x1, x2, x3, x4) = ({f_at}); the numbers are the "
                "derivatives your seeds give")


EXERCISES = (
    Exercise(
        id="03.sin_tangent", notebook="03_forward_mode", points=2, name="sin_jvp",
        title="The forward rule of sin", checker=SinTangent(),
        hint="Forward mode carries a tangent with every value: y = sin(x) and "
             "y_dot = cos(x) * x_dot. The input tangent x_dot (the seed) multiplies the "
             "local derivative cos(x). Use np.sin and np.cos so that arrays work too.",
    ),
    Exercise(
        id="03.div_tangent", notebook="03_forward_mode", points=2, name="div_jvp",
        title="The forward rule of a quotient", checker=DivTangent(),
        hint="z = x / y has two local partials, dz/dx = 1/y and dz/dy = -x/y**2, and "
             "both inputs may move: the tangent has one term per input, each input's "
             "tangent times its partial (the minus sign and the square both matter). "
             "Elementwise, so arrays work unchanged.",
    ),
    Exercise(
        id="03.forward_sweep", notebook="03_forward_mode", points=3, name="forward_sweep",
        title="A forward sweep by hand", checker=ForwardSweep(),
        hint="Give every line of the primal trace its tangent line, in the same order:"
             " the product rule for the product, the sum or difference of the tangents"
             " for a sum or difference, and the chain rule for the square (its local "
             "derivative is 2c). At (1.5, -2, 0.5, 3) with seed (1, 0, 0, 0): f = "
             "42.25, f_dot = 26.",
    ),
    Exercise(
        id="03.choose_seed", notebook="03_forward_mode", points=3, name="choose_seeds",
        title="Choosing seeds", checker=ChooseSeed(),
        hint="The seed is how fast each input moves, in the order of the function's "
             "arguments, and forward mode returns sum_i seed_i * df/dx_i. A partial "
             "derivative: 1 on that input, 0 elsewhere. A direction: the direction's "
             "components (a unit vector if asked for one). A sum or difference of "
             "partials: the coefficients.",
    ),
)
