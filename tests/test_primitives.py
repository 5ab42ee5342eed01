"""Property-based tests of every primitive's derivative rules.

1. Every primitive in ``adlab.ops.REGISTRY`` (and the helpers dot / expand_dims /
   squeeze / swapaxes) against central differences, forward and reverse mode, to second
   order, on hypothesis-drawn shapes, values, axes and indices.
2. NumPy dispatch on ``Var`` and ``Dual``.
3. jvp and vjp agree (``<u, J v> == <J^T u, v>``); jacfwd == jacrev; Hessians.
4. The ``reads`` declarations of the VJP rules are honest and not over-broad.
5. Determinism: the same computation gives bit-identical derivatives.

All hypothesis tests are derandomized, so a run repeats exactly.
"""

from __future__ import annotations

import math

import numpy as np
import ops_arrays
import ops_elementwise
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import adlab as ad
from adlab import ops
from adlab.core import raw

REGISTRY = ops.REGISTRY


def cfg(n: int):
    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


def check(f, args, order=2):
    ad.check_grads(f, args, modes=("fwd", "rev"), order=order)


# ---------------------------------------------------------------------------------
# Strategies
# ---------------------------------------------------------------------------------

SHAPES = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)


def reals(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def array(shape, lo, hi):
    """A float64 array of ``shape`` with entries in [lo, hi]."""
    return hnp.arrays(np.float64, shape, elements=reals(lo, hi))


def operand(shape, lo, hi, python_float=True):
    """An operand of ``shape``; a 0-d operand is sometimes a Python float."""
    arr = array(shape, lo, hi)
    if shape == () and python_float:
        return st.one_of(reals(lo, hi), arr)
    return arr


def signed(shape, lo, hi):
    """Entries with lo <= |x| <= hi and either sign (e.g. denominators)."""
    sign = st.sampled_from([-1.0, 1.0])
    magnitude = reals(lo, hi)
    return hnp.arrays(np.float64, shape, elements=st.builds(lambda m, s: m * s, magnitude, sign))


def grid(shape, offset=0.0, unique=False):
    """Entries ``0.1 * k + offset`` with integer ``k``: ties and kinks are at least
    0.05 away when ``offset`` is 0.05 (entries never 0) or when two grids with offsets 0
    and 0.05 are compared. ``unique`` makes all entries distinct (no ties in max)."""
    ks = hnp.arrays(np.int64, shape, elements=st.integers(-35, 35), unique=unique)
    return ks.map(lambda k: 0.1 * k.astype(np.float64) + offset)


@st.composite
def axis_args(draw, ndim, allow_tuple=True):
    """``axis`` for a reduction over an ndim-array: None, an int, or a tuple (negatives too)."""
    if ndim == 0:
        return None
    kinds = ["none", "int"] + (["tuple"] if allow_tuple else [])
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return None
    if kind == "int":
        return draw(st.integers(-ndim, ndim - 1))
    axes = draw(st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True))
    return tuple(a - ndim if draw(st.booleans()) else a for a in axes)


# ---------------------------------------------------------------------------------
# 1. Every primitive against central differences, both modes, order 2
# ---------------------------------------------------------------------------------

# Which test covers which registry entry: adding a primitive without tests fails below.
COVERED = {
    "sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sigmoid", "neg", "abs", "relu",
    "add", "sub", "mul", "div", "pow", "maximum", "minimum", "where", "matmul",
    "sum", "mean", "max", "logsumexp", "softmax", "log_softmax",
    "reshape", "transpose", "broadcast_to", "getitem", "scatter", "concatenate", "stack",
    # piecewise constant (tests/test_comparisons.py)
    "greater", "greater_equal", "less", "less_equal", "equal", "not_equal", "sign",
}


def test_every_registered_primitive_is_covered():
    assert set(REGISTRY) == COVERED | ops_elementwise.COVERED | ops_arrays.COVERED


SMOOTH_UNARY = {  # name: (low, high) of a domain where the function is smooth
    "sin": (-3.0, 3.0), "cos": (-3.0, 3.0), "tan": (-1.2, 1.2), "exp": (-2.0, 2.0),
    "log": (0.3, 3.0), "sqrt": (0.3, 3.0), "tanh": (-2.0, 2.0), "sigmoid": (-3.0, 3.0),
    "neg": (-3.0, 3.0),
}


@pytest.mark.parametrize("name", sorted(SMOOTH_UNARY))
@cfg(40)
@given(data=st.data())
def test_smooth_unary(name, data):
    shape = data.draw(SHAPES)
    x = data.draw(operand(shape, *SMOOTH_UNARY[name]))
    check(REGISTRY[name], (x,))


@pytest.mark.parametrize("name", ["abs", "relu"])
@cfg(40)
@given(data=st.data())
def test_kinked_unary_away_from_the_kink(name, data):
    shape = data.draw(SHAPES)
    x = data.draw(grid(shape, offset=0.05))  # |x| >= 0.05: both sides of the kink
    check(REGISTRY[name], (x,))
    # and the documented one-sided values: sign(x) for abs, [x > 0] for relu
    g = ad.grad(lambda x: ad.sum(REGISTRY[name](x)))(x)
    want = np.sign(x) if name == "abs" else (np.asarray(x) > 0).astype(float)
    np.testing.assert_array_equal(g, want)


def _binary_domain(name):
    """Strategies (x for shape, y for shape) in a smooth region of the binary primitive."""
    if name == "div":
        return (lambda s: operand(s, -2.0, 2.0)), (lambda s: signed(s, 0.5, 2.0))
    if name == "pow":
        return (lambda s: operand(s, 0.5, 2.0)), (lambda s: operand(s, -2.0, 2.0))
    if name in ("maximum", "minimum"):  # x on the 0.1-grid, y half a step off: no ties
        return (lambda s: grid(s)), (lambda s: grid(s, offset=0.05))
    return (lambda s: operand(s, -2.0, 2.0)), (lambda s: operand(s, -2.0, 2.0))


