"""Exercises of notebook 00, the chain rule and compositions."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np

import adlab as ad
from course.checkers import SHAPES, Checker, WrongOutput, number, unpack
from course.exercise import Exercise, Mistake
from course.provided import CHAIN_STEPS, Provided
from course.result import fmt, safe_repr


def chain(x: Any) -> Any:
    """The composition of exercise 00.chain_derivative: y = sin(log(1 + x^2))."""
    return ad.sin(ad.log(1.0 + x * x))


def elementwise_derivative(f: Any, x: Any) -> np.ndarray:
    """f'(x) for an elementwise f: forward mode with the seed 1 on every entry."""
    _, tangent = ad.jvp(f, (x,), (np.ones_like(np.asarray(x, float)),))
    return np.asarray(tangent, float)


class ChainDerivative(Checker):
    r"""``chain_derivative(x) -> dy/dx`` for :math:`y = \sin(\log(1 + x^2))`."""

    fixed = ({"x": 1.5}, {"x": -0.7})

    def random_case(self, rng, k):
        return {"x": number(rng, -3, 3, SHAPES[k % len(SHAPES)])}

    def call(self, fn, case, fname):
        return {"dy_dx": fn(copy.deepcopy(case["x"]))}

    def expected(self, case):
        return {"dy_dx": elementwise_derivative(chain, case["x"])}


#: adlab's versions of the steps of course.provided.CHAIN_STEPS (for the expected values)
AD_STEPS: dict[str, Any] = {"square": lambda w: w ** 2, "cube": lambda w: w ** 3,
                            "sin": ad.sin, "cos": ad.cos, "exp": ad.exp, "arctan": ad.arctan}
#: each step and its derivative as text, ``{}`` standing for the step's input
STEP_TEXT: dict[str, tuple[str, str]] = {
    "square": ("{}**2", "2*{}"), "cube": ("{}**3", "3*{}**2"), "sin": ("sin({})", "cos({})"),
    "cos": ("cos({})", "-sin({})"), "exp": ("exp({})", "exp({})"),
    "arctan": ("arctan({})", "1/(1 + {}**2)"),
}


def composition(names: list) -> Any:
    """w -> the chain of the named steps applied in order (the identity for no step)."""
    def f(w):
        for name in names:
            w = AD_STEPS[name](w)
        return w
    return f


def chain_values(names: list, x: float) -> list:
    """[w_0, ..., w_k]: the chain's values from w_0 = x, with the given steps."""
    ws = [float(x)]
    for name in names:
        ws.append(float(CHAIN_STEPS[name][0](ws[-1])))
    return ws


