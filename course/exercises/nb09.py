"""Exercises of notebook 09: higher-order derivatives (Hessians, HVPs, Newton's method)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import Checker, number
from course.exercise import NUMERIC, SYMBOLIC, Exercise, everything_but
from course.provided import Provided, scalar_function
from course.result import fmt

# ---------------------------------------------------------------------------------
# Scalar functions R^n -> R
# ---------------------------------------------------------------------------------

FORMULAS = {
    "worked": "f(x) = x0*x1 + sin(x0)",
    "rosenbrock": "f(x) = sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)",
    "bowl": "f(x) = x @ A @ x / 2 + sum(x**4) / 4 - b @ x   (A positive definite)",
    "softplus": "f(x) = logsumexp(B @ x) + x @ x / 2",
    "wavy": "f(x) = sum(sin(B @ x)) + x @ A @ x / 2 + b @ x**3",
}

# scalar_function(case), the function a case describes, is a builder of course.provided:
# learner code gets it as provided(case), which counts its runs (calls) where the
# learner's code runs; expected() builds it directly.


def provided(case: dict) -> Provided:
    """The case's function, to hand to learner code: ``Provided("scalar_function", ...)``."""
    spec = {k: case[k] for k in ("kind", "A", "B", "b")}
    return Provided("scalar_function", spec, copy_input=True)


def function_case(rng: np.random.Generator, n: int, kind: str) -> dict:
    M = number(rng, -1, 1, (n, n))
    return {"kind": kind, "n": n,
            "A": M @ M.T + np.eye(n) if kind == "bowl" else number(rng, -1, 1, (n, n)),
            "B": number(rng, -1.5, 1.5, (n + 1, n)), "b": number(rng, -1, 1, (n,)),
            "x": number(rng, -1.5, 1.5, (n,))}


def worked_case(x: Any, **more: Any) -> dict:
    return {"kind": "worked", "n": 2, "A": np.zeros((2, 2)), "B": np.zeros((3, 2)),
            "b": np.zeros(2), "x": np.asarray(x, dtype=float), **more}


def describe_function(case: dict) -> str:
    text = FORMULAS[case["kind"]]
    if case["kind"] in ("bowl", "wavy"):
        text += f", A = {fmt(case['A'])}"
    if case["kind"] in ("softplus", "wavy"):
        text += f", B = {fmt(case['B'])}"
    if case["kind"] in ("bowl", "wavy"):
        text += f", b = {fmt(case['b'])}"
    return text


class FunctionChecker(Checker):
    kinds = ("rosenbrock", "wavy", "softplus", "bowl")

    def random_case(self, rng, k):
        n = (2, 3, 4, 3, 5)[k % 5]
        case = function_case(rng, n, self.kinds[k % len(self.kinds)])
        case["v"] = number(rng, -2, 2, (n,))
        return case

    def describe(self, case, fname):
        return (f"{fname}(f, x={fmt(case['x'])}, v={fmt(case['v'])}) with "
                f"{describe_function(case)}")


# ---------------------------------------------------------------------------------
# The exercises
# ---------------------------------------------------------------------------------

class Hvp(FunctionChecker):
    r"""``hvp(f, x, v)``: :math:`\nabla^2 f(x)\,v` in one run of f, without the Hessian."""

    fixed = (worked_case([2.0, 3.0], v=np.array([1.0, 0.0])),
             {**function_case(np.random.default_rng(9), 2, "rosenbrock"),
              "x": np.array([-1.2, 1.0]), "v": np.array([1.0, -1.0])})

    def call(self, fn, case, fname):
        f = provided(case)
        Hv = fn(f, np.array(case["x"], dtype=float), np.array(case["v"], dtype=float))
        return {"Hv": Hv, "runs_of_f": f.calls}

    def expected(self, case):
        H = ad.hessian(scalar_function(case))(case["x"])
        # one run: the JVP of the gradient runs f once, on values that carry both
        # a tangent and a place on the tape; a Hessian would take n runs
        return {"Hv": np.asarray(H @ case["v"], float), "runs_of_f": np.asarray(1.0)}