BINARY = ["add", "sub", "mul", "div", "pow", "maximum", "minimum"]


@pytest.mark.parametrize("name", BINARY)
@cfg(60)
@given(data=st.data())
def test_binary_with_broadcasting(name, data):
    # mutually broadcastable shapes: either side may be the smaller / a scalar
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0,
                                                         max_dims=3, max_side=4))
    xs, ys = _binary_domain(name)
    x = data.draw(xs(shapes.input_shapes[0]))
    y = data.draw(ys(shapes.input_shapes[1]))
    if data.draw(st.booleans()) and name in ("maximum", "minimum"):
        x, y = y, x  # the half-step grid on either side
    check(REGISTRY[name], (x, y))


@pytest.mark.parametrize("name", BINARY)
@pytest.mark.parametrize("shapes", [((3, 1), (4,)), ((4,), (3, 1)), ((), (2, 3)),
                                    ((2, 3), ()), ((2, 1, 4), (3, 1)), ((1,), (1, 1))],
                         ids=str)
def test_binary_classic_broadcasts(name, shapes):
    rng = np.random.default_rng(7)
    sx, sy = shapes
    if name == "div":
        x, y = rng.uniform(-2, 2, sx), rng.uniform(0.5, 2, sy) * rng.choice([-1, 1], sy)
    elif name == "pow":
        x, y = rng.uniform(0.5, 2, sx), rng.uniform(-2, 2, sy)
    elif name in ("maximum", "minimum"):
        x, y = 0.1 * rng.integers(-20, 20, sx), 0.1 * rng.integers(-20, 20, sy) + 0.05
    else:
        x, y = rng.uniform(-2, 2, sx), rng.uniform(-2, 2, sy)
    x = float(x) if sx == () else x
    y = float(y) if sy == () else y
    check(REGISTRY[name], (x, y))


C = np.array([[0.7, -1.3, 2.1]])  # a constant array, shape (1, 3)
POS = np.array([0.6, 1.4, 2.2])

OPERATORS = {  # numbers and arrays on either side of + - * / **
    "x + 2.5": lambda x: x + 2.5, "2.5 + x": lambda x: 2.5 + x,
    "x - 2": lambda x: x - 2, "2 - x": lambda x: 2 - x,
    "x * 3": lambda x: x * 3, "3.0 * x": lambda x: 3.0 * x,
    "x / 4": lambda x: x / 4, "4 / x": lambda x: 4 / x,
    "x ** 3": lambda x: x ** 3, "x ** 2.5": lambda x: x ** 2.5, "x ** 0": lambda x: x ** 0,
    "x ** -1.5": lambda x: x ** -1.5, "2 ** x": lambda x: 2 ** x, "0.5 ** x": lambda x: 0.5 ** x,
    "-x": lambda x: -x, "+x": lambda x: +x, "abs(x)": lambda x: abs(x),
    "C + x": lambda x: C + x, "x + C": lambda x: x + C, "C - x": lambda x: C - x,
    "x - C": lambda x: x - C, "C * x": lambda x: C * x, "x * C": lambda x: x * C,
    "C / x": lambda x: C / x, "x / C": lambda x: x / C,
    "POS ** x": lambda x: POS ** x, "x ** POS": lambda x: x ** POS,
    "x * x / (x + x)": lambda x: x * x / (x + x),
}


@pytest.mark.parametrize("expr", list(OPERATORS))
@cfg(12)
@given(data=st.data())
def test_operators_with_constants_on_either_side(expr, data):
    shape = data.draw(st.sampled_from([(), (3,), (2, 3)]))
    x = data.draw(operand(shape, 0.5, 2.0))  # positive: x ** 2.5 and 4 / x are smooth
    check(OPERATORS[expr], (x,))


def test_integer_powers_of_negative_numbers():
    x = np.array([-1.7, -0.4, 0.9, -2.2])
    for k in (0, 1, 2, 3, -1, -2):
        check(lambda x, k=k: x ** k, (x,))
    check(lambda x: x ** np.array([0.0, 1.0, 2.0, 3.0]), (x,))


@cfg(60)
@given(data=st.data())
def test_where(data):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0,
                                                         max_dims=3, max_side=4))
    sc, sx, sy = shapes.input_shapes
    cond = data.draw(hnp.arrays(np.bool_, sc))
    x = data.draw(operand(sx, -2.0, 2.0))
    y = data.draw(operand(sy, -2.0, 2.0))
    check(lambda x, y: ad.where(cond, x, y) * ad.where(cond, y, x), (x, y))
    # the condition selects the derivative: d/dx sum(where(c, x, y)) counts the Trues
    gx, gy = ad.grad(lambda x, y: ad.sum(ad.where(cond, x, y)), argnums=(0, 1))(x, y)
    full = np.broadcast_to(cond, shapes.result_shape)
    assert np.sum(gx) == pytest.approx(np.sum(full))
    assert np.sum(gy) == pytest.approx(np.sum(~full))