class ChainProduct(Checker):
    r"""``accumulate(steps, x) -> (tangents, adjoints)`` along a chain of scalar steps.

    ``steps`` is ``[(f_1, df_1), ..., (f_k, df_k)]`` (``Provided`` functions of
    ``course.provided.CHAIN_STEPS``, a case names them), ``w_0 = x`` and
    :math:`w_i = f_i(w_{i-1})`. ``tangents[i]`` is :math:`dw_i/dw_0` (forward
    accumulation, seed ``tangents[0] = 1``) and ``adjoints[i]`` is :math:`dw_k/dw_i`
    (reverse accumulation, seed ``adjoints[k] = 1``); both multiply the local derivatives
    :math:`d_i = f_i'(w_{i-1})`, each at its own step's input.
    """

    fixed = (
        # y = exp(sin(x^2)) at x = 1.5: the chain of sections 1 and 2
        {"steps": ["square", "sin", "exp"], "x": 1.5},
        {"steps": ["cos", "cube", "arctan", "exp"], "x": 0.8},
    )
    MAX_VALUE, MAX_DERIVATIVE = 20.0, 50.0  # chains that stay readable

    def random_case(self, rng, k):
        names = list(CHAIN_STEPS)
        for _ in range(100):
            steps = [names[i] for i in rng.integers(0, len(names), size=1 + (k + 1) % 6)]
            x = number(rng, -2, 2)
            ws = chain_values(steps, x)
            ds = [CHAIN_STEPS[n][1](w) for n, w in zip(steps, ws)]
            if (max(map(abs, ws)) <= self.MAX_VALUE
                    and max(map(abs, ds)) <= self.MAX_DERIVATIVE):
                return {"steps": steps, "x": x}
        return {"steps": ["sin", "square"], "x": x}  # pragma: no cover - never needed

    def call(self, fn, case, fname):
        steps = [(Provided("chain_step", name, "f"), Provided("chain_step", name, "df"))
                 for name in case["steps"]]
        out = unpack(fn(steps, float(case["x"])), ("tangents", "adjoints"), fname)
        return {name: _as_list(value, name) for name, value in out.items()}

    def expected(self, case):
        names, k = case["steps"], len(case["steps"])
        ws = chain_values(names, case["x"])
        tangents = [1.0] + [float(ad.grad(composition(names[:i]))(ws[0]))
                            for i in range(1, k + 1)]
        adjoints = [float(ad.grad(composition(names[i:]))(ws[i])) for i in range(k)] + [1.0]
        return {"tangents": np.array(tangents, float), "adjoints": np.array(adjoints, float)}

    def describe(self, case, fname):
        names = case["steps"]
        chain = ", ".join(f"w{i + 1} = {STEP_TEXT[n][0].format(f'w{i}')}"
                          for i, n in enumerate(names))
        return (f"{fname}(steps, x={fmt(case['x'])}) for the steps {', '.join(names)}: "
                f"w0 = x, {chain}")


def _as_list(value: Any, what: str, item: str = "number") -> list:
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise WrongOutput(f"{what} should be a list with one {item} per w_i", safe_repr(value))
    return list(value)


def three_paths(x1: Any, x2: Any) -> Any:
    """The function of exercise 00.three_paths: the worked example plus x1 / x2."""
    return x1 * x2 + ad.sin(x1) + x1 / x2


def _away_from_zero(rng: np.random.Generator, shape: tuple) -> Any:
    """Random values with two decimals and 0.5 <= |value| <= 3, either sign."""
    v = number(rng, 0.5, 3, shape) * np.where(rng.random(shape) < 0.5, -1.0, 1.0)
    return float(v) if shape == () else v


class ThreePaths(Checker):
    r"""``three_path_partials(x1, x2) -> (dz/dx1, dz/dx2)`` for
    :math:`z = x_1x_2 + \sin x_1 + x_1/x_2`, elementwise."""

    fixed = ({"x1": 2.0, "x2": 3.0}, {"x1": -1.0, "x2": 0.5})

    def random_case(self, rng, k):
        shape = SHAPES[k % len(SHAPES)]
        return {"x1": number(rng, -3, 3, shape), "x2": _away_from_zero(rng, shape)}

    def call(self, fn, case, fname):
        c = copy.deepcopy(case)
        return unpack(fn(c["x1"], c["x2"]), ("dz_dx1", "dz_dx2"), fname)

    def expected(self, case):
        z, pullback = ad.vjp(three_paths, case["x1"], case["x2"])
        dz_dx1, dz_dx2 = pullback(np.ones_like(z))  # elementwise: seed 1 on every entry
        return {"dz_dx1": np.asarray(dz_dx1, float), "dz_dx2": np.asarray(dz_dx2, float)}


def linear_chain(jacobians: list) -> Any:
    """x -> J_k (... (J_1 x)): a chain whose local Jacobians are the given matrices."""
    def f(x):
        for J in jacobians:
            x = ad.matmul(J, x)
        return x
    return f


