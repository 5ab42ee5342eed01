"""Exercises of notebook 09: higher-order derivatives (Hessians, HVPs, Newton's method)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import Checker, WrongOutput, number
from course.exercise import NUMERIC, SYMBOLIC, Exercise, Mistake, everything_but
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
    r"""``hvp(f, x, v)``: :math:`\nabla^2 f(x)\,v` in one run of f, without the Hessian.

    The task asks for reverse over forward, the gradient of the directional derivative
    :math:`s(x) = \nabla f(x)^\top v`: f then runs once, on dual numbers. Section 3's
    forward over reverse (the JVP of the gradient) gives the same numbers from one run on
    tape values; copied, it is told apart by what f ran on, and named.
    """

    fixed = (worked_case([2.0, 3.0], v=np.array([1.0, 0.0])),
             {**function_case(np.random.default_rng(9), 2, "rosenbrock"),
              "x": np.array([-1.2, 1.0]), "v": np.array([1.0, -1.0])})

    def call(self, fn, case, fname):
        f = provided(case)
        Hv = fn(f, np.array(case["x"], dtype=float), np.array(case["v"], dtype=float))
        if f.calls == 1 and f.on_tape and not f.on_duals and self._is_hv(Hv, case):
            raise WrongOutput(
                "f ran on tape values only, never on dual numbers: that is forward over "
                "reverse, the JVP of the gradient as section 3 computes it. This exercise "
                "asks for the other nesting: reverse mode (ad.grad) of the slope along v "
                "that forward mode (a JVP of f) gives", "f ran 0 times on dual numbers")
        return {"Hv": Hv, "runs_of_f": f.calls}

    def _is_hv(self, Hv, case) -> bool:
        """Whether the answer is the right H v (then only the nesting is wrong; any other
        answer is judged, and named, by its numbers)."""
        try:
            right = self.expected(case)["Hv"]
            return bool(np.allclose(np.asarray(Hv, dtype=float), right))
        except Exception:
            return False

    def expected(self, case):
        H = ad.hessian(scalar_function(case))(case["x"])
        # one run: the gradient of the directional derivative runs f once, on dual numbers
        # recorded on a tape (the JVP of the gradient likewise, on tape values carrying
        # tangents); a Hessian, or H column by column, would take n runs
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


# ---------------------------------------------------------------------------------
# Known mistakes: what confused learners answer, computed from a case
# ---------------------------------------------------------------------------------

def derivatives(case: dict, at: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """The gradient and the Hessian of the case's function at ``at`` (default: x)."""
    f = scalar_function(case)
    x = np.asarray(case["x"] if at is None else at, dtype=float)
    return np.asarray(ad.grad(f)(x), float), np.asarray(ad.hessian(f)(x), float)


def curvature(case: dict, at: Any = None) -> float:
    v = np.asarray(case["v"], dtype=float)
    return float(v @ derivatives(case, at)[1] @ v)


def slope(case: dict) -> float:
    return float(derivatives(case)[0] @ case["v"])


def h_times(case: dict, u: Any) -> np.ndarray:
    return derivatives(case)[1] @ np.asarray(u, dtype=float)


def newton_d(case: dict) -> np.ndarray:
    """d = H^{-1} g at the case's x; the Newton point is x - d."""
    g, H = derivatives(case)
    return np.linalg.solve(H, g)


def explain_first_derivative(case: dict) -> str:
    return (f"that is the slope g'(0) = v . grad f(x) = {fmt(slope(case))}: ad.grad was "
            "applied to g once; the curvature needs a second ad.grad on top, "
            f"g''(0) = {fmt(curvature(case))}")


def explain_half(case: dict) -> str:
    d2 = curvature(case)
    return (f"you halved it: {fmt(d2 / 2)} is the coefficient of t**2 in the Taylor series of "
            f"g(t) = f(x + t v); the second derivative itself is g''(0) = {fmt(d2)}")


def explain_second_v(case: dict) -> str:
    return (f"that is the vector H v = {fmt(h_times(case, case['v']))}, not one number: the "
            f"second v is missing, v . (H v) = {fmt(curvature(case))} is the curvature along "
            f"v = {fmt(case['v'])}")


def explain_t_one(case: dict) -> str:
    x, v = np.asarray(case["x"], float), np.asarray(case["v"], float)
    return (f"you evaluated g'' at t = 1, that is at x + v = {fmt(x + v)}, where the "
            f"curvature is {fmt(curvature(case, x + v))}; the line starts at t = 0, x = "
            f"{fmt(x)}: g''(0) = {fmt(curvature(case))}")


def gradient_at(case: dict, at: Any) -> np.ndarray:
    return np.asarray(ad.grad(scalar_function(case))(np.asarray(at, dtype=float)), float)


