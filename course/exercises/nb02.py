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
from course.exercise import Exercise, Mistake
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


# ---------------------------------------------------------------------------------
# Known mistakes: the outputs each one produces on a case, and its feedback
# ---------------------------------------------------------------------------------


def _first_difference(right: np.ndarray, wrong: np.ndarray) -> int:
    """The flat index of the first entry where ``wrong`` differs from ``right`` (else 0)."""
    differ = ~np.isclose(np.ravel(wrong), np.ravel(right), rtol=1e-6, atol=1e-9)
    return int(np.argmax(differ)) if differ.any() else 0


# -- 02.symbolic_rules: the walk, run with one or more rules changed --------------------

def _with_rules(changes: dict[str, Callable]) -> Callable[[dict], dict]:
    """The walk's derivative values when the rules in ``changes`` replace the right ones."""
    table = {**sym.DERIVATIVES, **changes}

    def wrong(case: dict) -> dict:
        d = differentiate(build(case["expr"]), case["wrt"],
                          lambda op, args, dargs: table[op](*args, *dargs), "rule")
        points = {k: np.asarray(v, float) for k, v in case["points"].items()}
        with np.errstate(all="ignore"):
            values = np.asarray(sym.evaluate(d, points), float)
        return {f"d/d{case['wrt']} at the points":
                np.broadcast_to(values, points[case["wrt"]].shape).copy()}
    return wrong


def _rule_mistake(code: str, what: str, **changes: Callable) -> Mistake:
    outputs = _with_rules(changes)

    def explain(case: dict) -> str:
        right = _derivative_values(case)
        (wrong,) = outputs(case).values()
        k = _first_difference(right, wrong)
        at = ", ".join(f"{name} = {fmt(v[k])}" for name, v in case["points"].items())
        return (f"{what}. With your rule the derivative with respect to {case['wrt']} at "
                f"{at} comes out {fmt(wrong[k])}, not {fmt(right[k])}")
    return Mistake(code, outputs, explain)


SYMBOLIC_MISTAKES = (
    _rule_mistake("product-one-term",
                  "the product rule has one term per factor, d(a*b) = da*b + a*db; keeping "
                  "only da*b loses the path through the second factor",
                  mul=lambda a, b, da, db: da * b),
    _rule_mistake("quotient-sign",
                  "in the quotient rule the term of the numerator comes first, "
                  "(da*b - a*db) / b**2; subtracting the other way round flips the sign",
                  div=lambda a, b, da, db: (a * db - da * b) / (b * b)),
    _rule_mistake("quotient-no-square",
                  "the quotient rule divides by the square of the denominator, b**2, "
                  "not by b",
                  div=lambda a, b, da, db: (da * b - a * db) / b),
    _rule_mistake("chain-rule-dropped",
                  "the functions sin, cos, exp and log are applied to an inner expression a, "
                  "so the chain rule multiplies the outer derivative by da; without da the inner "
                  "function's derivative is lost",
                  sin=lambda a, da: sym.cos(a), cos=lambda a, da: -sym.sin(a),
                  exp=lambda a, da: sym.exp(a), log=lambda a, da: 1 / a),
    _rule_mistake("cos-sign",
                  "the derivative of cos is -sin: d cos(a) = -sin(a) * da, with a minus sign",
                  cos=lambda a, da: sym.sin(a) * da),
)


# -- 02.unroll: the path written with a wrong number of halvings or the wrong branch ----

UNROLL_VALUES = "values at x0(1 - 0.001), x0, x0(1 + 0.001)"


def _halvings(x0: float) -> int:
    """How many times the loop of halve_and_branch divides x0 by 2."""
    k = 0
    while x0 / 2.0 ** k > 2:
        k += 1
    return k


def _branch(small: bool) -> str:
    return "y * sin(y)" if small else "4 * y * (1 - y)"


def _path_outputs(x0: float, halvings: int, small: bool) -> dict:
    """The checker's outputs for the expression y = x / 2**halvings, then one branch."""
    y = sym.Symbol("x") / 2.0 ** halvings if halvings else sym.Symbol("x")
    e = y * sym.sin(y) if small else 4 * y * (1 - y)
    with np.errstate(all="ignore"):
        values = sym.evaluate(e, {"x": Unroll.points(x0)})
        slope = sym.evaluate(sym.diff(e, "x"), {"x": x0})
    return {UNROLL_VALUES: np.asarray(values, float), "derivative at x0": np.asarray(slope, float)}