class JacobianChain(Checker):
    r"""``accumulate_jacobians(jacobians) -> (forward, reverse)`` for a chain of matrices.

    ``forward[i]`` is :math:`J_i \cdots J_1` (the Jacobian of :math:`w_i` with respect to
    the input, ``forward[0]`` the identity); ``reverse[i]`` is :math:`J_k \cdots J_{i+1}`
    (the Jacobian of the output with respect to :math:`w_i`, ``reverse[k]`` the identity).
    """

    fixed = (
        {"jacobians": [np.array([[1.0, 2.0], [0.5, -1.0]]), np.array([[0.0, 1.0], [3.0, 1.0]]),
                       np.array([[2.0, -1.0], [1.0, 1.0]])]},
        {"jacobians": [np.array([[1.0, 0.0, 2.0], [-1.0, 1.0, 0.5]]),   # R^3 -> R^2
                       np.array([[0.5, 1.0], [2.0, -1.0]]),             # R^2 -> R^2
                       np.array([[1.0, 3.0]])]},                        # R^2 -> R
    )

    def random_case(self, rng, k):
        dims = [int(d) for d in rng.integers(1, 5, size=2 + k % 4)]
        if k % 2 == 0:  # square chains too: there a product in the wrong order has no
            dims = [dims[0]] * len(dims)  # shape error to give it away, only wrong numbers
        return {"jacobians": [number(rng, -2, 2, (dims[i + 1], dims[i]))
                              for i in range(len(dims) - 1)]}

    def call(self, fn, case, fname):
        jacobians = copy.deepcopy(case["jacobians"])
        k = len(jacobians)
        out = {}
        for what, got in unpack(fn(jacobians), ("forward", "reverse"), fname).items():
            got = _as_list(got, what, "matrix")
            if len(got) != k + 1:
                raise WrongOutput(f"{what} should hold k + 1 = {k + 1} matrices (one per w_i, "
                                  f"w_0 to w_{k}), not {len(got)}", f"{len(got)} items")
            out.update({f"{what}[{i}]": m for i, m in enumerate(got)})
        return out

    def expected(self, case):
        js = case["jacobians"]
        k, n0 = len(js), js[0].shape[1]
        out = {}
        for i in range(k + 1):
            out[f"forward[{i}]"] = np.asarray(ad.jacfwd(linear_chain(js[:i]))(np.zeros(n0)))
        for i in range(k + 1):
            n_i = js[i].shape[1] if i < k else js[-1].shape[0]
            out[f"reverse[{i}]"] = np.asarray(ad.jacrev(linear_chain(js[i:]))(np.zeros(n_i)))
        return {name: m.astype(float) for name, m in out.items()}

    def describe(self, case, fname):
        shapes = ", ".join("x".join(map(str, J.shape)) for J in case["jacobians"])
        mats = "; ".join(f"J{i + 1} = {' '.join(fmt(J).split())}"  # one line per matrix
                         for i, J in enumerate(case["jacobians"]))
        return f"{fname}([J1, ..., J{len(case['jacobians'])}]) with shapes {shapes}: {mats}"


# ---------------------------------------------------------------------------------
# Known mistakes: the outputs each one produces, and its feedback with the case's numbers
# ---------------------------------------------------------------------------------


def _line(value: Any) -> str:
    """``fmt(value)`` on one line (a matrix is printed over several)."""
    return " ".join(fmt(value).split())


def _first_wrong(wrong: dict, right: dict) -> str:
    """The first output whose mistaken value differs from the right one."""
    for name, want in right.items():
        have = np.asarray(wrong[name], float)
        if have.shape != want.shape or not np.allclose(have, want):
            return name
    return next(iter(right))


def _chain_parts(case: dict) -> dict:
    """The pieces of y = sin(log(1 + x^2)) at the case's x, named as in the exercise."""
    x = np.asarray(case["x"], float)
    inner = 1.0 + x * x
    outer_at = np.log(inner)
    return {"x": x, "w1": inner, "w2": outer_at, "cos_w2": np.cos(outer_at),
            "right": elementwise_derivative(chain, x)}


def _chain_wrong(case: dict, value: Any) -> str:
    return f"dy/dx = {_line(_chain_parts(case)['right'])}, not {_line(value)}"