def explain_gradient(case: dict) -> str:
    return (f"that is the gradient of f itself, grad f(x) = {fmt(derivatives(case)[0])}: the "
            "function you differentiated was f (or the first element of the pair ad.jvp "
            "returns, which is f's value). Differentiate the slope along v instead, the "
            "tangent of that pair, s(x) = v . grad f(x); its gradient is H v = "
            f"{fmt(h_times(case, case['v']))}")


def explain_ones(case: dict) -> str:
    ones = np.ones(len(case["v"]))
    return (f"that is H times a seed of ones, {fmt(h_times(case, ones))}: a seed of ones "
            "differentiates f along (1, ..., 1), not along v. The tangent seed of the "
            f"directional derivative is v = {fmt(case['v'])} itself, which gives H v = "
            f"{fmt(h_times(case, case['v']))}")


def explain_jvp_of_f(case: dict) -> str:
    return (f"that is one number, the directional derivative s(x) = v . grad f(x) = "
            f"{fmt(slope(case))}: the inner step alone. H v is the GRADIENT of s, taken with "
            f"respect to the point, which gives the vector {fmt(h_times(case, case['v']))}")


def explain_point_held_fixed(case: dict) -> str:
    n = len(case["v"])
    return (f"you got zeros ({n} of them): the function you handed to ad.grad computes the "
            f"slope at the fixed point x = {fmt(case['x'])}, whatever its own argument is, "
            "so its gradient is 0. The directional derivative must be taken at the argument "
            f"ad.grad varies; then its gradient is H v = {fmt(h_times(case, case['v']))}")


def explain_point_and_seed_swapped(case: dict) -> str:
    return (f"that is grad f(v) = {fmt(gradient_at(case, case['v']))}, the gradient of f at the "
            f"point v = {fmt(case['v'])}: the point and the seed of ad.jvp changed places "
            "(ad.jvp takes the primals first, then the tangents). At x = "
            f"{fmt(case['x'])} with the seed v, the gradient of the slope is H v = "
            f"{fmt(h_times(case, case['v']))}")


def explain_two_runs(case: dict) -> str:
    return (f"your H v = {fmt(h_times(case, case['v']))} took 2 runs of f, one per gradient: "
            "finite differences of the gradient (at x + h v and x - h v, which also lose "
            f"digits) or H built column by column ({len(case['v'])} columns here); the "
            "gradient of the directional derivative along v gets H v from a single run")


def explain_uphill(case: dict) -> str:
    x, d = np.asarray(case["x"], float), newton_d(case)
    return (f"you added the step: x + H^-1 g = {fmt(x + d)}. Newton's step solves H d = -g, "
            f"so the new point is x - H^-1 g = {fmt(x - d)}; the other sign goes uphill")


def explain_gradient_step(case: dict) -> str:
    x = np.asarray(case["x"], float)
    g = derivatives(case)[0]
    return (f"a gradient-descent step of size 1 lands on x - g = {fmt(x - g)}; Newton's "
            f"method rescales g = {fmt(g)} by the inverse Hessian: x - H^-1 g = "
            f"{fmt(x - newton_d(case))}")


def explain_not_inverted(case: dict) -> str:
    x = np.asarray(case["x"], float)
    g, H = derivatives(case)
    return (f"you multiplied g by H, x - H g = {fmt(x - H @ g)}; Newton's method divides by "
            f"the curvature: solve H d = g, d = {fmt(newton_d(case))}, and return x - d = "
            f"{fmt(x - newton_d(case))}")


def explain_step_only(case: dict) -> str:
    x, d = np.asarray(case["x"], float), newton_d(case)
    return (f"you returned the step -H^-1 g = {fmt(-d)} itself; the new point is x plus "
            f"that step, {fmt(x)} + {fmt(-d)} = {fmt(x - d)}")