MATMUL_SHAPES = [  # (a, b) in terms of sizes n, k, m, batch p, q
    lambda n, k, m, p, q: ((k,), (k,)),            # 1-D @ 1-D
    lambda n, k, m, p, q: ((k,), (k, m)),          # 1-D @ 2-D
    lambda n, k, m, p, q: ((n, k), (k,)),          # 2-D @ 1-D
    lambda n, k, m, p, q: ((n, k), (k, m)),        # 2-D @ 2-D
    lambda n, k, m, p, q: ((p, n, k), (k, m)),     # batched 3-D @ 2-D
    lambda n, k, m, p, q: ((n, k), (p, k, m)),     # 2-D @ batched 3-D
    lambda n, k, m, p, q: ((p, n, k), (p, k, m)),  # batched @ batched
    lambda n, k, m, p, q: ((p, n, k), (k,)),       # batched 3-D @ 1-D
    lambda n, k, m, p, q: ((k,), (p, k, m)),       # 1-D @ batched 3-D
    lambda n, k, m, p, q: ((q, 1, n, k), (p, k, m)),  # broadcast batch dimensions
]


@pytest.mark.parametrize("case", range(len(MATMUL_SHAPES)))
@cfg(20)
@given(sizes=st.tuples(*[st.integers(1, 4)] * 5), data=st.data())
def test_matmul(case, sizes, data):
    sa, sb = MATMUL_SHAPES[case](*sizes)
    a = data.draw(array(sa, -2.0, 2.0))
    b = data.draw(array(sb, -2.0, 2.0))
    check(ad.matmul, (a, b))
    # order 1 here and for the other method / operator spellings below: the primitive
    # is checked to order 2 just above; these lines only check the routing to it
    check(lambda a, b: a @ b, (a, b), order=1)


@pytest.mark.parametrize("shapes", [((), ()), ((), (3,)), ((2, 3), ()), ((3,), (3,)),
                                    ((3,), (3, 2)), ((2, 3), (3,)), ((2, 3), (3, 4))], ids=str)
def test_dot(shapes):
    rng = np.random.default_rng(3)
    a, b = (rng.standard_normal(s) for s in shapes)
    check(ad.dot, (a, b))
    np.testing.assert_allclose(raw(ad.dot(ad.Var(a), b)), np.dot(a, b))


REDUCTIONS = ["sum", "mean", "max", "logsumexp"]


@pytest.mark.parametrize("name", REDUCTIONS)
@cfg(80)
@given(data=st.data())
def test_reductions(name, data):
    shape = data.draw(SHAPES)
    axis = data.draw(axis_args(len(shape)))
    keepdims = data.draw(st.booleans())
    if name == "max":  # distinct entries, 0.1 apart: the maximum is never a tie
        x = data.draw(grid(shape, unique=True))
    else:
        x = data.draw(operand(shape, -2.0, 2.0))
    prim = REGISTRY[name]
    f = lambda x: prim(x, axis=axis, keepdims=keepdims)
    # the value, against NumPy
    lse = lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))
    reference = {"sum": np.sum, "mean": np.mean, "max": np.max, "logsumexp": lse}[name]
    np.testing.assert_allclose(raw(f(ad.Var(x))), reference(x, axis=axis, keepdims=keepdims),
                               rtol=1e-12, atol=1e-14)
    # linear reductions have zero second derivative; square them so order 2 sees a value
    check(lambda x: f(x) * f(x) if name in ("sum", "mean") else f(x), (x,))


def test_max_splits_the_derivative_between_ties():
    g = ad.grad(lambda x: ad.max(x))(np.array([1.0, 3.0, 3.0, 2.0]))
    np.testing.assert_array_equal(g, [0.0, 0.5, 0.5, 0.0])
    g = ad.grad(lambda x: ad.sum(ad.maximum(x, 1.0)))(np.array([1.0, 2.0, 0.0]))
    np.testing.assert_array_equal(g, [0.5, 1.0, 0.0])


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@cfg(60)
@given(data=st.data())
def test_softmax_family(name, data):
    shape = data.draw(SHAPES)
    x = data.draw(operand(shape, -3.0, 3.0))
    if shape == ():
        axis = None
    else:
        axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1),
                                   axis_args(len(shape))))
    prim = REGISTRY[name]
    check(lambda x: prim(x, axis=axis), (x,))
    s = np.exp(x - np.max(x, axis=axis, keepdims=True))
    s = s / np.sum(s, axis=axis, keepdims=True)
    want = s if name == "softmax" else np.log(s)
    np.testing.assert_allclose(raw(prim(ad.Var(x), axis=axis)), want, rtol=1e-10, atol=1e-12)


@cfg(40)
@given(data=st.data())
def test_reshape(data):
    shape = data.draw(SHAPES)
    x = data.draw(array(shape, -2.0, 2.0))
    size = x.size
    divisors = [d for d in range(1, size + 1) if size % d == 0]
    d = data.draw(st.sampled_from(divisors))
    target = data.draw(st.sampled_from([(size,), (-1,), (d, size // d), (size // d, 1, d),
                                        (1,) * len(shape) + (size,)]))
    if size == 1:
        target = data.draw(st.sampled_from([target, ()]))
    check(lambda x: ad.reshape(x, target), (x,))
    check(lambda x: x.reshape(target), (x,), order=1)  # the method (routing only)


@cfg(60)
@given(data=st.data())
def test_transpose(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=4, min_side=1, max_side=3))
    x = data.draw(array(shape, -2.0, 2.0))
    n = len(shape)
    perm = data.draw(st.permutations(range(n)))
    # axes may be given negative, as NumPy allows
    axes = data.draw(st.sampled_from([None, tuple(perm),
                                      tuple(a - n if a % 2 else a for a in perm)]))
    check(lambda x: ad.transpose(x, axes), (x,))
    np.testing.assert_array_equal(raw(ad.transpose(ad.Var(x), axes)), np.transpose(x, axes))
    if axes is not None:
        # the methods, like ndarray's: x.transpose(1, 0) and x.transpose((1, 0)); order 1
        # because only the routing to the primitive checked above is new
        check(lambda x: x.transpose(*axes), (x,), order=1)
        check(lambda x: x.transpose(axes), (x,), order=1)
    check(lambda x: x.T, (x,), order=1)


