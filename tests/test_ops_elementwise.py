"""Property tests of the elementwise functions and reductions added for NumPy coverage.

The registry entries of tests/ops_elementwise.py (sinh ... ceil, min, prod, var, std,
cumsum, cumprod), in the style of test_primitives.py: each against central differences,
forward and reverse mode, to second order, on hypothesis-drawn shapes, values, axes and
``keepdims`` / ``ddof``; the binary ones with broadcasting; NumPy dispatch on ``Var`` and
``Dual`` and inside the transformations; products at zeros; the piecewise-constant ones
(derivative 0); float32 kept float32. All hypothesis tests are derandomized.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from ops_elementwise import COVERED, TYPICAL
from test_primitives import SHAPES, axis_args, cfg, check, grid, operand, signed

import adlab as ad
from adlab.core import raw

REGISTRY = ad.REGISTRY


# ---------------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------------

SMOOTH_UNARY = {  # name: (low, high) of a domain where the function is smooth
    "sinh": (-2.0, 2.0), "cosh": (-2.0, 2.0), "arcsin": (-0.9, 0.9), "arccos": (-0.9, 0.9),
    "arctan": (-3.0, 3.0), "log1p": (-0.7, 3.0), "expm1": (-2.0, 2.0), "log2": (0.3, 3.0),
    "log10": (0.3, 3.0), "exp2": (-2.0, 2.0), "square": (-2.0, 2.0),
}


@pytest.mark.parametrize("name", sorted(SMOOTH_UNARY) + ["reciprocal"])
@cfg(12)
@given(data=st.data())
def test_smooth_unary(name, data):
    shape = data.draw(SHAPES)
    if name == "reciprocal":
        x = data.draw(signed(shape, 0.4, 2.0))
    else:
        x = data.draw(operand(shape, *SMOOTH_UNARY[name]))
    prim = REGISTRY[name]
    check(prim, (x,))
    np.testing.assert_allclose(raw(prim(ad.Var(x))), getattr(np, name)(x), rtol=1e-14)


def test_expm1_derivative_keeps_tiny_values():
    # e^x, not ans + 1: at x = -40, 1 + expm1(x) is exactly 0 in floating point
    g = ad.grad(ad.expm1)(-40.0)
    assert g == pytest.approx(math.exp(-40.0), rel=1e-12)


def _binary_domain(name):
    """Strategies (x for shape, y for shape) in a smooth region of the binary primitive."""
    if name == "arctan2":  # y never near 0: away from the origin and the cut at y = 0, x < 0
        return (lambda s: signed(s, 0.3, 2.0)), (lambda s: operand(s, -2.0, 2.0))
    if name == "hypot":  # away from the origin: y is never near 0
        return (lambda s: operand(s, -2.0, 2.0)), (lambda s: signed(s, 0.3, 2.0))
    if name in ("remainder", "fmod"):
        # x on the grid 0.1 k + 0.05 and y in {±0.5, ±1, ±2}: x / y stays at least 0.025
        # away from an integer, so no jump of x mod y is near
        ys = lambda s: hnp.arrays(np.float64, s, elements=st.sampled_from(
            [0.5, 1.0, 2.0, -0.5, -1.0, -2.0]))
        return (lambda s: grid(s, offset=0.05)), ys
    return (lambda s: operand(s, -2.0, 2.0)), (lambda s: operand(s, -2.0, 2.0))


BINARY = ["arctan2", "hypot", "logaddexp", "remainder", "fmod"]


@pytest.mark.parametrize("name", BINARY)
@cfg(20)
@given(data=st.data())
def test_binary_with_broadcasting(name, data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0,
                                                         max_dims=3, max_side=4))
    xs, ys = _binary_domain(name)
    x = data.draw(xs(shapes.input_shapes[0]))
    y = data.draw(ys(shapes.input_shapes[1]))
    if name in ("hypot", "logaddexp") and data.draw(st.booleans()):
        x, y = y, x  # symmetric domains: either side may be the smaller one
    prim = REGISTRY[name]
    check(prim, (x, y))
    np.testing.assert_allclose(raw(prim(ad.Var(x), y)), getattr(np, name)(x, y), rtol=1e-14)


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", [((3, 1), (4,)), ((), (2, 3)), ((2, 3), ()),
                                    ((2, 1, 4), (3, 1))], ids=str)
def test_binary_classic_broadcasts(name, shapes):
    rng = np.random.default_rng(7)
    sx, sy = shapes
    x = 0.1 * rng.integers(-20, 20, sx) + 0.05  # as in _binary_domain
    y = rng.choice([0.5, 1.0, 2.0, -0.5, -1.0, -2.0], sy)
    x = float(x) if sx == () else x  # Python floats on either side
    y = float(y) if sy == () else y
    check(REGISTRY[name], (x, y))


def test_remainder_derivatives_are_those_of_x_minus_y_floor():
    x = np.array([3.7, -3.7, 3.7, -3.7, 0.4])
    y = np.array([1.5, 1.5, -1.5, -1.5, 2.0])
    np.testing.assert_array_equal(raw(ad.remainder(x, y)), x % y)  # sign of y, like Python
    gx, gy = ad.grad(lambda x, y: ad.sum(x % y), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gx, np.ones(5))
    np.testing.assert_array_equal(gy, -np.floor(x / y))
    gx, gy = ad.grad(lambda x, y: ad.sum(ad.fmod(x, y)), argnums=(0, 1))(x, y)
    np.testing.assert_array_equal(gy, -np.trunc(x / y))  # fmod: sign of x, C's rule


def test_hypot_at_the_origin_has_derivative_zero():
    # like |x| at 0 (hypot(x, 0) = |x|): the documented choice, not nan
    gx, gy = ad.grad(lambda x, y: ad.hypot(x, y), argnums=(0, 1))(0.0, 0.0)
    assert (gx, gy) == (0.0, 0.0)
    g = ad.grad(lambda x: ad.sum(ad.hypot(x, np.array([0.0, 3.0]))))(np.array([0.0, 4.0]))
    np.testing.assert_allclose(g, [0.0, 0.8])


OPERATORS = {  # x % c, c % x and fmod, with Python numbers and arrays on either side
    "x % 0.5": lambda x: x % 0.5, "x % -2": lambda x: x % -2,
    "2.0 % x": lambda x: 2.0 % x, "C % x": lambda x: np.array([[2.5, -1.3, 3.1]]) % x,
    "x % C": lambda x: x % np.array([[0.5, -1.0, 2.0]]),
    "np.mod(x, 0.5)": lambda x: np.mod(x, 0.5), "np.remainder(C, x)":
        lambda x: np.remainder(np.array([[2.5, -1.3, 3.1]]), x),
    "np.fmod(x, -0.5)": lambda x: np.fmod(x, -0.5), "np.fmod(2.0, x)": lambda x: np.fmod(2.0, x),
}


@pytest.mark.parametrize("expr", list(OPERATORS))
@cfg(6)
@given(data=st.data())
def test_remainder_operators(expr, data):
    shape = data.draw(st.sampled_from([(), (3,), (2, 3)]))
    # x in [0.71, 0.79]: no jump of x mod 0.5 / 1 / 2, nor of c mod x for these c
    x = data.draw(operand(shape, 0.71, 0.79))
    check(OPERATORS[expr], (x,))
    np.testing.assert_allclose(raw(OPERATORS[expr](ad.Var(x))), OPERATORS[expr](x), rtol=1e-14)


@pytest.mark.parametrize("name", ["floor", "ceil"])
@cfg(20)
@given(data=st.data())
def test_piecewise_constant_derivative_zero(name, data):
    shape = data.draw(SHAPES)
    x = data.draw(grid(shape, offset=0.05))  # never an integer: derivative 0 both sides
    prim = REGISTRY[name]
    np.testing.assert_array_equal(raw(prim(ad.Var(x))), getattr(np, name)(x))
    assert prim.constant
    # forward mode: no tangent; reverse mode: nothing flows back (a zero gradient)
    value, tangent = ad.jvp(prim, (x,), (np.ones_like(x),))
    np.testing.assert_array_equal(tangent, np.zeros_like(x))
    np.testing.assert_array_equal(ad.grad(lambda x: ad.sum(prim(x)))(x), np.zeros_like(x))
    # inside a product: d/dx [x floor(x)] = floor(x), to second order
    check(lambda x: x * prim(x), (x,))


def test_piecewise_constant_in_the_rule_table():
    rows = {line.split()[0]: line for line in ad.rule_table().splitlines()}
    for name in ("floor", "ceil"):
        assert rows[name].endswith("derivative 0 (piecewise constant)")
    assert "d/dy = -floor(x/y)" in rows["remainder"]


# ---------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------

REDUCTIONS = ["min", "prod", "var", "std"]


@pytest.mark.parametrize("name", REDUCTIONS)
@cfg(25)
@given(data=st.data())
def test_reductions(name, data):
    shape = data.draw(SHAPES)
    axis = data.draw(axis_args(len(shape)))
    keepdims = data.draw(st.booleans())
    params = {"axis": axis, "keepdims": keepdims}
    if name in ("min", "std"):  # distinct entries 0.1 apart: no ties, std > 0
        x = data.draw(grid(shape, unique=True))
    else:  # prod: hypothesis draws zeros (and several zeros) often
        x = data.draw(operand(shape, -2.0, 2.0))
    if name in ("var", "std"):
        count = np.size(np.ones(shape)) // np.size(np.sum(np.ones(shape), axis=axis))
        params["ddof"] = data.draw(st.sampled_from([0, 1] if count > 1 else [0]))
    prim = REGISTRY[name]
    f = lambda x: prim(x, **params)
    np.testing.assert_allclose(raw(f(ad.Var(x))), getattr(np, name)(x, **params),
                               rtol=1e-12, atol=1e-14)
    check(f, (x,))


def test_min_splits_the_derivative_between_ties():
    g = ad.grad(lambda x: ad.min(x))(np.array([1.0, -3.0, -3.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.5, 0.5, 0.0])
    g = ad.grad(lambda x: ad.sum(ad.min(x, axis=0)))(np.array([[1.0, 2.0], [1.0, 0.0]]))
    np.testing.assert_array_equal(g, [[0.5, 0.0], [0.5, 1.0]])


def test_std_of_equal_entries_has_derivative_zero():
    # std over an axis of length 1 is identically 0: its derivative is 0 (not nan)
    x = np.array([[1.5], [-0.3]])
    np.testing.assert_array_equal(ad.grad(lambda x: ad.sum(ad.std(x, axis=1)))(x), 0 * x)
    check(lambda x: ad.std(x, axis=1), (x,))


@pytest.mark.parametrize("name", ["cumsum", "cumprod"])
@cfg(20)
@given(data=st.data())
def test_cumulative(name, data):
    shape = data.draw(SHAPES)
    n = len(shape)
    axis = data.draw(st.sampled_from([None] + list(range(-n, n))))
    x = data.draw(operand(shape, -2.0, 2.0))  # zeros among them, for cumprod
    prim = REGISTRY[name]
    f = lambda x: prim(x, axis=axis)
    np.testing.assert_allclose(raw(f(ad.Var(x))), getattr(np, name)(x, axis=axis),
                               rtol=1e-12, atol=1e-14)
    # cumsum is linear: square it so that order 2 sees a value
    check(lambda x: f(x) * f(x) if name == "cumsum" else f(x), (x,))


# products at zeros: none, one, two, all, at either end, along either axis
ZEROS = {
    "no zero": [1.5, -0.5, 2.0, 0.7, -1.2], "one zero": [1.5, -0.5, 0.0, 0.7, -1.2],
    "zero first": [0.0, -0.5, 2.0, 0.7, -1.2], "zero last": [1.5, -0.5, 2.0, 0.7, 0.0],
    "two zeros": [1.5, 0.0, 2.0, 0.0, -1.2], "all zeros": [0.0, 0.0, 0.0, 0.0, 0.0],
    "single zero": [0.0],
}


def _exact_cumprod_jacobian(x):
    """J[k, i] = ∏_{j ≤ k, j ≠ i} x_j for i ≤ k, by explicit loops (no division)."""
    n = len(x)
    return np.array([[math.prod(x[j] for j in range(k + 1) if j != i) if i <= k else 0.0
                      for i in range(n)] for k in range(n)])


@pytest.mark.parametrize("case", list(ZEROS))
def test_products_at_zeros(case):
    x = np.array(ZEROS[case])
    others = np.array([math.prod(np.delete(x, i)) for i in range(len(x))])
    exact = _exact_cumprod_jacobian(x)
    for got, want in [(ad.grad(ad.prod)(x), others), (ad.jacrev(ad.cumprod)(x), exact),
                      (ad.jacfwd(ad.cumprod)(x), exact)]:
        np.testing.assert_allclose(raw(got), want, rtol=1e-15, atol=0)  # zeros exactly 0
    # against central differences, to second order; and order 3 once (rules of rules)
    check(ad.prod, (x,))
    check(ad.cumprod, (x,))
    if case == "two zeros":
        check(ad.prod, (x,), order=3)
        check(ad.cumprod, (x,), order=3)


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1)])
def test_products_at_zeros_along_axes(axis):
    x = np.array([[0.0, 1.5, -2.0], [0.0, 0.0, 0.5], [1.2, -0.7, 0.0], [0.9, 1.1, 1.3]])
    for keepdims in (False, True):
        check(lambda x, keepdims=keepdims: ad.prod(x, axis=axis, keepdims=keepdims), (x,))
    if not isinstance(axis, tuple):
        check(lambda x: ad.cumprod(x, axis=axis), (x,))


def test_long_cumprod_reverse_mode():
    # the scan takes log2(n) steps: a long row is quick and exact (here with zeros)
    x = np.linspace(0.5, 1.5, 1000)
    x[[10, 700]] = 0.0
    g = ad.grad(lambda x: ad.sum(ad.cumprod(x)))(x)
    # Σ_k ∂y_k/∂x_i: only x_10 (the first zero) has a nonzero derivative past index 10
    assert np.all(g[11:] == 0.0)
    want_10 = sum(math.prod(x[j] for j in range(k + 1) if j != 10) for k in range(10, 700))
    assert g[10] == pytest.approx(want_10, rel=1e-12)


# ---------------------------------------------------------------------------------
# NumPy dispatch, methods, keyword arguments
# ---------------------------------------------------------------------------------

M = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1]])
X0 = np.array([[0.42, 0.83, 0.61], [0.17, 0.26, 0.73]])  # in (0, 1), no ties, no integers
DISPATCH = {
    **{f"np.{n}": getattr(np, n) for n in (
        "sinh", "cosh", "arcsin", "arccos", "arctan", "log1p", "expm1", "log2", "log10",
        "exp2", "reciprocal", "square", "floor", "ceil")},
    "np.arctan2(v, M)": lambda v: np.arctan2(v, M), "np.arctan2(M, v)": lambda v: np.arctan2(M, v),
    "np.hypot(M, v)": lambda v: np.hypot(M, v), "np.logaddexp(v, M)": lambda v: np.logaddexp(v, M),
    "v % 0.3": lambda v: v % 0.3, "np.mod(v, 0.3)": lambda v: np.mod(v, 0.3),
    "np.remainder(M, v)": lambda v: np.remainder(M, v),
    "np.fmod(v, -0.3)": lambda v: np.fmod(v, -0.3),
    "np.min": np.min, "np.amin axis=0": lambda v: np.amin(v, axis=0),
    "np.min(v, 1, None, True)": lambda v: np.min(v, 1, None, True), "v.min(axis=-1)":
        lambda v: v.min(axis=-1),
    "np.prod": np.prod, "np.prod axis=0": lambda v: np.prod(v, axis=0),
    "v.prod(1, keepdims=True)": lambda v: v.prod(1, keepdims=True),
    "np.var": np.var, "np.var(v, 0, None, None, 1)": lambda v: np.var(v, 0, None, None, 1),
    "np.var correction=1": lambda v: np.var(v, axis=1, correction=1),
    "v.var(ddof=1)": lambda v: v.var(ddof=1),
    "np.std axis=-1 keepdims": lambda v: np.std(v, axis=-1, keepdims=True),
    "v.std(0)": lambda v: v.std(0),
    "np.cumsum": np.cumsum, "np.cumsum axis=1": lambda v: np.cumsum(v, axis=1),
    "v.cumsum(0)": lambda v: v.cumsum(0), "np.cumprod": np.cumprod,
    "np.cumprod axis=-2": lambda v: np.cumprod(v, axis=-2), "v.cumprod(1)": lambda v: v.cumprod(1),
}


@pytest.mark.parametrize("kind", ["Var", "Dual"])
@pytest.mark.parametrize("name", list(DISPATCH))
def test_numpy_dispatch(name, kind):
    fn = DISPATCH[name]
    want = fn(X0)  # NumPy itself on plain arrays is the reference
    v = np.random.default_rng(11).standard_normal(X0.shape)
    h = 1e-6
    fd = (fn(X0 + h * v) - fn(X0 - h * v)) / (2 * h)
    if kind == "Dual":
        out = fn(ad.Dual(X0, v))
        np.testing.assert_allclose(raw(out), want, rtol=1e-13)
        if isinstance(out, ad.Dual):
            np.testing.assert_allclose(raw(out.tangent), fd, rtol=1e-6, atol=1e-8)
        else:  # floor, ceil: piecewise constant, no tangent at all
            np.testing.assert_array_equal(fd, 0 * fd)
    else:
        x = ad.Var(X0)
        out = fn(x)
        np.testing.assert_allclose(raw(out), want, rtol=1e-13)
        if isinstance(out, ad.Var):
            u = np.random.default_rng(12).standard_normal(np.shape(want))
            out.backward(u)
            got = 0.0 if x.grad is None else np.vdot(x.grad, v)
            assert got == pytest.approx(np.vdot(u, fd), rel=1e-6, abs=1e-8)
    # inside the transformations, e.g. np.prod(x, axis=0) within ad.grad
    check(fn, (X0,), order=1)


def test_numpy_reduction_inside_grad():
    x = np.array([[2.0, 0.0, 3.0], [4.0, 5.0, 0.5]])
    g = ad.grad(lambda x: np.sum(np.prod(x, axis=0)))(x)
    np.testing.assert_array_equal(g, [[4.0, 5.0, 0.5], [2.0, 0.0, 3.0]])
    g = ad.grad(lambda x: np.sum(np.sinh(x)))(x)
    np.testing.assert_allclose(g, np.cosh(x), rtol=1e-15)


UNSUPPORTED = {
    "np.prod dtype": lambda v: np.prod(v, dtype=np.float32),
    "np.min initial": lambda v: np.min(v, initial=0.0),
    "np.min out": lambda v: np.min(v, 0, np.zeros(3)),
    "np.var where": lambda v: np.var(v, where=np.ones((2, 3), bool)),
    "np.std mean": lambda v: np.std(v, axis=0, mean=np.ones((1, 3))),
    "np.var ddof and correction": lambda v: np.var(v, ddof=1, correction=1),
    "np.cumsum out": lambda v: np.cumsum(v, out=np.zeros(6)),
    "np.cumprod dtype": lambda v: np.cumprod(v, 0, np.float32),
    "v.prod dtype": lambda v: v.prod(dtype=np.float32),
    "np.sinh out": lambda v: np.sinh(v, out=np.zeros((2, 3))),
}


@pytest.mark.parametrize("name", list(UNSUPPORTED))
def test_unsupported_keywords_raise(name):
    with pytest.raises(TypeError, match=r"adlab|numpy\.|ddof"):
        UNSUPPORTED[name](ad.Var(X0))


def test_exported():
    for name in COVERED:
        assert getattr(ad, name) is REGISTRY[name], name
        assert name in ad.__all__, name


# ---------------------------------------------------------------------------------
# float32 stays float32; static gradient graphs recompute the choices of the rules
# ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(COVERED))
def test_float32_stays_float32(name):
    prim = REGISTRY[name]
    rng = np.random.default_rng(3)
    for args, params in TYPICAL[name](rng):
        args = tuple(np.float32(a) if isinstance(a, float) else a.astype(np.float32)
                     for a in args)
        ans = prim(*args, **params)
        assert np.result_type(ans) == np.float32, (name, params)
        g = np.ones(np.shape(ans), np.float32)
        tangents = [np.ones(np.shape(a), np.float32) for a in args]
        for i in range(len(args)):
            if not prim.differentiable(i):
                continue
            ct = prim.vjp(i, g, ans, args, params)
            assert np.result_type(raw(ct)) == np.float32, (name, i, params)
            one = [t if j == i else None for j, t in enumerate(tangents)]
            assert np.result_type(raw(prim.jvp(one, ans, args, params))) == np.float32
        if prim.constant:
            continue
        # and through the transformations
        out, pullback = ad.vjp(lambda *xs, params=params: prim(*xs, **params), *args)
        assert all(np.result_type(raw(c)) == np.float32 for c in pullback(g))


STATIC = {  # the rules' choices (floor, zero denominators) must be recomputed on replay
    "remainder": (lambda x: ad.sum(2.0 % x), np.array([0.3, 0.7, 1.2]),
                  np.array([0.45, 0.55, -0.8])),
    "hypot": (lambda x: ad.sum(ad.hypot(x, x[::-1])), np.array([0.5, 1.0, 2.0]),
              np.array([0.0, 2.0, 0.0])),
    "prod": (lambda x: ad.prod(x * x + x), np.array([0.5, 1.0, 2.0]),
             np.array([0.0, 1.0, -1.0])),
    "std": (lambda x: ad.sum(ad.std(ad.reshape(x, (3, 1)), axis=1) + ad.std(x)),
            np.array([0.5, 1.0, 2.0]), np.array([1.0, 1.0, 3.0])),
}


@pytest.mark.parametrize("name", list(STATIC))
def test_gradient_graph_replays(name):
    f, x_traced, x_new = STATIC[name]
    graph = ad.trace(f, x_traced).gradient()
    np.testing.assert_allclose(raw(graph(x_new)), ad.grad(f)(x_new), rtol=1e-14, atol=0)


def test_every_entry_has_typical_inputs():
    assert set(TYPICAL) == COVERED