EXERCISES = (
    Exercise(
        id="09.second_derivative", notebook="09_higher_order", points=2,
        name="second_derivative", title="A second derivative along a line, by nesting grad",
        off=everything_but("ad.grad", "ad.value_and_grad", "ad.jvp", "ad.vjp", "Var.backward"),
        checker=SecondDerivative(),
        hint="Make f a function of ONE number: walk along the line through x in the "
             "direction v. The curvature of f along v is the second derivative of that "
             "one-variable function where the walk starts, and ad.grad nests on a scalar "
             "function of a scalar. No Hessian is needed.",
        more_hints=(
            "With g(t) = f(x + t * v) (t a plain float): g'(0) = v . grad f(x) and "
            "g''(0) = v @ H @ v. So differentiate g twice, not once, evaluate at t = 0.0 "
            "(not at 1), and take no factor 1/2: that would be a Taylor coefficient.",
            "Outline: define g as a small inner function of t that closes over x and v; "
            "transform it with ad.grad, transform the result with ad.grad again, call that "
            "at 0.0 and return the number. Check: at (2, 3), v = (1, 0) gives "
            "-sin(2) = -0.909297 and v = (1, 1) gives 1.090703.",
        ),
        mistakes=(
            Mistake("first-derivative-only", lambda c: {"d2": slope(c)},
                    explain_first_derivative),
            Mistake("taylor-half", lambda c: {"d2": curvature(c) / 2}, explain_half),
            Mistake("second-v-missing", lambda c: {"d2": h_times(c, c["v"])},
                    explain_second_v),
            Mistake("evaluated-at-t-one",
                    lambda c: {"d2": curvature(c, np.asarray(c["x"], float) + c["v"])},
                    explain_t_one),
        ),
    ),
    Exercise(
        id="09.hvp", notebook="09_higher_order", points=3,
        name="hvp", title="A Hessian-vector product without the Hessian",
        off=everything_but("ad.grad", "ad.value_and_grad", "ad.jvp", "ad.vjp", "Var.backward"),
        checker=Hvp(),
        hint="Turn the question into a gradient of a SCALAR function: the slope of f along "
             "v, s(x) = v . grad f(x), is one number for each point x, and its gradient is "
             "H v (H is symmetric). Forward mode computes that slope in one pass, and reverse "
             "mode differentiates it: the nesting of section 3, turned round.",
        more_hints=(
            "The slope along v at a point is the tangent that forward mode returns for f at "
            "that point with the seed v (the second element of the pair; the first is f's "
            "value). It has to be a function of the point that ad.grad varies, not of the "
            "fixed x, and the seed is v, not ones. ad.grad of that function, at x, is H v.",
            "Outline: inside hvp, define a small function of one argument, the point, that "
            "returns only the directional derivative of f there along v; hand it to ad.grad "
            "and evaluate the result at x. That runs f once (on dual numbers recorded on a "
            "tape): no finite differences of the gradient and no columns of H, each of which "
            "would run f again.",
        ),
        mistakes=(
            Mistake("gradient-not-hv",
                    lambda c: {"Hv": derivatives(c)[0], "runs_of_f": 1.0}, explain_gradient),
            Mistake("seed-of-ones",
                    lambda c: {"Hv": h_times(c, np.ones(len(c["v"]))), "runs_of_f": 1.0},
                    explain_ones),
            Mistake("jvp-of-f", lambda c: {"Hv": slope(c), "runs_of_f": 1.0},
                    explain_jvp_of_f),
            Mistake("point-held-fixed",
                    lambda c: {"Hv": np.zeros(len(c["v"])), "runs_of_f": 1.0},
                    explain_point_held_fixed),
            Mistake("point-and-seed-swapped",
                    lambda c: {"Hv": gradient_at(c, c["v"]), "runs_of_f": 1.0},
                    explain_point_and_seed_swapped),
            Mistake("hv-in-two-runs",
                    lambda c: {"Hv": h_times(c, c["v"]), "runs_of_f": 2.0},
                    explain_two_runs),
        ),
    ),
    Exercise(
        id="09.newton_step", notebook="09_higher_order", points=2,
        name="newton_step", title="One step of Newton's method",
        off=NUMERIC + SYMBOLIC,
        checker=NewtonStep(),
        hint="Newton's method replaces f near x by its second-order Taylor model, built "
             "from the gradient g and the Hessian H at x (adlab gives both), and jumps to "
             "the point where that model is smallest.",
        more_hints=(
            "The model's gradient g + H d vanishes for the step d that solves H d = -g; the "
            "new point is x + d = x - H^-1 g. Solve the linear system (np.linalg.solve) "
            "instead of forming the inverse, and divide by the curvature: multiplying by H "
            "is not the same.",
            "Outline: the gradient and the Hessian of f at x from adlab; the step from one "
            "linear solve; return the new POINT, x plus the step (not the step alone). "
            "Moving along +H^-1 g goes uphill, and subtracting g alone is a gradient step. "
            "Check: from (-1.2, 1) on Rosenbrock the step lands on (-1.175281, 1.380674).",
        ),
        mistakes=(
            Mistake("newton-uphill",
                    lambda c: {"x_new": np.asarray(c["x"], float) + newton_d(c)},
                    explain_uphill),
            Mistake("gradient-step",
                    lambda c: {"x_new": np.asarray(c["x"], float) - derivatives(c)[0]},
                    explain_gradient_step),
            Mistake("hessian-not-inverted",
                    lambda c: {"x_new": np.asarray(c["x"], float)
                               - derivatives(c)[1] @ derivatives(c)[0]},
                    explain_not_inverted),
            Mistake("step-without-x", lambda c: {"x_new": -newton_d(c)}, explain_step_only),
        ),
    ),
)
