"""Exercises of notebook 09: higher-order derivatives (Hessians, HVPs, Newton's method
for a system of equations)."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import Checker, WrongOutput, number
from course.exercise import Exercise, Mistake, everything_but
from course.provided import Provided, scalar_function, square_system
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
# Square systems F: R^n -> R^n, for Newton's method on F(x) = 0
# ---------------------------------------------------------------------------------

SYSTEMS = {
    "circle-hyperbola": "F(x) = [x0**2 + x1**2 - {0}, x0*x1 - {1}]   (a circle and a hyperbola)",
    "arm": ("F(x) = [{0}*cos(x0) + {1}*cos(x0 + x1) - {2}, {0}*sin(x0) + {1}*sin(x0 + x1) - {3}]"
            "   (the joint angles of a two-link arm reaching ({2}, {3}))"),
    "tanh": "F(x) = A @ x + tanh(B @ x) - b",
    "cubic": "F(x) = A @ x + x**3 - b",
}

# square_system(case), like scalar_function(case), builds the case's function directly;
# learner code gets it as provided_system(case).


def provided_system(case: dict) -> Provided:
    """The case's F, to hand to learner code: ``Provided("square_system", ...)``."""
    spec = {k: case[k] for k in ("kind", "A", "B", "b")}
    return Provided("square_system", spec, copy_input=True)


def system_case(kind: str, x: Any, **more: Any) -> dict:
    """A case of a named system (its parameters in ``b``) or a random one (A, B, b)."""
    x = np.asarray(x, dtype=float)
    n = len(x)
    case = {"kind": kind, "n": n, "A": np.zeros((n, n)), "B": np.zeros((n, n)),
            "b": np.zeros(n), "x": x}
    case.update({k: np.asarray(v, dtype=float) for k, v in more.items()})
    return case


def random_system(rng: np.random.Generator, kind: str, n: int) -> dict:
    if kind == "circle-hyperbola":  # x0^2 + x1^2 = r^2 meets x0 x1 = c when c <= r^2 / 2
        r2 = number(rng, 2, 9)
        return system_case(kind, number(rng, 0.3, 2.5, (2,)),
                           b=[r2, number(rng, 0.3, r2 / 2)])
    if kind == "arm":  # a reachable target; the elbow angle x1 away from 0 and pi
        l1, l2 = number(rng, 0.6, 1.5), number(rng, 0.4, 1.2)
        radius, angle = rng.uniform(abs(l1 - l2) + 0.2, l1 + l2 - 0.2), rng.uniform(-3, 3)
        target = np.round(radius * np.array([np.cos(angle), np.sin(angle)]), 2)
        return system_case(kind, [number(rng, -1.5, 1.5), number(rng, 0.5, 2.5)],
                           b=[l1, l2, *target])
    A = np.round(2 * np.eye(n) + number(rng, -1, 1, (n, n)), 2)
    B = number(rng, -1.5, 1.5, (n, n)) if kind == "tanh" else np.zeros((n, n))
    return system_case(kind, number(rng, -1.5, 1.5, (n,)), A=A, B=B,
                       b=number(rng, -1, 1, (n,)))


def describe_system(case: dict) -> str:
    kind = case["kind"]
    if kind in ("circle-hyperbola", "arm"):
        return SYSTEMS[kind].format(*(fmt(p) for p in case["b"]))
    text = SYSTEMS[kind] + f", A = {matrix(case['A'])}"
    if kind == "tanh":
        text += f", B = {matrix(case['B'])}"
    return text + f", b = {fmt(case['b'])}"


def matrix(M: Any) -> str:
    """A matrix on one line, rows in brackets: [[4, 1], [0.5, 2]]."""
    rows = np.atleast_2d(np.asarray(M, dtype=float))
    return "[" + ", ".join("[" + ", ".join(fmt(v) for v in row) + "]" for row in rows) + "]"