CHAIN_DERIVATIVE_MISTAKES = (
    Mistake("outer-derivative-only",
            lambda c: {"dy_dx": _chain_parts(c)["cos_w2"]},
            lambda c: "you kept only the outer sine's local derivative, cos(log(1 + x^2)); "
                      "the chain rule also multiplies in the inner steps' local derivatives, "
                      f"1/(1 + x^2) = {_line(1 / _chain_parts(c)['w1'])} and 2x = "
                      f"{_line(2 * _chain_parts(c)['x'])}, so "
                      + _chain_wrong(c, _chain_parts(c)["cos_w2"])),
    Mistake("inner-derivative-dropped",
            lambda c: {"dy_dx": _chain_parts(c)["cos_w2"] / _chain_parts(c)["w1"]},
            lambda c: "the innermost step w1 = 1 + x^2 has a local derivative of its own, "
                      f"2x = {_line(2 * _chain_parts(c)['x'])}, and the product is missing it: "
                      + _chain_wrong(c, _chain_parts(c)["cos_w2"] / _chain_parts(c)["w1"])),
    Mistake("derivative-at-wrong-point",
            lambda c: {"dy_dx": np.cos(_chain_parts(c)["x"]) * 2 * _chain_parts(c)["x"]
                       / _chain_parts(c)["w1"]},
            lambda c: "the sine's derivative belongs at the sine's own input, w2 = "
                      f"log(1 + x^2) = {_line(_chain_parts(c)['w2'])}, not at x = "
                      f"{_line(_chain_parts(c)['x'])}: cos(w2) = "
                      f"{_line(_chain_parts(c)['cos_w2'])}, while cos(x) = "
                      f"{_line(np.cos(_chain_parts(c)['x']))}"),
    Mistake("sine-derivative-sign",
            lambda c: {"dy_dx": -_chain_parts(c)["right"]},
            lambda c: "the derivative of sin is +cos (the minus sign belongs to the "
                      "derivative of cos), so " + _chain_wrong(c, -_chain_parts(c)["right"])),
)


def _products(factors: list) -> list:
    """[1, f1, f1 f2, ...]: the running products of ``factors`` in the order given."""
    return [1.0, *np.cumprod(np.asarray(factors, float)).tolist()]


def _local(c: dict, at: str = "input") -> list:
    """[d_1, ..., d_k]: each step's derivative taken at its ``input`` w_{i-1} (right),
    or by mistake at ``x`` = w_0 or at its ``output`` w_i."""
    ws = chain_values(c["steps"], c["x"])
    points = {"input": ws[:-1], "x": ws[:1] * len(c["steps"]), "output": ws[1:]}[at]
    return [float(CHAIN_STEPS[n][1](w)) for n, w in zip(c["steps"], points)]


def _both_ways(local: list) -> dict:
    """Right tangents and adjoints for the local derivatives ``local``."""
    return {"tangents": _products(local), "adjoints": _products(local[::-1])[::-1]}


def _chain_lists(case: dict) -> dict:
    return {name: list(v) for name, v in ChainProduct().expected(case).items()}


def _adjoint_explain(c: dict) -> str:
    local, right = _local(c), _chain_lists(c)["adjoints"]
    wrong = _products(local)[::-1]
    k = len(local)
    i = next((j for j in range(k + 1) if not np.isclose(wrong[j], right[j])), 0)
    after = " * ".join(f"d{j}" for j in range(i + 1, k + 1)) or "1"
    before = " * ".join(f"d{j}" for j in range(1, k - i + 1)) or "1"
    return (f"the adjoint dw{k}/dw{i} multiplies the local derivatives AFTER w{i}, so "
            f"adjoints[{i}] = {after} = {fmt(right[i])}, not {before} = {fmt(wrong[i])}: "
            "you multiplied from the input side, but reverse accumulation starts at the "
            "output's seed with the last local derivative")