@cfg(50)
@given(data=st.data())
def test_broadcast_to(data):
    target = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    # a shape that broadcasts *to* target: a suffix of it, some sides replaced by 1
    k = data.draw(st.integers(0, len(target)))
    shape = tuple(1 if data.draw(st.booleans()) else n for n in target[len(target) - k:])
    x = data.draw(operand(shape, -2.0, 2.0))
    check(lambda x: ad.broadcast_to(x, target), (x,))


@cfg(40)
@given(data=st.data())
def test_expand_dims_squeeze_swapaxes(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    x = data.draw(array(shape, -2.0, 2.0))
    n = len(shape)
    ax = data.draw(st.integers(-n - 1, n))
    check(lambda x: ad.expand_dims(x, ax), (x,))
    assert ad.expand_dims(ad.Var(x), ax).shape == np.expand_dims(x, ax).shape
    # squeeze the axis just inserted, or all size-1 axes
    y = np.expand_dims(x, ax)
    check(lambda y: ad.squeeze(y, ax), (y,))
    check(lambda y: ad.squeeze(y), (y,))
    assert ad.squeeze(ad.Var(y)).shape == np.squeeze(y).shape
    a, b = data.draw(st.integers(-n, n - 1)), data.draw(st.integers(-n, n - 1))
    check(lambda x: ad.swapaxes(x, a, b), (x,))
    np.testing.assert_array_equal(raw(ad.swapaxes(ad.Var(x), a, b)), np.swapaxes(x, a, b))


GETITEM_SHAPE = (3, 4, 2)
FIXED_INDICES = {
    "int": 1, "negative int": -1, "two ints": (2, -1), "three ints": (0, 3, 1),
    "slice": slice(1, None), "negative step": slice(None, None, -1),
    "negative step 2": (slice(None), slice(3, 0, -2)), "None": (None, 1),
    "Ellipsis": (Ellipsis, 0), "Ellipsis None": (1, Ellipsis, None),
    "repeated ints": [0, 0, 1], "repeated array": np.array([2, 0, 2, 2]),
    "2-D int array": np.array([[0, 1], [1, 1]]), "pair of arrays": ([0, 0, 2], [1, 1, 3]),
    "array and slice": ([1, 1], slice(None, None, -1)), "empty tuple": (),
    "mask": np.array([True, False, True]),
    "full mask": np.arange(24).reshape(GETITEM_SHAPE) % 3 == 0,
}


@pytest.mark.parametrize("idx", list(FIXED_INDICES.values()), ids=list(FIXED_INDICES))
def test_getitem_fixed_indices(idx):
    x = np.random.default_rng(5).uniform(-2, 2, GETITEM_SHAPE)
    check(lambda x: x[idx] * x[idx], (x,))
    np.testing.assert_array_equal(raw(ad.Var(x)[idx]), x[idx])


def test_getitem_repeated_indices_add_up():
    x = np.array([1.0, 2.0, 3.0])
    g = ad.grad(lambda x: ad.sum(x[[0, 0, 1, 0]]))(x)
    np.testing.assert_array_equal(g, [3.0, 1.0, 0.0])
    _, t = ad.jvp(lambda x: x[[0, 0, 1]], (x,), (np.array([1.0, 10.0, 100.0]),))
    np.testing.assert_array_equal(t, [1.0, 1.0, 10.0])


@cfg(120)
@given(data=st.data())
def test_getitem_basic_indices(data):
    shape = data.draw(SHAPES)
    x = data.draw(array(shape, -2.0, 2.0))
    idx = data.draw(hnp.basic_indices(shape, min_dims=0, allow_newaxis=True,
                                      allow_ellipsis=True))
    check(lambda x: x[idx], (x,))
    np.testing.assert_array_equal(raw(ad.Var(x)[idx]), x[idx])


@cfg(80)
@given(data=st.data())
def test_getitem_advanced_indices(data):
    shape = data.draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=4))
    x = data.draw(array(shape, -2.0, 2.0))
    if data.draw(st.booleans()):  # integer arrays: repeats and negative entries likely
        idx = data.draw(hnp.integer_array_indices(shape, result_shape=hnp.array_shapes(
            min_dims=1, max_dims=2, max_side=5)))
    else:  # a boolean mask over the leading axes
        k = data.draw(st.integers(1, len(shape)))
        idx = data.draw(hnp.arrays(np.bool_, shape[:k]))
    check(lambda x: x[idx] * x[idx], (x,))
    np.testing.assert_array_equal(raw(ad.Var(x)[idx]), x[idx])


SCATTER_CASES = [  # (idx, shape, shape of g)
    ((1, 2), (3, 4), ()), ((slice(None, None, -1), 1), (3, 4), (3,)),
    ([0, 0, 2], (3, 4), (3, 4)), (np.array([[1, 1], [0, 1]]), (2, 3), (2, 2, 3)),
    ((Ellipsis, None), (2, 2), (2, 2, 1)), (np.array([True, False, True]), (3, 2), (2, 2)),
]


@pytest.mark.parametrize("idx, shape, gshape", SCATTER_CASES, ids=range(len(SCATTER_CASES)))
def test_scatter(idx, shape, gshape):
    g = np.random.default_rng(2).uniform(-2, 2, gshape)
    scatter = REGISTRY["scatter"]
    check(lambda g: scatter(g, idx=idx, shape=shape) ** 2, (g,))
    want = np.zeros(shape)
    np.add.at(want, idx, g)
    np.testing.assert_array_equal(raw(scatter(ad.Var(g), idx=idx, shape=shape)), want)


