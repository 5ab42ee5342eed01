"""Exercises of notebook 03, forward mode: tangents and seeds."""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import SHAPES, Checker, WrongOutput, as_floats, number, unpack
from course.exercise import Exercise, Mistake
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


# ---------------------------------------------------------------------------------
# Known mistakes: the outputs each one produces on a case, and its feedback
# ---------------------------------------------------------------------------------

def _arrays(case: dict, *names: str) -> tuple[np.ndarray, ...]:
    return tuple(np.asarray(case[n], float) for n in names)


# -- 03.sin_tangent -------------------------------------------------------------------

def _sin_outputs(tangent: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable:
    """The outputs when the value is right and the tangent is ``tangent(x, x_dot)``."""
    def wrong(case: dict) -> dict:
        x, x_dot = _arrays(case, "x", "x_dot")
        return {"y": np.sin(x), "y_dot": np.asarray(tangent(x, x_dot), float) + 0 * x_dot}
    return wrong


def _sin_explain(what: str, tangent: Callable) -> Callable[[dict], str]:
    def explain(case: dict) -> str:
        x, x_dot = _arrays(case, "x", "x_dot")
        return (f"{what}. At x = {fmt(x)} with x_dot = {fmt(x_dot)} the tangent is "
                f"cos(x) * x_dot = {fmt(np.cos(x) * x_dot)}, not {fmt(tangent(x, x_dot))}")
    return explain


def _sin_mistake(code: str, what: str, tangent: Callable) -> Mistake:
    return Mistake(code, _sin_outputs(tangent), _sin_explain(what, tangent))


SIN_MISTAKES = (
    _sin_mistake("seed-dropped",
                 "the local derivative cos(x) alone is the tangent only for the seed "
                 "x_dot = 1; the input's tangent multiplies it",
                 lambda x, x_dot: np.cos(x)),
    _sin_mistake("value-for-tangent",
                 "the chain rule multiplies cos(x) by the input's tangent x_dot, not by its "
                 "value x",
                 lambda x, x_dot: np.cos(x) * x),
    _sin_mistake("sin-of-tangent",
                 "a tangent is not pushed through the function itself: the tangent of "
                 "sin(x) is the local derivative times x_dot, not sin(x_dot)",
                 lambda x, x_dot: np.sin(x_dot)),
    _sin_mistake("cos-rule",
                 "the derivative of sin is +cos(x); -sin(x) is the derivative of cos",
                 lambda x, x_dot: -np.sin(x) * x_dot),
)


# -- 03.div_tangent -------------------------------------------------------------------

def _div_mistake(code: str, what: str, tangent: Callable) -> Mistake:
    """``tangent(x, x_dot, y, y_dot)``: the wrong z_dot; z itself is right."""
    def wrong(case: dict) -> dict:
        x, x_dot, y, y_dot = _arrays(case, "x", "x_dot", "y", "y_dot")
        return {"z": x / y, "z_dot": tangent(x, x_dot, y, y_dot)}

    def explain(case: dict) -> str:
        x, x_dot, y, y_dot = _arrays(case, "x", "x_dot", "y", "y_dot")
        right = x_dot / y - x * y_dot / (y * y)
        return (f"{what}. At x = {fmt(x)}, y = {fmt(y)} with x_dot = {fmt(x_dot)}, "
                f"y_dot = {fmt(y_dot)} the tangent should be {fmt(right)}, not "
                f"{fmt(tangent(x, x_dot, y, y_dot))}")
    return Mistake(code, wrong, explain)


DIV_MISTAKES = (
    _div_mistake("quotient-sign",
                 "the partial of x / y with respect to y is -x/y**2, with a minus sign",
                 lambda x, x_dot, y, y_dot: x_dot / y + x * y_dot / (y * y)),
    _div_mistake("quotient-no-square",
                 "the partial of x / y with respect to y is -x/y**2: y squared, not y",
                 lambda x, x_dot, y, y_dot: x_dot / y - x * y_dot / y),
    _div_mistake("y-tangent-dropped",
                 "the denominator y moves too: its tangent y_dot times dz/dy = -x/y**2 is a second "
                 "contribution, added to x_dot / y",
                 lambda x, x_dot, y, y_dot: x_dot / y + 0 * y_dot),
    _div_mistake("numerator-reversed",
                 "the quotient rule's numerator is x_dot*y - x*y_dot, in that order; "
                 "reversed, the whole tangent changes sign",
                 lambda x, x_dot, y, y_dot: (x * y_dot - x_dot * y) / (y * y)),
)


# -- 03.forward_sweep -----------------------------------------------------------------

def _gap_sweep(case: dict, product: str = "both", minus: bool = True,
               chain: bool = True) -> dict:
    """f and f_dot of the squared gap with one rule of the sweep changed."""
    x1, x2, x3, x4 = (np.asarray(v, float) for v in case["x"])
    d1, d2, d3, d4 = (np.asarray(v, float) for v in case["x_dot"])
    prod_dot = {"both": d1 * x2 + x1 * d2, "first": d1 * x2, "tangents": d1 * d2}[product]
    gap = x1 * x2 - (x3 + x4)
    gap_dot = prod_dot - (d3 + d4) if minus else prod_dot + (d3 + d4)
    return {"f": gap ** 2, "f_dot": 2 * gap * gap_dot if chain else 2 * gap_dot}


def _sweep_mistake(code: str, what: str, **change: Any) -> Mistake:
    def explain(case: dict) -> str:
        return (f"{what}. At x = {fmt(case['x'])} with the seed x_dot = {fmt(case['x_dot'])} "
                f"f_dot should be {fmt(_gap_sweep(case)['f_dot'])}, not "
                f"{fmt(_gap_sweep(case, **change)['f_dot'])}")
    return Mistake(code, lambda case: _gap_sweep(case, **change), explain)


SWEEP_MISTAKES = (
    _sweep_mistake("difference-sign",
                   "since c = a - b, b's tangent enters c_dot with a minus sign: "
                   "c_dot = a_dot - b_dot", minus=False),
    _sweep_mistake("product-one-term",
                   "the product rule has a term for each factor, a_dot = x1_dot*x2 + "
                   "x1*x2_dot; with x1_dot*x2 alone the path through x2 is lost",
                   product="first"),
    _sweep_mistake("product-of-tangents",
                   "the tangent of a product is not the product of the tangents: "
                   "a_dot = x1_dot*x2 + x1*x2_dot", product="tangents"),
    _sweep_mistake("square-chain-dropped",
                   "the local derivative of c**2 is 2c, so f_dot = 2*c*c_dot; 2*c_dot "
                   "leaves out the value c", chain=False),
)


# -- 03.choose_seed -------------------------------------------------------------------

def _seed_mistake(code: str, key: str, gives: Callable[[dict], float], seed: str,
                  why: str) -> Mistake:
    """Question ``key`` answered with a wrong ``seed``, whose derivative is ``gives(grad)``;
    every other question answered right."""
    question = SEED_QUESTIONS[key]

    def wrong(case: dict) -> dict:
        out = ChooseSeed().expected(case)
        out[question.label] = np.asarray(gives(gradient(question, case[question.at])), float)
        return out

    def explain(case: dict) -> str:
        point = case[question.at]
        grad = gradient(question, point)
        inputs = ", ".join(question.inputs)
        values = ", ".join(fmt(v) for v in point)
        return (f"the seed {seed} for question {question.label!r} {why}. At ({inputs}) = "
                f"({values}) it gives {fmt(gives(grad))}, but the question asks for "
                f"{fmt(question.wanted(grad))}")
    return Mistake(code, wrong, explain)


SEED_MISTAKES = (
    _seed_mistake("seed-on-wrong-input", "a", lambda g: g["x1"], "(1, 0)",
                  "moves x1, so forward mode returns dz/dx1; the 1 goes on the input you "
                  "differentiate by"),
    _seed_mistake("seed-all-ones", "a", lambda g: g["x1"] + g["x2"], "(1, 1)",
                  "moves every input at once and returns the sum of the partials; the 1 of "
                  "reverse mode's output seed does not mean 1 on every input of forward "
                  "mode"),
    _seed_mistake("direction-not-normalised", "c",
                  lambda g: 5 * g["x1"] + 12 * g["x2"], "(5, 12)",
                  "has length 13, so the derivative comes out 13 times too large; divide "
                  "the direction by its length"),
    _seed_mistake("rate-sign-dropped", "d", lambda g: 2 * g["x1"] + g["x2"], "(2, 1, 0, 0)",
                  "moves x2 up; x2 going down at rate 1 is a tangent of -1"),
    _seed_mistake("difference-as-sum", "e", lambda g: g["x1"] + g["x3"], "(1, 0, 1, 0)",
                  "adds df/dx3 instead of subtracting it; a coefficient of -1 is a seed "
                  "entry of -1"),
)


EXERCISES = (
    Exercise(
        id="03.sin_tangent", notebook="03_forward_mode", points=2, name="sin_jvp",
        title="The forward rule of sin", checker=SinTangent(),
        hint="Follow the exponential's example in section 1: return sin(x) together with its "
             "tangent, the local derivative of sin at x times the input's tangent x_dot (the "
             "seed).",
        more_hints=(
            "The local derivative of sin is cos, so by the chain rule the tangent is cos(x) "
            "times x_dot: x_dot, not x, and cos, not -sin.",
            "Outline: one NumPy line for the value, one for the tangent (np.cos of the "
            "value's input times the seed), returned as the pair (y, y_dot); elementwise, "
            "so arrays work unchanged. At x = 2 with x_dot = 1: y_dot = cos 2 = -0.416147.",
        ),
        mistakes=SIN_MISTAKES,
    ),
    Exercise(
        id="03.div_tangent", notebook="03_forward_mode", points=2, name="div_jvp",
        title="The forward rule of a quotient", checker=DivTangent(),
        hint="z = x / y has two inputs and both may move: as in the product's example in "
             "section 1, its tangent has one contribution per input, that input's tangent "
             "times the partial derivative of z with respect to it.",
        more_hints=(
            "The local partials are dz/dx = 1/y and dz/dy = -x/y**2: the minus sign and the "
            "square both matter.",
            "Outline: compute z; add x_dot times dz/dx and y_dot times dz/dy; return "
            "(z, z_dot). Elementwise, so arrays work unchanged. Check by hand: at x = 3, "
            "y = 2 with x_dot = 0, y_dot = 1 the tangent is -0.75.",
        ),
        mistakes=DIV_MISTAKES,
    ),
    Exercise(
        id="03.forward_sweep", notebook="03_forward_mode", points=3, name="forward_sweep",
        title="A forward sweep by hand", checker=ForwardSweep(),
        hint="Give every line of the primal trace its own tangent line, right after it and in "
             "the same order: each tangent combines the tangents already computed with the "
             "local partials of its operation.",
        more_hints=(
            "The rules: the product rule for a = x1 * x2 (one term per factor); tangents "
            "add and subtract like their values for b = x3 + x4 and c = a - b; the chain "
            "rule for f = c**2, whose local derivative is 2c.",
            "Outline: a and its tangent, b and its tangent, c and its tangent, f and its "
            "tangent; return (f, f_dot). At (1.5, -2, 0.5, 3) with seed (1, 0, 0, 0): "
            "c = -6.5, f = 42.25, f_dot = 26.",
        ),
        mistakes=SWEEP_MISTAKES,
    ),
    Exercise(
        id="03.choose_seed", notebook="03_forward_mode", points=3, name="choose_seeds",
        title="Choosing seeds", checker=ChooseSeed(),
        hint="A seed says how fast each input moves, one number per input in the order of "
             "the function's arguments; forward mode returns the rate of change of the "
             "output under that motion.",
        more_hints=(
            "Forward mode returns sum_i seed_i * df/dx_i. A partial derivative: 1 on its "
            "input, 0 elsewhere. A direction: its components, made a unit vector when the "
            "question asks for one. A combination of partials: its coefficients.",
            "Outline: write each question's derivative as sum_i s_i * df/dx_i and read off "
            "the s_i, with signs (an input going down has a negative rate) and lengths (a "
            "unit vector has length 1); return a dict with one tuple per question, 'a' to "
            "'e'.",
        ),
        mistakes=SEED_MISTAKES,
    ),
)