def root_parts(case: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, F(x) and the Jacobian J(x) (row i: the partial derivatives of F_i) of a case."""
    F = square_system(case)
    x = np.asarray(case["x"], dtype=float)
    return x, np.asarray(F(x), float), np.asarray(ad.jacfwd(F)(x), float)


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


class NewtonRoot(Checker):
    r"""``newton_root_step(F, x)``: one Newton step for :math:`F(x) = 0`, :math:`F:\mathbb{R}^n
    \to \mathbb{R}^n`, the point where F's first-order model at x vanishes,
    :math:`x - J(x)^{-1} F(x)`.

    The notebook works the minimisation step out (the second-order model of a scalar f);
    the task asks for the same idea on a system of equations, whose model and linear
    system it leaves to the learner. Cases are square systems with a Jacobian that is
    well conditioned and not symmetric at x (so its transpose is told apart).
    """

    kinds = ("tanh", "arm", "cubic", "circle-hyperbola")
    fixed = (system_case("circle-hyperbola", [2.0, 0.5], b=[4.0, 1.0]),
             system_case("arm", [0.3, 1.2], b=[1.0, 0.8, 1.2, 0.9]))

    def random_case(self, rng, k):
        kind = self.kinds[k % len(self.kinds)]
        n = (2, 3, 4, 3, 5)[k % 5]
        while True:
            case = random_system(rng, kind, n)
            F, J = root_parts(case)[1:]
            if (np.linalg.cond(J) < 100 and np.abs(J - J.T).max() > 0.1
                    and np.abs(F).max() > 0.05):
                return case

    def call(self, fn, case, fname):
        return {"x_new": fn(provided_system(case), np.array(case["x"], dtype=float))}

    def expected(self, case):
        x, F, J = root_parts(case)
        return {"x_new": np.asarray(x - np.linalg.solve(J, F), float)}

    def describe(self, case, fname):
        return f"{fname}(F, x={fmt(case['x'])}) with {describe_system(case)}"


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


def root_step(case: dict) -> np.ndarray:
    """The Newton step d at the case's x: J d = -F(x); the new point is x + d."""
    _, F, J = root_parts(case)
    return np.linalg.solve(J, -F)


def root_point(case: dict) -> np.ndarray:
    return np.asarray(case["x"], float) + root_step(case)


def transposed_point(case: dict) -> np.ndarray:
    x, F, J = root_parts(case)
    return x - np.linalg.solve(J.T, F)


def norm_newton_point(case: dict) -> np.ndarray:
    """The minimisation step on phi = |F|^2 / 2, with phi's full Hessian."""
    F = square_system(case)
    phi = lambda y: ad.sum(F(y) ** 2) / 2
    x = np.asarray(case["x"], float)
    g, H = np.asarray(ad.grad(phi)(x), float), np.asarray(ad.hessian(phi)(x), float)
    return x - np.linalg.solve(H, g)


def diagonal_point(case: dict) -> np.ndarray:
    x, F, J = root_parts(case)
    return x - F / np.diag(J)


def explain_transposed(case: dict) -> str:
    _, _, J = root_parts(case)
    return (f"you solved with the transpose of the Jacobian, J^T = {matrix(J.T)}, and landed "
            f"on {fmt(transposed_point(case))}. Row i of J = {matrix(J)} holds the partial "
            "derivatives of F_i (outputs are rows, inputs columns, as ad.jacfwd and "
            "ad.jacrev return it): the model of output i is F_i(x) + (row i of J) . d. With "
            f"J itself the Newton point is {fmt(root_point(case))}")


def explain_root_uphill(case: dict) -> str:
    x, F, _ = root_parts(case)
    d = root_step(case)
    return (f"you moved the wrong way, to x - d = {fmt(x - d)}: the step d = {fmt(d)} is the "
            f"one that makes the model F(x) + J d zero, with F(x) = {fmt(F)}, so it is "
            f"added: x + d = {fmt(x + d)}. The other sign doubles F's value instead of "
            "cancelling it")


def explain_norm_newton(case: dict) -> str:
    _, F, J = root_parts(case)
    return (f"that is the minimisation step of section 4 applied to |F|^2 / 2: "
            f"{fmt(norm_newton_point(case))}. Its Hessian, J^T J plus F_i(x) times the Hessian "
            f"of F_i summed over i, brings in F's second derivatives (here F(x) = {fmt(F)} is "
            "not zero), so its model is not F's. A root needs only F's own first-order model, "
            "built from the "
            f"Jacobian J = {matrix(J)}; it vanishes at {fmt(root_point(case))}")


def explain_diagonal(case: dict) -> str:
    _, F, J = root_parts(case)
    return (f"you divided F(x) = {fmt(F)} by the diagonal of the Jacobian, {fmt(np.diag(J))}, "
            f"equation by equation, and landed on {fmt(diagonal_point(case))}: that is the "
            "one-variable step x - f / f' for each equation alone. Every F_i depends on "
            f"every x_j (J = {matrix(J)} is not diagonal), so the step comes from one linear "
            f"system with the whole J: {fmt(root_point(case))}")


def explain_not_solved(case: dict) -> str:
    x, F, J = root_parts(case)
    return (f"you multiplied F(x) = {fmt(F)} by the Jacobian, x - J F(x) = {fmt(x - J @ F)}: "
            "Newton's step divides by the slope, it does not multiply by it. Solve a linear "
            f"system with J = {matrix(J)} instead, which gives the step {fmt(root_step(case))} "
            f"and the point {fmt(root_point(case))}")


def explain_root_step_only(case: dict) -> str:
    x, d = np.asarray(case["x"], float), root_step(case)
    return (f"you returned the step d = {fmt(d)} itself; the new point is x plus that step, "
            f"{fmt(x)} + {fmt(d)} = {fmt(x + d)}")


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
        id="09.newton_root", notebook="09_higher_order", points=2,
        name="newton_root_step", title="Newton's method for a system of equations",
        off=everything_but("ad.jvp", "ad.vjp", "ad.grad", "ad.value_and_grad", "ad.jacfwd",
                           "ad.jacrev", "Var.backward"),
        checker=NewtonRoot(),
        hint="Newton's idea again: near x, replace F by its Taylor model and jump to the "
             "point where the MODEL does what you want. Here the model must be zero, not "
             "smallest, and F is a vector, not a scalar to minimise: which order of Taylor "
             "model is enough, and which derivative of F does it need? adlab computes that "
             "derivative (it is a matrix).",
        more_hints=(
            "The first-order model is F(x + d) = F(x) + J d, with J the Jacobian of F at x "
            "(J[i, j] = dF_i / dx_j: ad.jacfwd or ad.jacrev of F). It vanishes for the d "
            "that solves the n x n system J d = -F(x): use np.linalg.solve with J itself "
            "(not its transpose, not its diagonal), and move to x + d.",
            "Outline: F's value at x; F's Jacobian at x from adlab; one linear solve for "
            "the step; return the new POINT, x plus the step. No second derivatives are "
            "needed: the minimisation step on |F|^2 / 2 brings them in and lands "
            "elsewhere. Check: for the circle x0^2 + x1^2 = 4 and the hyperbola x0 x1 = 1 "
            "from (2, 0.5), the step lands on (1.933333, 0.516667).",
        ),
        mistakes=(
            Mistake("transposed-jacobian", lambda c: {"x_new": transposed_point(c)},
                    explain_transposed),
            Mistake("root-step-uphill",
                    lambda c: {"x_new": np.asarray(c["x"], float) - root_step(c)},
                    explain_root_uphill),
            Mistake("minimised-norm", lambda c: {"x_new": norm_newton_point(c)},
                    explain_norm_newton),
            Mistake("jacobian-diagonal-only", lambda c: {"x_new": diagonal_point(c)},
                    explain_diagonal),
            Mistake("jacobian-not-solved",
                    lambda c: {"x_new": root_parts(c)[0]
                               - root_parts(c)[2] @ root_parts(c)[1]},
                    explain_not_solved),
            Mistake("step-without-x", lambda c: {"x_new": root_step(c)},
                    explain_root_step_only),
        ),
    ),
)