@pytest.mark.parametrize("join", ["concatenate", "stack"])
@cfg(50)
@given(data=st.data())
def test_concatenate_and_stack(join, data):
    base = data.draw(hnp.array_shapes(min_dims=1 if join == "concatenate" else 0,
                                      max_dims=3, min_side=1, max_side=3))
    k = data.draw(st.integers(2, 3))
    if join == "concatenate":
        ndim = len(base)
        axis = data.draw(st.integers(-ndim, ndim - 1))
        sizes = data.draw(st.lists(st.integers(1, 3), min_size=k, max_size=k))
        shapes = [base[:axis % ndim] + (s,) + base[axis % ndim + 1:] for s in sizes]
        fn, npfn = ad.concatenate, np.concatenate
    else:
        axis = data.draw(st.integers(-len(base) - 1, len(base)))
        shapes = [base] * k
        fn, npfn = ad.stack, np.stack
    xs = [data.draw(array(s, -2.0, 2.0)) for s in shapes]
    check(lambda *xs: fn(list(xs), axis=axis) ** 2, xs)
    # a constant among the joined arrays (a linear rule: order 1 says all there is)
    check(lambda a: fn([a] + xs[1:], axis=axis), (xs[0],), order=1)
    np.testing.assert_array_equal(raw(fn([ad.Var(x) for x in xs], axis=axis)),
                                  npfn(xs, axis=axis))


# ---------------------------------------------------------------------------------
# 2. NumPy dispatch on Var and Dual
# ---------------------------------------------------------------------------------

M = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1]])
MASK = np.array([[True, False, True], [False, True, True]])
DISPATCH = {
    "np.sin": np.sin, "np.exp": np.exp, "np.cos": np.cos, "np.tanh": np.tanh,
    "np.sum axis=0": lambda v: np.sum(v, axis=0),
    "np.sum axis=-1 keepdims": lambda v: np.sum(v, axis=-1, keepdims=True),
    "np.mean": np.mean, "np.max axis=1": lambda v: np.max(v, axis=1),
    "np.maximum(v, 0.2)": lambda v: np.maximum(v, 0.2),
    "np.minimum(ndarray, v)": lambda v: np.minimum(M, v),
    "ndarray * v": lambda v: M * v, "v * ndarray": lambda v: v * M,
    "ndarray - v": lambda v: M - v, "ndarray / v": lambda v: M / v,
    "ndarray @ v.T": lambda v: M @ v.T, "v @ ndarray.T": lambda v: v @ M.T,
    "np.where(cond, v, 0)": lambda v: np.where(MASK, v, 0),
    "np.where(cond, 1, v)": lambda v: np.where(MASK, 1.0, v),
    "np.square": np.square, "np.sqrt": np.sqrt, "np.log": np.log, "np.abs": np.abs,
    "np.power": lambda v: np.power(v, 3), "np.transpose": np.transpose,
    "np.reshape": lambda v: np.reshape(v, (3, 2)), "np.dot": lambda v: np.dot(M.T, v),
    "np.concatenate": lambda v: np.concatenate([v, M], axis=1),
    "np.stack": lambda v: np.stack([M, v], axis=-1),
    "np.expand_dims": lambda v: np.expand_dims(v, 0), "np.swapaxes": lambda v: np.swapaxes(v, 0, 1),
    "np.broadcast_to": lambda v: np.broadcast_to(v, (4, 2, 3)),
}
X0 = np.array([[0.4, 1.3, 0.9], [1.7, 0.25, 1.1]])  # positive, no ties with 0.2 or M


@pytest.mark.parametrize("kind", ["Var", "Dual"])
@pytest.mark.parametrize("name", list(DISPATCH))
def test_numpy_dispatch(name, kind):
    fn = DISPATCH[name]
    want = fn(X0)  # NumPy itself on plain arrays is the reference
    rng = np.random.default_rng(11)
    v = rng.standard_normal(X0.shape)
    h = 1e-6
    fd = (fn(X0 + h * v) - fn(X0 - h * v)) / (2 * h)
    if kind == "Dual":
        out = fn(ad.Dual(X0, v))
        assert type(out) is ad.Dual
        np.testing.assert_allclose(raw(out.value), want, rtol=1e-12)
        np.testing.assert_allclose(raw(out.tangent), fd, rtol=1e-6, atol=1e-8)
    else:
        x = ad.Var(X0)
        out = fn(x)
        assert type(out) is ad.Var
        np.testing.assert_allclose(raw(out.value), want, rtol=1e-12)
        u = rng.standard_normal(np.shape(want))
        out.backward(u)
        assert np.vdot(x.grad, v) == pytest.approx(np.vdot(u, fd), rel=1e-6, abs=1e-8)
    # inside the transformations (internal levels) it dispatches the same way; order 1
    # because the primitives themselves are checked to order 2 in part 1
    check(fn, (X0,), order=1)


NO_RULE = {
    "arcsinh": lambda v: np.arcsinh(v), "linalg.det": lambda v: np.linalg.det(v),
    "nancumsum": lambda v: np.nancumsum(v), "linalg.norm": lambda v: np.linalg.norm(v),
    "argsort": lambda v: np.argsort(v), "add.reduce": lambda v: np.add.reduce(v),
}


@pytest.mark.parametrize("kind", ["Var", "Dual", "grad", "jvp"])
@pytest.mark.parametrize("name", list(NO_RULE))
def test_numpy_function_without_rule_raises(name, kind):
    fn = NO_RULE[name]
    x = np.array([[0.1, 0.2], [0.3, 0.5]])
    call = {
        "Var": lambda: fn(ad.Var(x)),
        "Dual": lambda: fn(ad.Dual(x, np.ones_like(x))),
        "grad": lambda: ad.grad(lambda x: ad.sum(fn(x)))(x),
        "jvp": lambda: ad.jvp(fn, (x,), (np.ones_like(x),)),
    }[kind]
    with pytest.raises(TypeError, match=r"numpy\." + name.replace(".", r"\.")):
        call()