def _point_explain(c: dict, at: str) -> str:
    """Feedback for local derivatives taken at x or at the step's output."""
    names, ws = c["steps"], chain_values(c["steps"], c["x"])
    right, wrong = _local(c), _local(c, at)
    i = next((j for j in range(len(names)) if not np.isclose(wrong[j], right[j])), 0)
    name, derivative = names[i], STEP_TEXT[names[i]][1]
    where = "x" if at == "x" else f"w{i + 1}"
    at_value = ws[0] if at == "x" else ws[i + 1]
    told = "at x" if at == "x" else "at its output"
    return (f"each local derivative is taken at its own step's input, not {told}: step "
            f"{i + 1} ({name}) takes w{i} = {fmt(ws[i])}, so d{i + 1} = "
            f"{derivative.format(f'w{i}')} = {derivative.format(fmt(ws[i]))} = "
            f"{fmt(right[i])}, not {derivative.format(where)} = "
            f"{derivative.format(fmt(at_value))} = {fmt(wrong[i])}; with the right local "
            f"derivatives dy/dx = {fmt(_chain_lists(c)['tangents'][-1])}")


CHAIN_PRODUCT_MISTAKES = (
    Mistake("adjoints-not-reversed",
            lambda c: {"tangents": _products(_local(c)),
                       "adjoints": _products(_local(c)[::-1])},
            lambda c: f"the adjoints are listed by w_i, so the seed dw{len(c['steps'])}/"
                      f"dw{len(c['steps'])} = 1 goes last and adjoints[0] is the whole "
                      f"dy/dx = {fmt(_chain_lists(c)['adjoints'][0])}: adjoints should be "
                      f"{fmt(_chain_lists(c)['adjoints'])}, but yours is in the order you "
                      f"computed it, {fmt(_products(_local(c)[::-1]))}"),
    Mistake("seeds-missing",
            lambda c: {"tangents": _products(_local(c))[1:],
                       "adjoints": _products(_local(c)[::-1])[::-1][:-1]},
            lambda c: f"with k = {len(c['steps'])} steps each list needs k + 1 = "
                      f"{len(c['steps']) + 1} entries, one per w_0 ... w_{len(c['steps'])}: "
                      "tangents starts with its seed dw0/dw0 = 1 and adjoints ends with its "
                      f"seed dw{len(c['steps'])}/dw{len(c['steps'])} = 1, and yours have "
                      f"{len(c['steps'])}"),
    Mistake("adjoints-from-input-side",
            lambda c: {"tangents": _products(_local(c)),
                       "adjoints": _products(_local(c))[::-1]},
            _adjoint_explain),
    Mistake("derivatives-at-x",
            lambda c: _both_ways(_local(c, "x")),
            lambda c: _point_explain(c, "x")),
    Mistake("derivatives-at-output",
            lambda c: _both_ways(_local(c, "output")),
            lambda c: _point_explain(c, "output")),
)


def _paths(c: dict) -> dict:
    """The terms of z = x1 * x2 + sin(x1) + x1 / x2 at the case, one per path."""
    x1, x2 = np.asarray(c["x1"], float), np.asarray(c["x2"], float)
    right = ThreePaths().expected(c)
    return {"x1": x1, "x2": x2, "cos": np.cos(x1), "div1": 1 / x2, "div2": -x1 / x2 ** 2,
            "dx1": right["dz_dx1"], "dx2": right["dz_dx2"]}


def _right_partials(c: dict) -> str:
    p = _paths(c)
    return f"dz/dx1 = {_line(p['dx1'])} and dz/dx2 = {_line(p['dx2'])}"


