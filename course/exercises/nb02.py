"""Exercises of notebook 02, three ways to differentiate: symbolic, numerical, automatic."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np

import adlab as ad
import adlab.symbolic as sym
from adlab import numeric
from course.checkers import Checker, WrongOutput, as_floats, number
from course.exercise import Exercise
from course.provided import FUNCTIONS_1D, FUNCTIONS_ND, Provided
from course.result import fmt, safe_repr

# ---------------------------------------------------------------------------------
# 02.symbolic_rules: the textbook rules, applied to expressions
# ---------------------------------------------------------------------------------

#: The operations ``derivative_rule`` must know, with their number of operands.
RULE_OPS = {"add": 2, "sub": 2, "mul": 2, "div": 2, "neg": 1, "sin": 1, "cos": 1,
            "exp": 1, "log": 1}


def build(spec: Any) -> sym.Expr:
    """A ``sym`` expression from a nested list: ``["mul", "x", ["sin", "y"]]``.

    A string is a symbol, a number a constant, a list an operation on its operands.
    """
    if isinstance(spec, str):
        return sym.Symbol(spec)
    if isinstance(spec, (int, float)):
        return sym.Const(spec)
    op, *args = spec
    return sym.Op(op, *(build(a) for a in args))


def as_expression(value: Any, what: str) -> sym.Expr:
    """``value`` as an expression: numbers become constants, anything else is an error."""
    if isinstance(value, sym.Expr):
        return value
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return sym.Const(float(value))
    raise WrongOutput(f"{what} should be an expression built from the operands and their "
                      "derivatives (with + - * / and sym.sin, sym.cos, sym.exp, sym.log), "
                      f"not a {type(value).__name__}", safe_repr(value))


def differentiate(expr: sym.Expr, x: str, rule: Callable, fname: str) -> sym.Expr:
    """The derivative of ``expr`` with respect to ``x``, walking the tree bottom-up and
    asking ``rule(op, args, dargs)`` at every operation (the notebook's ``my_diff``)."""
    if isinstance(expr, sym.Symbol):
        return sym.Const(1.0 if expr.name == x else 0.0)
    if isinstance(expr, sym.Const):
        return sym.Const(0.0)
    dargs = tuple(differentiate(a, x, rule, fname) for a in expr.args)
    out = rule(expr.op, expr.args, dargs)
    return as_expression(out, f"{fname}({expr.op!r}, ...)")


def _random_spec(rng: np.random.Generator, depth: int, names: list[str]) -> Any:
    if depth == 0 or rng.random() < 0.2:
        if rng.random() < 0.8:
            return str(rng.choice(names))
        return float(rng.choice([0.5, 2.0, 3.0]))
    op = str(rng.choice(sorted(RULE_OPS)))
    a = _random_spec(rng, depth - 1, names)
    if op == "div":   # a denominator that is never near zero: 2 + b*b
        b = _random_spec(rng, depth - 1, names)
        return ["div", a, ["add", 2.0, ["mul", b, b]]]
    if op == "log":   # a positive argument
        return ["log", ["add", 1.5, ["mul", a, a]]]
    if RULE_OPS[op] == 1:
        return [op, a]
    return [op, a, _random_spec(rng, depth - 1, names)]


def _derivative_values(case: dict) -> np.ndarray:
    points = {k: np.asarray(v, float) for k, v in case["points"].items()}
    d = sym.diff(build(case["expr"]), case["wrt"])
    with np.errstate(all="ignore"):
        values = sym.evaluate(d, points)
    return np.broadcast_to(np.asarray(values, float), points[case["wrt"]].shape).copy()


class SymbolicRules(Checker):
    """``derivative_rule(op, args, dargs) -> expression``, run by a tree walk.

    Each case is an expression and a variable; the walk builds the learner's derivative
    as a formula, which is then evaluated at several points and compared with
    ``sym.diff`` there. A formula, not a number: the same result must hold at every point.
    """

    fixed = (
        # the worked example z = x1 x2 + sin(x1): dz/dx1 = x2 + cos(x1), 2.583853 at (2, 3)
        {"expr": ["add", ["mul", "x1", "x2"], ["sin", "x1"]], "wrt": "x1",
         "points": {"x1": [2.0, -1.0, 0.5, 1.5], "x2": [3.0, 2.0, -0.5, 1.0]}},
        {"expr": ["add", ["mul", "x1", "x2"], ["sin", "x1"]], "wrt": "x2",
         "points": {"x1": [2.0, -1.0, 0.5, 1.5], "x2": [3.0, 2.0, -0.5, 1.0]}},
        # a quotient with x above and below the line, exp and cos of inner functions
        {"expr": ["sub", ["div", "x", ["add", 1.0, ["mul", "x", "x"]]],
                  ["mul", ["exp", ["neg", "x"]], ["cos", ["mul", 2.0, "x"]]]],
         "wrt": "x", "points": {"x": [0.3, -1.2, 2.0, 0.7]}},
        # log and sin of products: the chain rule's inner derivative matters
        {"expr": ["mul", ["log", ["add", 2.0, ["sin", ["mul", "x", "y"]]]], "y"],
         "wrt": "x", "points": {"x": [0.5, -1.0, 1.3, 0.2], "y": [1.5, 0.8, -2.0, 1.1]}},
    )

    def random_case(self, rng, k):
        names = ["x"] if k % 2 else ["x", "y"]
        while True:
            spec = _random_spec(rng, 3, names)
            expr = build(spec)
            if "x" not in expr.symbols or sym.tree_size(expr) < 5:
                continue
            points = {n: [number(rng, -1.5, 1.5) for _ in range(4)] for n in sorted(expr.symbols)}
            case = {"expr": spec, "wrt": "x", "points": points}
            values = _derivative_values(case)
            if np.all(np.isfinite(values)) and np.all(np.abs(values) < 1e6):
                return case

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        derivative = differentiate(build(c["expr"]), c["wrt"], fn, fname)
        extra = derivative.symbols - set(c["points"])
        if extra:
            raise WrongOutput(f"your derivative contains the symbol {sorted(extra)[0]!r}, "
                              "which the expression does not", safe_repr(str(derivative)))
        points = {k: np.asarray(v, float) for k, v in c["points"].items()}
        with np.errstate(all="ignore"):
            values = sym.evaluate(derivative, points)
        values = np.broadcast_to(np.asarray(values, float), points[c["wrt"]].shape)
        return {f"d/d{c['wrt']} at the points": values.copy()}

    def expected(self, case):
        return {f"d/d{case['wrt']} at the points": _derivative_values(case)}

    def describe(self, case, fname):
        points = ", ".join(f"{k} = {fmt(v)}" for k, v in case["points"].items())
        return (f"the derivative of {build(case['expr'])} with respect to {case['wrt']}, "
                f"built by the walk with your {fname}, evaluated at {points}")


# ---------------------------------------------------------------------------------
# 02.unroll: a program with a loop and a branch, written out for one input
# ---------------------------------------------------------------------------------


def halve_and_branch(x: Any) -> Any:
    """The program of exercise 02.unroll (the same text is in the notebook)."""
    y = x
    while y > 2:
        y = y / 2
    if y < 1.5:
        y = y * sym.sin(y)
    else:
        y = 4 * y * (1 - y)
    return y


# where the program changes its formula: the loop count changes at x = 2, 4, 8, ...
# and the branch at y = 1.5, that is x = 1.5, 3, 6, 12, ...
_EDGES = [2.0 ** k for k in range(1, 6)] + [1.5 * 2.0 ** k for k in range(0, 5)]


class Unroll(Checker):
    """``unroll(x0) -> expression in x`` that equals the program near ``x0``.

    The expression is evaluated at ``x0`` and at two neighbours on the same path, and
    differentiated with ``sym.diff`` at ``x0``; expected: the program's values and
    adlab's derivative of the program.
    """

    fixed = ({"x0": 0.7}, {"x0": 1.8}, {"x0": 2.5}, {"x0": 7.0})

    def random_case(self, rng, k):
        while True:
            x0 = float(np.round(np.exp(rng.uniform(np.log(0.2), np.log(20.0))), 2))
            if all(abs(x0 - e) > 0.03 * e for e in _EDGES):
                return {"x0": x0}

    @staticmethod
    def points(x0: float) -> np.ndarray:
        return np.array([x0 * (1 - 1e-3), x0, x0 * (1 + 1e-3)])

    def call(self, fn, case, fname):
        x0 = case["x0"]
        e = fn(x0)
        if not isinstance(e, sym.Expr):
            raise WrongOutput(f"{fname}(x0) should return an expression in the symbol x "
                              "(start from x = sym.Symbol('x')), not a "
                              f"{type(e).__name__}", safe_repr(e))
        if e.symbols != {"x"}:
            what = ("does not contain x: it is a constant, the same for every input"
                    if not e.symbols else f"contains {sorted(e.symbols - {'x'})}, not only x")
            raise WrongOutput(f"the expression {what}", safe_repr(str(e)))
        with np.errstate(all="ignore"):
            values = sym.evaluate(e, {"x": self.points(x0)})
            slope = sym.evaluate(sym.diff(e, "x"), {"x": x0})
        return {"values at x0(1 - 0.001), x0, x0(1 + 0.001)": values, "derivative at x0": slope}

    def expected(self, case):
        x0 = case["x0"]
        values = np.array([float(halve_and_branch(float(p))) for p in self.points(x0)])
        return {"values at x0(1 - 0.001), x0, x0(1 + 0.001)": values,
                "derivative at x0": np.asarray(float(ad.grad(halve_and_branch)(x0)))}

    def describe(self, case, fname):
        return f"{fname}({fmt(case['x0'])})"


# ---------------------------------------------------------------------------------
# 02.central_difference: the formula and a default step
# ---------------------------------------------------------------------------------

#: The interval of test points of each one-variable test function (the functions, by
#: their text, are course.provided.FUNCTIONS_1D, handed to learner code as
#: Provided("fn_1d", text)): where the derivative stays away from zero, so a relative
#: error means something.
INTERVALS_1D: dict[str, tuple[float, float]] = {
    "3*x + sin(x)": (1.0, 3.0),
    "10 + sin(x)": (-1.0, 1.0),
    "sin(3*x)": (-0.3, 0.3),
    "exp(x) / (1 + x*x)": (-1.5, 0.3),
    "log(x)": (1.0, 3.0),
    "x * exp(x)": (0.0, 1.0),
}
STEP_TOLERANCE = 1e-9   # the relative error a good default step reaches on these
TRY_STEP = 0.01
STEP_NAME = f"the quotient with h = {TRY_STEP}"
ERROR_NAME = "relative error with your default step (should be 0 within 1e-9)"


class CentralDifference(Checker):
    r"""``central_difference(f, x, h=None)``: :math:`(f(x+h) - f(x-h)) / 2h`.

    Two outputs per case: the quotient with ``h = 0.01`` (the formula itself, compared
    with numeric.central_difference), and the relative error with the learner's default
    step against adlab's derivative, which must be below ``STEP_TOLERANCE``: only steps
    of about 1e-6 to 3e-5 reach that on every test function.
    """

    fixed = ({"function": "3*x + sin(x)", "x": 2.0},
             {"function": "10 + sin(x)", "x": 0.4},
             {"function": "sin(3*x)", "x": 0.1})

    def cases(self, rng, n):
        out = super().cases(rng, n)
        for case in out:  # the exact derivative, from adlab, in the parent
            f = FUNCTIONS_1D[case["function"]]
            case["exact"] = float(ad.grad(f)(case["x"]))
        return out

    def random_case(self, rng, k):
        name = sorted(FUNCTIONS_1D)[int(rng.integers(len(FUNCTIONS_1D)))]
        low, high = INTERVALS_1D[name]
        return {"function": name, "x": float(np.round(rng.uniform(low, high), 2))}

    def call(self, fn, case, fname):
        f = Provided("fn_1d", case["function"], copy_input=True)
        x, exact = case["x"], case["exact"]
        with_step = as_floats(fn(f, x, TRY_STEP), f"{fname}(f, x, {TRY_STEP})")
        default = as_floats(fn(f, x), f"{fname}(f, x)")
        return {STEP_NAME: with_step,
                ERROR_NAME: (default - exact) / abs(exact)}

    def expected(self, case):
        f = FUNCTIONS_1D[case["function"]]
        quotient = numeric.central_difference(f, case["x"], h=TRY_STEP)
        return {STEP_NAME: np.asarray(quotient, float),
                ERROR_NAME: np.asarray(0.0)}

    def describe(self, case, fname):
        return (f"{fname}(f, {fmt(case['x'])}) and {fname}(f, {fmt(case['x'])}, {TRY_STEP}) "
                f"with f(x) = {case['function']}, whose derivative at {fmt(case['x'])} is "
                f"{fmt(case['exact'])}")


# ---------------------------------------------------------------------------------
# 02.fd_gradient: a forward-difference gradient in n + 1 evaluations
# ---------------------------------------------------------------------------------

#: The functions R^n -> R of exercise 02.fd_gradient: text and allowed sizes n, by the
#: short names of course.provided.FUNCTIONS_ND (handed over as Provided("fn_nd", name)).
ABOUT_ND: dict[str, tuple[str, tuple[int, ...]]] = {
    "z": ("x1*x2 + sin(x1)", (2,)),
    "gap": ("(x1*x2 - (x3 + x4))**2", (4,)),
    "rosenbrock": ("sum(100*(x[1:] - x[:-1]**2)**2 + (1 - x[:-1])**2)", (2, 3, 4, 5, 6)),
    "soft_sum": ("log(sum(exp(x))) + sum(sin(x) * [1, 2, ..., n])", (1, 2, 3, 4, 5, 6)),
}


def forward_gradient(f: Callable, x: np.ndarray, h: float = numeric.FORWARD_STEP) -> np.ndarray:
    """The forward-difference gradient: f(x) once, then one evaluation per input.

    The reference, computed in the grading process: the rows of ``x + h I`` are the n
    moved points (row i moves input i only, so each equals x with h added there).
    """
    x = np.asarray(x, float)
    moved = x + h * np.eye(len(x))
    return (np.array([float(f(row)) for row in moved]) - float(f(x))) / h


class FdGradient(Checker):
    """``fd_gradient(f, x)``: forward differences with ``h = FORWARD_STEP``, and the number
    of times it called ``f`` (``f`` counts its calls, and copies its input so that later
    changes to the array are not seen): it should be ``n + 1``."""

    fixed = ({"function": "z", "x": [2.0, 3.0]},
             {"function": "gap", "x": [1.5, -2.0, 0.5, 3.0]},
             {"function": "rosenbrock", "x": [0.5, -0.3, 1.2]})

    def random_case(self, rng, k):
        name = sorted(FUNCTIONS_ND)[k % len(FUNCTIONS_ND)]
        sizes = ABOUT_ND[name][1]
        n = sizes[int(rng.integers(len(sizes)))]
        return {"function": name, "x": [number(rng, -1.5, 1.5) for _ in range(n)]}

    def call(self, fn, case, fname):
        f = Provided("fn_nd", case["function"], copy_input=True)
        g = as_floats(fn(f, np.array(case["x"], dtype=float)), f"{fname}(f, x)")
        return {"gradient": g, "evaluations of f": f.calls}

    def expected(self, case):
        f = FUNCTIONS_ND[case["function"]]
        x = np.array(case["x"], dtype=float)
        return {"gradient": forward_gradient(f, x), "evaluations of f": np.asarray(len(x) + 1.0)}

    def describe(self, case, fname):
        text = ABOUT_ND[case["function"]][0]
        return f"{fname}(f, x={fmt(case['x'])}) with f(x) = {text} (n = {len(case['x'])})"


EXERCISES = (
    Exercise(
        id="02.symbolic_rules", notebook="02_three_ways", points=3, name="derivative_rule",
        title="The rules of symbolic differentiation", checker=SymbolicRules(),
        hint="Return an expression built from args (a, or a and b) and dargs (da, or da "
             "and db): sums and differences: da + db, da - db; product: da*b + a*db; "
             "quotient: (da*b - a*db) / (b*b), in that order; neg: -da; chain rule for "
             "the functions, the outer derivative times da: sym.cos(a)*da, "
             "-sym.sin(a)*da, sym.exp(a)*da, da / a.",
    ),
    Exercise(
        id="02.unroll", notebook="02_three_ways", points=2, name="unroll",
        title="Unrolling a program for one input", checker=Unroll(),
        hint="Carry two things through the same steps: the number y0 (starting at x0), "
             "which decides every comparison, and the expression y (starting at "
             "sym.Symbol('x')), which records the operations. Each time the loop halves "
             "y0, halve y too; then pick the branch with y0 and apply its formula to y. "
             "Return the expression, not the number.",
    ),
    Exercise(
        id="02.central_difference", notebook="02_three_ways", points=2,
        name="central_difference", title="Central differences and their step",
        checker=CentralDifference(),
        hint="The quotient is (f(x + h) - f(x - h)) / (2 * h): the two points are 2h "
             "apart. For the default step balance truncation (~h**2) against round-off "
             "(~eps/h): about eps**(1/3), some 6e-6 (numeric.CENTRAL_STEP). The forward "
             "rule's sqrt(eps) ~ 1.5e-8 is far too small for central differences, and "
             "1e-12 leaves only round-off.",
    ),
    Exercise(
        id="02.fd_gradient", notebook="02_three_ways", points=2, name="fd_gradient",
        title="A forward-difference gradient in n + 1 evaluations", checker=FdGradient(),
        hint="Evaluate f at x once, before the loop, and keep the value. For each "
             "input, move a copy of x by the step h = numeric.FORWARD_STEP in that "
             "input only, and divide the change of f by h. That is n + 1 calls of f in"
             " all; evaluating f at x again inside the loop makes it 2n.",
    ),
)