def test_comparisons_read_values():
    x = ad.Var(np.array([1.0, -2.0]))
    np.testing.assert_array_equal(np.greater(x, 0), [True, False])
    np.testing.assert_array_equal(x > 0, [True, False])


# ---------------------------------------------------------------------------------
# 3. jvp and vjp agree; jacfwd == jacrev; Hessians
# ---------------------------------------------------------------------------------

N = 4
_W = np.random.default_rng(42).standard_normal((N, N)) / 2
_MASK4 = np.array([True, False, False, True])
UNARY_STEPS = [
    ad.sin, ad.cos, ad.tanh, ad.sigmoid, ad.relu, ad.abs, ad.softmax, ad.log_softmax,
    lambda a: ad.exp(0.5 * ad.tanh(a)), lambda a: a * a, lambda a: ad.sqrt(1.0 + a * a),
    lambda a: ad.log(1.0 + a * a), lambda a: a - ad.logsumexp(a), lambda a: a[::-1],
    lambda a: _W @ a, lambda a: a @ _W, lambda a: ad.concatenate([a[1:], a[:1]]),
    lambda a: ad.stack([a, 2 * a], axis=1)[:, 1], lambda a: a + ad.max(a),
    lambda a: ad.broadcast_to(ad.mean(a), (N,)) * a, lambda a: a[[0, 0, 2, 3]],
    lambda a: ad.reshape(ad.transpose(ad.reshape(a, (2, 2))), (N,)),
    lambda a: ad.sum(ad.reshape(a, (2, 2)), axis=0, keepdims=True)[0][[0, 1, 1, 0]],
    lambda a: ad.tan(0.5 * ad.tanh(a)), lambda a: ad.sum(ad.expand_dims(a, 0), axis=0),
]
BINARY_STEPS = [
    ad.add, ad.sub, ad.mul, lambda a, b: a / (1.0 + b * b), ad.maximum, ad.minimum,
    lambda a, b: ad.where(_MASK4, a, b), lambda a, b: (1.0 + a * a) ** ad.tanh(b),
    lambda a, b: ad.dot(a, b) * b, lambda a, b: ad.swapaxes(ad.stack([a, b]), 0, 1)[:, 0],
]
STEP = st.one_of(
    st.tuples(st.just(1), st.integers(0, len(UNARY_STEPS) - 1), st.integers(0, 99), st.just(0)),
    st.tuples(st.just(2), st.integers(0, len(BINARY_STEPS) - 1), st.integers(0, 99),
              st.integers(0, 99)))
PROGRAMS = st.lists(STEP, min_size=2, max_size=8)


def make_program(steps):
    """A function of two (N,)-vectors that applies ``steps`` to its growing list of
    values; it returns the last two values stacked, shape (2, N)."""
    def f(x, y):
        vals = [x, y]
        for arity, k, i, j in steps:
            a, b = vals[i % len(vals)], vals[j % len(vals)]
            vals.append(UNARY_STEPS[k](a) if arity == 1 else BINARY_STEPS[k](a, b))
        return ad.stack([vals[-1], vals[-2]])
    return f


@cfg(300)
@given(steps=PROGRAMS, seed=st.integers(0, 2**32 - 1))
def test_jvp_and_vjp_agree(steps, seed):
    f = make_program(steps)
    rng = np.random.default_rng(seed)
    x, y, vx, vy = (rng.standard_normal(N) for _ in range(4))
    out, jv = ad.jvp(f, (x, y), (vx, vy))
    out2, pullback = ad.vjp(f, x, y)
    np.testing.assert_array_equal(raw(out), raw(out2))
    u = rng.standard_normal(np.shape(raw(out)))
    gx, gy = pullback(u)
    lhs = np.vdot(u, raw(jv))
    rhs = np.vdot(raw(gx), vx) + np.vdot(raw(gy), vy)
    scale = np.abs(u).sum() * (np.abs(raw(jv)).max(initial=0) + 1)
    assert abs(lhs - rhs) <= 1e-10 * scale
    # user-level Var.backward gives the same cotangents as vjp
    xv, yv = ad.Var(x), ad.Var(y)
    f(xv, yv).backward(u)
    np.testing.assert_allclose(raw(xv.grad) if xv.grad is not None else 0 * x, raw(gx),
                               rtol=1e-12, atol=1e-12)


@cfg(50)
@given(n=st.integers(1, 5), m=st.integers(1, 5), matrix_input=st.booleans(),
       seed=st.integers(0, 2**32 - 1))
def test_jacfwd_equals_jacrev(n, m, matrix_input, seed):
    rng = np.random.default_rng(seed)
    in_shape = (n, 2) if matrix_input else (n,)
    size = int(np.prod(in_shape))
    W1 = rng.standard_normal((3, size))
    W2 = rng.standard_normal((m, 3))
    b = rng.standard_normal(m)

    def f(x):
        flat = ad.reshape(x, (size,))
        h = ad.tanh(W1 @ flat)
        return W2 @ h + ad.softmax(b * ad.sum(x * x)) + ad.sin(flat[:1]) * ad.exp(b / 4)

    x = rng.standard_normal(in_shape)
    jf, jr = ad.jacfwd(f)(x), ad.jacrev(f)(x)
    assert np.shape(raw(jf)) == (m,) + in_shape == np.shape(raw(jr))
    np.testing.assert_allclose(raw(jf), raw(jr), rtol=1e-10, atol=1e-12)
    # and both against central differences, column by column
    h = 1e-6
    for j in range(size):
        e = np.zeros(size)
        e[j] = 1.0
        e = e.reshape(in_shape)
        fd = (raw(f(x + h * e)) - raw(f(x - h * e))) / (2 * h)
        np.testing.assert_allclose(np.asarray(raw(jr)).reshape(m, size)[:, j], fd,
                                   rtol=1e-5, atol=1e-7)