THREE_PATHS_MISTAKES = (
    Mistake("division-path-forgotten",
            lambda c: {"dz_dx1": _paths(c)["x2"] + _paths(c)["cos"],
                       "dz_dx2": _paths(c)["x1"] + 0 * _paths(c)["x2"]},
            lambda c: "a forgotten path: these are the worked example's partials, x2 + "
                      f"cos(x1) = {_line(_paths(c)['x2'] + _paths(c)['cos'])} and x1 = "
                      f"{_line(_paths(c)['x1'])}, but x1 / x2 is one more path from x1 to "
                      "z and one more from x2; its terms add "
                      f"{_line(_paths(c)['div1'])} to dz/dx1 and {_line(_paths(c)['div2'])} "
                      f"to dz/dx2, so {_right_partials(c)}"),
    Mistake("sine-path-forgotten",
            lambda c: {"dz_dx1": _paths(c)["x2"] + _paths(c)["div1"],
                       "dz_dx2": _paths(c)["dx2"]},
            lambda c: "a forgotten path: x1 also reaches z through sin(x1), whose term "
                      f"cos(x1) = {_line(_paths(c)['cos'])} is missing from dz/dx1; it "
                      f"should be {_line(_paths(c)['dx1'])}, not "
                      f"{_line(_paths(c)['x2'] + _paths(c)['div1'])}"),
    Mistake("division-sign",
            lambda c: {"dz_dx1": _paths(c)["dx1"],
                       "dz_dx2": _paths(c)["x1"] - _paths(c)["div2"]},
            lambda c: "the division's local partial with respect to x2 is -x1/x2**2 = "
                      f"{_line(_paths(c)['div2'])} (the derivative of 1/x2 is -1/x2**2), "
                      f"not +x1/x2**2 = {_line(-_paths(c)['div2'])}: dz/dx2 = "
                      f"{_line(_paths(c)['dx2'])}, not "
                      f"{_line(_paths(c)['x1'] - _paths(c)['div2'])}"),
    Mistake("division-partial-without-x1",
            lambda c: {"dz_dx1": _paths(c)["dx1"],
                       "dz_dx2": _paths(c)["x1"] - 1 / _paths(c)["x2"] ** 2},
            lambda c: "the division's local partial with respect to x2 keeps the numerator "
                      f"x1 as a factor: -x1/x2**2 = {_line(_paths(c)['div2'])}, not "
                      f"-1/x2**2 = {_line(-1 / _paths(c)['x2'] ** 2)}, so dz/dx2 = "
                      f"{_line(_paths(c)['dx2'])}"),
    Mistake("swapped-product-partials",
            lambda c: {"dz_dx1": _paths(c)["x1"] + _paths(c)["cos"] + _paths(c)["div1"],
                       "dz_dx2": _paths(c)["x2"] + _paths(c)["div2"]},
            lambda c: "the product's partials are swapped: the partial of x1 * x2 with "
                      f"respect to x1 is the OTHER factor, x2 = {_line(_paths(c)['x2'])}, "
                      f"and with respect to x2 it is x1 = {_line(_paths(c)['x1'])}; so "
                      + _right_partials(c)),
)


def _stacked(start: np.ndarray, factors: list, left: bool) -> list:
    """``start`` and the running products with ``factors``, each new one on the left
    (``f @ previous``) or on the right (``previous @ f``)."""
    out = [start]
    for f in factors:
        out.append(f @ out[-1] if left else out[-1] @ f)
    return out


def _jacobian_outputs(forward: list, reverse: list) -> dict:
    return {**{f"forward[{i}]": m for i, m in enumerate(forward)},
            **{f"reverse[{i}]": m for i, m in enumerate(reverse)}}


def _right_forward(c: dict) -> list:
    return [m for name, m in JacobianChain().expected(c).items() if name.startswith("forward")]


def _right_reverse(c: dict) -> list:
    return [m for name, m in JacobianChain().expected(c).items() if name.startswith("reverse")]


def _eye_in(c: dict) -> np.ndarray:
    return np.eye(c["jacobians"][0].shape[1])


def _eye_out(c: dict) -> np.ndarray:
    return np.eye(c["jacobians"][-1].shape[0])


def _product_text(indices: Any) -> str:
    return " @ ".join(f"J{j}" for j in indices)