def _times(k: int) -> str:
    return "once" if k == 1 else f"{k} times"


def _after(k: int) -> str:
    return "one halving" if k == 1 else f"{k} halvings"


def _unroll_mistake(code: str, wrong_path: Callable[[float], tuple[int, bool]],
                    what: Callable[[float, int, float], str]) -> Mistake:
    """``wrong_path(x0) -> (halvings, small branch?)``; ``what(x0, k, y0)`` names it."""
    def outputs(case: dict) -> dict:
        return _path_outputs(case["x0"], *wrong_path(case["x0"]))

    def explain(case: dict) -> str:
        x0 = case["x0"]
        k = _halvings(x0)
        y0 = x0 / 2.0 ** k
        right = float(halve_and_branch(x0))
        got = float(outputs(case)[UNROLL_VALUES][1])
        return (f"{what(x0, k, y0)}. Your expression is {fmt(got)} at x0 = {fmt(x0)}, where "
                f"the program gives {fmt(right)}")
    return Mistake(code, outputs, explain)


UNROLL_MISTAKES = (
    _unroll_mistake(
        "branch-on-input",
        lambda x0: (_halvings(x0), x0 < 1.5),
        lambda x0, k, y0: (f"the branch tests the halved number, not the input: at x0 = "
                           f"{fmt(x0)} the loop halves {_times(k)}, to {fmt(y0)}, which "
                           f"selects {_branch(y0 < 1.5)}, while testing x0 itself selects "
                           f"{_branch(x0 < 1.5)}")),
    _unroll_mistake(
        "expression-not-halved",
        lambda x0: (0, x0 / 2.0 ** _halvings(x0) < 1.5),
        lambda x0, k, y0: (f"the loop halves the expression too, not only the number: at "
                           f"x0 = {fmt(x0)} y is x / {fmt(2.0 ** k)} after {_after(k)}, but "
                           "your branch formula is applied to x itself")),
    _unroll_mistake(
        "halved-once",
        lambda x0: (min(_halvings(x0), 1), x0 / 2.0 ** _halvings(x0) < 1.5),
        lambda x0, k, y0: (f"each pass halves the current expression again: at x0 = "
                           f"{fmt(x0)} the loop runs {_times(k)}, so y = x / {fmt(2.0 ** k)},"
                           " but your expression is halved only once (y = x / 2 on every "
                           "pass starts again from x)")),
    _unroll_mistake(
        "no-loop",
        lambda x0: (0, x0 < 1.5),
        lambda x0, k, y0: (f"the loop is part of the path: at x0 = {fmt(x0)} it halves "
                           f"{_times(k)}, to {fmt(y0)}, before the branch, and your "
                           "expression leaves it out")),
)


# -- 02.central_difference: a wrong quotient or a wrong default step -------------------

def _quotient(case: dict, h: float, forward: bool = False, over: float = 2.0) -> float:
    """A difference quotient of the case's function at its x: the central one by default."""
    f, x = FUNCTIONS_1D[case["function"]], case["x"]
    if forward:
        return float((f(x + h) - f(x)) / h)
    return float((f(x + h) - f(x - h)) / (over * h))


def _relative(case: dict, value: float) -> float:
    return (value - case["exact"]) / abs(case["exact"])


def _central_outputs(with_step: float, default: float) -> dict:
    return {STEP_NAME: np.asarray(with_step, float), ERROR_NAME: np.asarray(default, float)}