def test_jacobians_of_scalar_to_scalar_and_vector_to_scalar():
    f = lambda x: ad.sin(x) * x
    assert raw(ad.jacfwd(f)(0.7)) == pytest.approx(math.cos(0.7) * 0.7 + math.sin(0.7))
    assert raw(ad.jacrev(f)(0.7)) == pytest.approx(math.cos(0.7) * 0.7 + math.sin(0.7))
    g = lambda x: ad.logsumexp(x)
    x = np.array([0.1, 0.5, -0.3])
    s = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(raw(ad.jacfwd(g)(x)), s)
    np.testing.assert_allclose(raw(ad.jacrev(g)(x)), s)


@cfg(30)
@given(n=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_hessian(n, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))

    def f(x):
        return (ad.sum(ad.sin(x) * x[::-1]) + ad.logsumexp(A @ x) + x @ A @ x
                + ad.sum(ad.sigmoid(x) ** 2) + ad.max(ad.exp(x) * x[[0] * n]))

    x = rng.standard_normal(n)
    H = np.asarray(raw(ad.hessian(f)(x)))
    assert H.shape == (n, n)
    np.testing.assert_allclose(H, H.T, rtol=1e-10, atol=1e-12)
    for other in (ad.jacfwd(ad.jacfwd(f)), ad.jacrev(ad.jacrev(f)), ad.jacrev(ad.jacfwd(f))):
        np.testing.assert_allclose(raw(other(x)), H, rtol=1e-10, atol=1e-12)
    # a quadratic form: the Hessian is A + A^T exactly
    q = ad.hessian(lambda x: x @ A @ x)(x)
    np.testing.assert_allclose(raw(q), A + A.T, rtol=1e-12, atol=1e-12)
    # sum(x^3): diag(6x)
    np.testing.assert_allclose(raw(ad.hessian(lambda x: ad.sum(x ** 3))(x)), np.diag(6 * x),
                               rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------
# 4. The `reads` declarations are honest and not over-broad
# ---------------------------------------------------------------------------------

def _typical(name, rng):
    """A few typical (args, params) for a primitive, including broadcasting."""
    u = lambda *s: rng.uniform(-2, 2, s)
    pos = lambda *s: rng.uniform(0.5, 2, s)
    elementwise_x = {"log": pos, "sqrt": pos}.get(name, u)
    if name in ("sin", "cos", "tan", "exp", "log", "sqrt", "abs", "tanh", "sigmoid",
                "relu", "neg"):
        f = elementwise_x
        return [((f(3, 4),), {}), ((f(5),), {}), ((float(f()),), {})]
    if name in ("add", "sub", "mul", "maximum", "minimum"):
        return [((u(3, 4), u(3, 4)), {}), ((u(3, 1), u(4)), {}), ((float(u()), u(2, 3)), {}),
                ((u(2, 3), float(u())), {})]
    if name == "div":
        return [((u(3, 4), pos(3, 4)), {}), ((u(3, 1), -pos(4)), {}),
                ((float(u()), pos(2, 3)), {})]
    if name == "pow":
        return [((pos(3, 4), u(3, 4)), {}), ((pos(3, 1), u(4)), {}),
                ((float(pos()), u(2, 3)), {}), ((pos(3), np.array([0.0, 1.0, 2.5])), {})]
    if name == "where":
        c = np.array([[True, False, True, False]] * 3)
        return [((c, u(3, 4), u(3, 4)), {}), ((c[0], u(3, 1), u(4)), {}),
                ((c, float(u()), u(4)), {})]
    if name == "matmul":
        return [((u(2, 3), u(3, 4)), {}), ((u(3), u(3, 4)), {}), ((u(2, 3), u(3)), {}),
                ((u(3), u(3)), {}), ((u(2, 2, 3), u(3, 4)), {}), ((u(3), u(2, 3, 4)), {})]
    if name in ("sum", "mean", "max", "logsumexp"):
        return [((u(3, 4),), {"axis": None}), ((u(3, 4),), {"axis": 1}),
                ((u(2, 3, 4),), {"axis": (0, -1), "keepdims": True}), ((u(5),), {"axis": 0})]
    if name in ("softmax", "log_softmax"):
        return [((u(3, 4),), {"axis": -1}), ((u(3, 4),), {"axis": 0}), ((u(5),), {})]
    if name == "reshape":
        return [((u(3, 4),), {"shape": (2, 6)}), ((u(6),), {"shape": (3, 2)})]
    if name == "transpose":
        return [((u(3, 4),), {}), ((u(2, 3, 4),), {"axes": (1, 2, 0)})]
    if name == "broadcast_to":
        return [((u(3, 1),), {"shape": (2, 3, 4)}), ((float(u()),), {"shape": (3,)})]
    if name == "getitem":
        return [((u(3, 4),), {"idx": (1, slice(None, None, -1))}),
                ((u(3, 4),), {"idx": [0, 0, 2]}), ((u(3, 4),), {"idx": u(3, 4) > 0})]
    if name == "scatter":
        return [((u(3),), {"idx": (slice(None), 1), "shape": (3, 4)}),
                ((u(3, 4),), {"idx": [0, 0, 2], "shape": (3, 4)})]
    if name in ("concatenate", "stack"):
        if name == "concatenate":
            return [((u(2, 3), u(1, 3), u(4, 3)), {"axis": 0}), ((u(2, 3), u(2, 1)), {"axis": -1})]
        return [((u(2, 3), u(2, 3), u(2, 3)), {"axis": 1}), ((u(4), u(4)), {"axis": -1})]
    for more in (ops_elementwise.TYPICAL, ops_arrays.TYPICAL):
        if name in more:
            return more[name](rng)
    raise AssertionError(f"no typical inputs for {name}")


def _nan_like(v):
    return float("nan") if isinstance(v, float) else np.full(np.shape(v), np.nan)


def _names(prim, args):
    """The name of each positional argument as the reads declarations use it."""
    return [prim.argnames[0]] * len(args) if prim.variadic else list(prim.argnames)


def _run_vjp(prim, i, g, ans, args, params, blank):
    """prim.vjp with the values named in ``blank`` replaced by NaNs of the same shape."""
    names = _names(prim, args)
    args = tuple(_nan_like(a) if n in blank else a for a, n in zip(args, names))
    ans = _nan_like(ans) if "ans" in blank else ans
    with np.errstate(all="ignore"):
        return np.asarray(raw(prim.vjp(i, g, ans, args, params)), dtype=float)


def _vjp_cases(name, rng):
    prim = REGISTRY[name]
    for args, params in _typical(name, rng):
        ans = prim.impl(*args, **params)
        g = rng.standard_normal(np.shape(ans))
        for i in range(len(args)):
            if prim.differentiable(i):
                yield prim, i, g, ans, args, params


@pytest.mark.parametrize("name", sorted(REGISTRY))
@cfg(15)
@given(seed=st.integers(0, 2**32 - 1))
def test_vjp_reads_only_what_it_declares(name, seed):
    if REGISTRY[name].constant:
        assert REGISTRY[name].reads == (), f"{name} is piecewise constant: nothing to read"
        return
    rng = np.random.default_rng(seed)
    for prim, i, g, ans, args, params in _vjp_cases(name, rng):
        declared = set(prim.reads_of(i))
        assert declared <= set(prim.argnames) | {"ans"}, (name, declared)
        unread = (set(_names(prim, args)) | {"ans"}) - declared
        before = _run_vjp(prim, i, g, ans, args, params, blank=())
        after = _run_vjp(prim, i, g, ans, args, params, blank=unread)
        assert np.all(np.isfinite(before))
        assert np.all(np.isfinite(after)), (
            f"{name} VJP for argument {i} reads a value it does not declare "
            f"(declared {sorted(declared)}; NaN in {sorted(unread)} reached the result)")
        np.testing.assert_array_equal(after, before)


@pytest.mark.parametrize("name", sorted(n for n, p in REGISTRY.items()
                                        if any(p.reads_of(i) for i in range(p.nargs))))
def test_vjp_reads_are_not_over_broad(name):
    prim = REGISTRY[name]
    rng = np.random.default_rng(0)
    changed: dict[tuple[int, str], bool] = {}
    for prim, i, g, ans, args, params in _vjp_cases(name, rng):
        before = _run_vjp(prim, i, g, ans, args, params, blank=())
        for r in prim.reads_of(i):
            after = _run_vjp(prim, i, g, ans, args, params, blank={r})
            differs = after.shape != before.shape or not np.array_equal(after, before)
            changed[(i, r)] = changed.get((i, r), False) or differs
    unused = [k for k, v in changed.items() if not v]
    assert changed and not unused, f"{name}: declared reads never used: {unused}"


def test_trace_saved_follows_reads():
    # what reverse mode stores comes from the declarations tested above
    t = ad.trace(lambda x, y: ad.exp(x) + ad.sin(y) * 2.0 + (x - y), 0.3, 0.4)
    assert t.saved() == ["v0", "v1"]  # y (read by sin) and exp's output


# ---------------------------------------------------------------------------------
# 5. Determinism
# ---------------------------------------------------------------------------------

def _bits(x):
    return np.asarray(raw(x), dtype=float).tobytes()


@cfg(60)
@given(steps=PROGRAMS, seed=st.integers(0, 2**32 - 1))
def test_same_computation_same_bits(steps, seed):
    f = make_program(steps)
    rng = np.random.default_rng(seed)
    x, y, v = rng.standard_normal(N), rng.standard_normal(N), rng.standard_normal(N)
    loss = lambda x, y: ad.sum(f(x, y) * f(y, x))  # reuses nodes: sums of contributions
    g1 = ad.grad(loss, argnums=(0, 1))(x, y)
    g2 = ad.grad(loss, argnums=(0, 1))(x, y)
    assert [_bits(a) for a in g1] == [_bits(a) for a in g2]
    t1 = ad.jvp(f, (x, y), (v, v))[1]
    t2 = ad.jvp(f, (x, y), (v, v))[1]
    assert _bits(t1) == _bits(t2)
    single = lambda x: loss(x, y)
    assert _bits(ad.hessian(single)(x)) == _bits(ad.hessian(single)(x))
    assert _bits(ad.jacrev(f)(x, y)) == _bits(ad.jacrev(f)(x, y))


def test_backward_twice_on_fresh_graphs_same_bits():
    rng = np.random.default_rng(1)
    x0, W = rng.standard_normal(5), rng.standard_normal((5, 5))
    grads = []
    for _ in range(2):
        x = ad.Var(x0)
        h = ad.tanh(W @ x)
        loss = ad.sum(h * h) + ad.logsumexp(h + x) + ad.max(x * h)
        loss.backward()
        grads.append(_bits(x.grad))
    assert grads[0] == grads[1]