def _jacobian_explain(c: dict, wrong: dict, claim: Any) -> str:
    """``claim(name, i, k)``: what ``name`` (the first wrong output) should be and is."""
    right = JacobianChain().expected(c)
    name = _first_wrong(wrong, right)
    i, k = int(name[name.index("[") + 1:-1]), len(c["jacobians"])
    should, got = claim(name, i, k)
    return (f"{name} should be {should} = {_line(right[name])}, not {got} = "
            f"{_line(wrong[name])}")


def _forward_left(c):
    return _jacobian_outputs(_stacked(_eye_in(c), c["jacobians"], left=False), _right_reverse(c))


def _reverse_right(c):
    return _jacobian_outputs(_right_forward(c),
                             _stacked(_eye_out(c), c["jacobians"][::-1], left=True)[::-1])


def _reverse_unflipped(c):
    return _jacobian_outputs(_right_forward(c),
                             _stacked(_eye_out(c), c["jacobians"][::-1], left=False))


def _reverse_transposed(c):
    transposed = [J.T for J in c["jacobians"][::-1]]
    return _jacobian_outputs(_right_forward(c),
                             _stacked(_eye_out(c), transposed, left=True)[::-1])


JACOBIAN_CHAIN_MISTAKES = (
    Mistake("forward-factor-on-wrong-side", _forward_left,
            lambda c: "each new Jacobian joins the forward product on the LEFT (matrix "
                      "products do not commute): " + _jacobian_explain(
                          c, _forward_left(c), lambda name, i, k: (
                              _product_text(range(i, 0, -1)), _product_text(range(1, i + 1))))),
    Mistake("reverse-factor-on-wrong-side", _reverse_right,
            lambda c: "each earlier Jacobian joins the reverse product on the RIGHT (matrix "
                      "products do not commute): " + _jacobian_explain(
                          c, _reverse_right(c), lambda name, i, k: (
                              _product_text(range(k, i, -1)),
                              _product_text(range(i + 1, k + 1))))),
    Mistake("reverse-list-not-flipped", _reverse_unflipped,
            lambda c: "the reverse list is left in the order it was computed: reverse[i] "
                      "belongs to w_i, so the identity goes last, at "
                      f"reverse[{len(c['jacobians'])}], and " + _jacobian_explain(
                          c, _reverse_unflipped(c), lambda name, i, k: (
                              _product_text(range(k, i, -1)) or "the identity",
                              _product_text(range(k, k - i, -1)) or "the identity"))),
    Mistake("transposed-jacobian", _reverse_transposed,
            lambda c: "the transposed Jacobian: reverse[i] = dw_k/dw_i is the matrix "
                      "J_k ... J_(i+1) itself, of shape (n_k, n_i), and multiplying transposed "
                      "factors builds its transpose: " + _jacobian_explain(
                          c, _reverse_transposed(c), lambda name, i, k: (
                              _product_text(range(k, i, -1)), "its transpose"))),
)