CENTRAL_MISTAKES = (
    Mistake(
        "no-factor-2",
        lambda c: _central_outputs(_quotient(c, TRY_STEP, over=1.0),
                                   _relative(c, _quotient(c, numeric.CENTRAL_STEP, over=1.0))),
        lambda c: (f"the points x + h and x - h lie 2h apart, so the difference of f is "
                   f"divided by 2h, not h: with h = {TRY_STEP} at x = {fmt(c['x'])} you return "
                   f"{fmt(_quotient(c, TRY_STEP, over=1.0))}, twice the quotient "
                   f"{fmt(_quotient(c, TRY_STEP))} (a relative error of 1 with any step)")),
    Mistake(
        "forward-difference",
        lambda c: _central_outputs(_quotient(c, TRY_STEP, forward=True),
                                   _relative(c, _quotient(c, numeric.FORWARD_STEP,
                                                          forward=True))),
        lambda c: (f"the formula (f(x + h) - f(x)) / h is the forward quotient, whose "
                   f"truncation error shrinks only like h: with h = {TRY_STEP} at "
                   f"x = {fmt(c['x'])} it gives "
                   f"{fmt(_quotient(c, TRY_STEP, forward=True))}, the central quotient "
                   f"{fmt(_quotient(c, TRY_STEP))}")),
    Mistake(
        "forward-step",
        lambda c: _central_outputs(_quotient(c, TRY_STEP),
                                   _relative(c, _quotient(c, numeric.FORWARD_STEP))),
        lambda c: (f"the default step sqrt(eps) = {fmt(numeric.FORWARD_STEP)} suits forward "
                   "differences; the central quotient's truncation error is so small that "
                   "this step leaves mostly round-off: at x = "
                   f"{fmt(c['x'])} its relative error is "
                   f"{fmt(_relative(c, _quotient(c, numeric.FORWARD_STEP)))}, beyond 1e-9 "
                   "(a step near eps**(1/3) ~ 6e-6 balances the two errors)")),
    Mistake(
        "step-ignored",
        lambda c: _central_outputs(c["exact"], 0.0),
        lambda c: (f"your function ignores the step it is given: asked for h = {TRY_STEP} at "
                   f"x = {fmt(c['x'])} it returns about f'(x) = {fmt(c['exact'])}, what your "
                   f"default step gives, instead of the quotient with h = {TRY_STEP}, "
                   f"{fmt(_quotient(c, TRY_STEP))}; use your default only when h is None")),
)


# -- 02.fd_gradient: the count, the sign, the step and the copy ------------------------

def _fd_case(case: dict) -> tuple[Callable, np.ndarray, int]:
    x = np.array(case["x"], dtype=float)
    return FUNCTIONS_ND[case["function"]], x, len(x)


def _without_copy(f: Callable, x: np.ndarray, h: float) -> np.ndarray:
    """Forward differences when every move stays in x: quotient i sees inputs 1..i moved."""
    base = float(f(x))
    return np.array([(float(f(x + h * (np.arange(len(x)) <= i))) - base) / h
                     for i in range(len(x))])


def _fd_outputs(gradient: np.ndarray, evaluations: int) -> dict:
    return {"gradient": np.asarray(gradient, float),
            "evaluations of f": np.asarray(float(evaluations))}


TINY_STEP = 1e-15
#: steps so small that round-off swamps the forward quotient: the versions of the mistake
TINY_STEPS = (1e-12, 1e-13, 1e-14, TINY_STEP, 1e-16)


def _tiny(c: dict) -> float:
    """The too-small step the answer matched (see Mistake: a mistake with versions)."""
    return TINY_STEPS[c.get("variant", TINY_STEPS.index(TINY_STEP))]


def _fd_at(case: dict) -> str:
    return f"at x = {fmt(case['x'])}"


FD_MISTAKES = (
    Mistake(
        "fx-in-loop",
        lambda c: _fd_outputs(forward_gradient(*_fd_case(c)[:2]), 2 * _fd_case(c)[2]),
        lambda c: (f"the value f(x) is the same in all n quotients: evaluating it again "
                   f"inside the loop calls f 2n = {2 * len(c['x'])} times for "
                   f"n = {len(c['x'])} inputs, "
                   f"instead of n + 1 = {len(c['x']) + 1}; evaluate it once, before the loop")),
    Mistake(
        "difference-sign",
        lambda c: _fd_outputs(-forward_gradient(*_fd_case(c)[:2]), _fd_case(c)[2] + 1),
        lambda c: (f"the forward quotient is (f(x + h e_i) - f(x)) / h, the moved value first; "
                   f"the other order flips every sign: {_fd_at(c)} you return "
                   f"{fmt(-forward_gradient(*_fd_case(c)[:2]))} instead of "
                   f"{fmt(forward_gradient(*_fd_case(c)[:2]))}")),
    Mistake(
        "step-too-small",
        lambda c: [_fd_outputs(forward_gradient(*_fd_case(c)[:2], h=h), _fd_case(c)[2] + 1)
                   for h in TINY_STEPS],
        lambda c: (f"with h = {_tiny(c):g} the change of f is mostly round-off (about "
                   f"eps |f| / h): {_fd_at(c)} that gives "
                   f"{fmt(forward_gradient(*_fd_case(c)[:2], h=_tiny(c)))}, while "
                   f"h = numeric.FORWARD_STEP gives {fmt(forward_gradient(*_fd_case(c)[:2]))}")),
    Mistake(
        "x-not-copied",
        lambda c: _fd_outputs(_without_copy(*_fd_case(c)[:2], numeric.FORWARD_STEP),
                              _fd_case(c)[2] + 1),
        lambda c: (f"after moved = x both names refer to one array, so every move stays and "
                   f"quotient i sees inputs 1 to i moved at once: {_fd_at(c)} you get "
                   f"running sums of "
                   f"the partials, {fmt(_without_copy(*_fd_case(c)[:2], numeric.FORWARD_STEP))},"
                   f" instead of {fmt(forward_gradient(*_fd_case(c)[:2]))}; move a fresh copy,"
                   " x.copy(), each time")),
)