class NewtonStep(FunctionChecker):
    r"""``newton_step(f, x)``: :math:`x - \nabla^2 f(x)^{-1}\,\nabla f(x)`."""

    kinds = ("bowl", "softplus", "bowl", "rosenbrock")
    fixed = ({**function_case(np.random.default_rng(9), 2, "rosenbrock"),
              "x": np.array([-1.2, 1.0])},)

    def random_case(self, rng, k):
        n = (2, 3, 4, 3, 5)[k % 5]
        kind = self.kinds[k % len(self.kinds)]
        case = function_case(rng, n, kind)
        if kind == "rosenbrock":  # near the valley, where the Hessian is well conditioned
            case["x"] = 1 + np.round(rng.uniform(-0.3, 0.3, n), 2)
        return case

    def call(self, fn, case, fname):
        return {"x_new": fn(provided(case), np.array(case["x"], dtype=float))}

    def expected(self, case):
        f, x = scalar_function(case), case["x"]
        H, g = ad.hessian(f)(x), ad.grad(f)(x)
        return {"x_new": np.asarray(x - np.linalg.solve(H, g), float)}

    def describe(self, case, fname):
        return f"{fname}(f, x={fmt(case['x'])}) with {describe_function(case)}"


class SecondDerivative(FunctionChecker):
    r"""``second_derivative(f, x, v)``: :math:`\frac{d^2}{dt^2} f(x + t v)` at :math:`t = 0`."""

    fixed = (worked_case([2.0, 3.0], v=np.array([1.0, 0.0])),
             worked_case([2.0, 3.0], v=np.array([1.0, 1.0])))

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return {"d2": fn(provided(c), np.array(c["x"], dtype=float),
                         np.array(c["v"], dtype=float))}

    def expected(self, case):
        H = ad.hessian(scalar_function(case))(case["x"])
        return {"d2": np.asarray(case["v"] @ H @ case["v"], float)}


EXERCISES = (
    Exercise(
        id="09.second_derivative", notebook="09_higher_order", points=2,
        name="second_derivative", title="A second derivative along a line, by nesting grad",
        off=everything_but("ad.grad", "ad.value_and_grad", "ad.jvp", "ad.vjp", "Var.backward"),
        checker=SecondDerivative(),
        hint="Restrict f to the line through x in the direction v: g(t) = f(x + t * v) is "
             "a function of one number t. Its second derivative is ad.grad(ad.grad(g)), "
             "evaluated at t = 0.0. (It equals v @ H @ v, but do not build H.) At (2, 3) "
             "with v = (1, 0) it is -sin(2) = -0.909297.",
    ),
    Exercise(
        id="09.hvp", notebook="09_higher_order", points=3,
        name="hvp", title="A Hessian-vector product without the Hessian",
        off=everything_but("ad.grad", "ad.value_and_grad", "ad.jvp", "ad.vjp", "Var.backward"),
        checker=Hvp(),
        hint="H v is the directional derivative of the gradient in the direction v: "
             "forward mode over reverse mode, ad.jvp(ad.grad(f), (x,), (v,)) returns "
             "(grad f(x), H v); return the second entry. It runs f once; ad.hessian(f)(x) "
             "@ v gives the same numbers but runs f n times and stores n*n numbers.",
    ),
    Exercise(
        id="09.newton_step", notebook="09_higher_order", points=2,
        name="newton_step", title="One step of Newton's method",
        off=NUMERIC + SYMBOLIC,
        checker=NewtonStep(),
        hint="Newton's step solves H d = g for d, with g the gradient and H the "
             "Hessian of f at x (adlab computes both), and moves AGAINST d: the new "
             "point is x minus d. Solve the linear system (np.linalg.solve) rather "
             "than inverting H. Subtracting g itself would be a gradient-descent step;"
             " adding d goes uphill.",
    ),
)