EXERCISES = (
    Exercise(
        id="00.chain_derivative", notebook="00_chain_rule", points=2, name="chain_derivative",
        title="The derivative of a composition", checker=ChainDerivative(),
        hint="y is a composition of three steps: an inner 1 + x^2, then a log, then a sine. "
             "By the chain rule dy/dx is the product of the three local derivatives, each "
             "taken at the value that goes into its own step.",
        more_hints=(
            "Name the intermediate values: w1 = 1 + x^2 and w2 = log(w1). The local "
            "derivatives are dw1/dx = 2x, dw2/dw1 = 1/w1 and dy/dw2 = cos(w2); the cosine "
            "takes w2, not x.",
            "Outline: compute w1 from x, then w2 from w1, then return the product of the "
            "three local derivatives. Use np.log and np.cos with * and /, which work "
            "elementwise, so that an array x gives an array of the same shape.",
        ),
        mistakes=CHAIN_DERIVATIVE_MISTAKES,
    ),
    Exercise(
        id="00.chain_product", notebook="00_chain_rule", points=2, name="accumulate",
        title="Forward and reverse accumulation along a chain", checker=ChainProduct(),
        hint="First walk the chain from x to get every w_i: each local derivative d_i is "
             "the step's derivative taken at that step's own input w_(i-1), not at x and "
             "not at the step's output. Then both lists are running products of the d_i, "
             "one number per w_i: forward from the seed dw0/dw0 = 1 at the input, reverse "
             "from the seed dwk/dwk = 1 at the output.",
        more_hints=(
            "With w_0 = x: d_i = df_i(w_(i-1)) and w_i = f_i(w_(i-1)), in that order for "
            "each step. Going forward, tangents[i] = tangents[i-1] * d_i. Going backward, "
            "adjoints[i-1] = adjoints[i] * d_i, so the adjoints are found from the last "
            "entry towards the first. With k steps each list has k + 1 entries, its seed "
            "included.",
            "Outline: one loop over the (f, df) pairs that keeps the current w, appends "
            "df(w) to a list of local derivatives and only then moves w on to f(w); a "
            "list that starts with the seed 1 and grows by one product per local "
            "derivative, first to last; a second list that starts with the seed 1 and "
            "takes them last to first, put in the order w_0 ... w_k before returning "
            "both. Check: adjoints[0] equals tangents[-1], the whole dy/dx.",
        ),
        mistakes=CHAIN_PRODUCT_MISTAKES,
    ),
    Exercise(
        id="00.three_paths", notebook="00_chain_rule", points=2,
        name="three_path_partials", title="Both partials of z = x1 * x2 + sin(x1) + x1 / x2",
        checker=ThreePaths(),
        hint="List the paths from each input to z: x1 goes through the product x1 * x2, "
             "through sin(x1) and through the division x1 / x2; x2 goes through the "
             "product and the division. The chain rule adds one term per path, each the "
             "product of the local derivatives along it.",
        more_hints=(
            "The product and the sine have the local partials of section 4. The division "
            "is the new step: its local partial with respect to its numerator x1 is "
            "1/x2, and with respect to its denominator x2 it is -x1/x2**2 (the "
            "derivative of 1/x2 is -1/x2**2, times the factor x1). The final sum passes "
            "every term on with factor 1.",
            "Outline: dz/dx1 is a sum of three terms (product, sine, division; np.cos so "
            "that arrays work) and dz/dx2 a sum of two (product, division); the operators "
            "* and / work entry by entry on arrays; return them in that order.",
        ),
        mistakes=THREE_PATHS_MISTAKES,
    ),
    Exercise(
        id="00.jacobian_chain", notebook="00_chain_rule", points=3,
        name="accumulate_jacobians", title="A chain of Jacobian matrices, from both ends",
        checker=JacobianChain(),
        hint="forward[i] and reverse[i] are partial products of the chain's Jacobians, "
             "from the input end and from the output end. Matrix products do not commute, "
             "so the side on which each new factor joins decides the answer.",
        more_hints=(
            "Forward starts from the n0 x n0 identity (n0 = the number of columns of J1) "
            "and each new Jacobian joins on the LEFT: forward[i] = J_i @ forward[i-1]. "
            "Reverse starts from the nk x nk identity at w_k (nk = the number of rows of "
            "J_k) and each earlier Jacobian joins on the RIGHT: reverse[i-1] = "
            "reverse[i] @ J_i.",
            "Outline: one loop over the Jacobians in order that keeps every product "
            "(k + 1 matrices, the identity first); one loop over them in reverse order "
            "that keeps every product; then put the second list in the order w_0 ... w_k, "
            "so that its identity comes last. No transposes are needed, and forward[k] "
            "and reverse[0] are both the whole Jacobian J_k ... J_1.",
        ),
        mistakes=JACOBIAN_CHAIN_MISTAKES,
    ),
)