EXERCISES = (
    Exercise(
        id="02.symbolic_rules", notebook="02_three_ways", points=3, name="derivative_rule",
        title="The rules of symbolic differentiation", checker=SymbolicRules(),
        hint="Each operation needs its textbook rule, written with its operands (args) and "
             "their derivatives (dargs), which the walk has already built for you: sums "
             "pass derivatives through, products and quotients mix values with "
             "derivatives, and a function of an inner expression needs the chain rule.",
        more_hints=(
            "The rules that go wrong most: the product rule d(a*b) = da*b + a*db (one term "
            "per factor); the quotient rule d(a/b) = (da*b - a*db) / b**2 (this order, and "
            "the square); for a function g of an inner a, g'(a) * da, e.g. "
            "d sin(a) = sym.cos(a) * da, d cos(a) = -sym.sin(a) * da, d log(a) = da / a.",
            "Outline: unpack two operands and two derivatives for add, sub, mul and div, "
            "one of each for neg, sin, cos, exp and log; then one rule per operation, "
            "returned as an expression built with + - * / and sym.sin, sym.cos, sym.exp "
            "(never a number computed at a point).",
        ),
        mistakes=SYMBOLIC_MISTAKES,
    ),
    Exercise(
        id="02.unroll", notebook="02_three_ways", points=2, name="unroll",
        title="Unrolling a program for one input", checker=Unroll(),
        hint="For one input the program takes one path: the number x0 decides how often the "
             "loop runs and which branch is taken, and the expression in x must record the "
             "operations of exactly that path.",
        more_hints=(
            "Carry two things through the program side by side: a number that starts at x0 "
            "and answers every comparison, and an expression that starts at sym.Symbol('x') "
            "and undergoes every operation the number undergoes.",
            "Outline: while the number is above 2, halve the number and the expression "
            "together; then compare the halved number with 1.5 and apply that branch's "
            "formula to the halved expression; return the expression, not a number. At "
            "x0 = 7: two halvings, 1.75, so 4*y*(1 - y) with y = x/2/2.",
        ),
        mistakes=UNROLL_MISTAKES,
    ),
    Exercise(
        id="02.central_difference", notebook="02_three_ways", points=2,
        name="central_difference", title="Central differences and their step",
        checker=CentralDifference(),
        hint="Two things are asked: the symmetric quotient, with one point on each side of "
             "x, and a default step that balances truncation error against round-off error.",
        more_hints=(
            "The two points x + h and x - h are 2h apart, so the difference of f is divided "
            "by 2*h. Truncation shrinks like h**2, round-off grows like eps/h: the best step "
            "is near eps**(1/3) ~ 6e-6 (numeric.CENTRAL_STEP), not the forward rule's "
            "sqrt(eps) ~ 1.5e-8, and 1e-12 leaves only round-off.",
            "Outline: when h is None, set it to your default (and keep the h you are given "
            "otherwise); evaluate f once just above and once just below x; return their "
            "difference over the distance between the two points.",
        ),
        mistakes=CENTRAL_MISTAKES,
    ),
    Exercise(
        id="02.fd_gradient", notebook="02_three_ways", points=2, name="fd_gradient",
        title="A forward-difference gradient in n + 1 evaluations", checker=FdGradient(),
        hint="Each partial derivative needs f at a point moved in that one input, while all "
             "n quotients share the same unmoved value f(x): count the calls of f.",
        more_hints=(
            "Partial i is (f(x + h e_i) - f(x)) / h with h = numeric.FORWARD_STEP, where "
            "e_i moves input i only. Evaluate f(x) once, before the loop, and keep the value: "
            "n + 1 calls in all; evaluating it inside the loop makes 2n.",
            "Outline: x as a float array; f(x) once; an empty array for the n partials; for "
            "each input, a fresh copy of x (x.copy(), not x itself) moved by h in that "
            "entry, f of it, and the quotient stored in the array; return the array.",
        ),
        mistakes=FD_MISTAKES,
    ),
)
