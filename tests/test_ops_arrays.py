"""Property tests of the products and shape operations (issue 11, section 2).

1. Products: einsum on every subscript family (against NumPy, central differences and
   the equivalent composition of other primitives), tensordot, outer, inner, dot and
   matmul on stacks of more than two dimensions.
2. Shapes: repeat, tile, diag, matrix_trace, triu, tril, pad, flip, roll, clip, sort,
   astype, and the compositions (ravel, moveaxis, vstack, split ...).
3. NumPy dispatch with NumPy's own keyword names, and the array methods.
4. float32 in, float32 values and derivatives out.

Every derivative is checked in both modes, to second order where the operation has
one, against central differences. Hypothesis runs derandomized: a run repeats exactly.
The reads declarations are checked in test_primitives (tests/ops_arrays.py).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_primitives import array, cfg, check, grid

import adlab as ad
from adlab.core import raw


def sq(f):
    """``f`` squared: linear operations get a second derivative that order 2 can see."""
    return lambda *xs: f(*xs) ** 2


def assert_same_derivatives(f, g, args, seed=0):
    """f and g (one function, written two ways) have the same values, JVPs and VJPs."""
    rng = np.random.default_rng(seed)
    np.testing.assert_allclose(raw(f(*args)), raw(g(*args)), rtol=1e-12, atol=1e-12)
    tangents = [rng.standard_normal(np.shape(a)) for a in args]
    _, tf = ad.jvp(f, args, tangents)
    _, tg = ad.jvp(g, args, tangents)
    np.testing.assert_allclose(raw(tf), raw(tg), rtol=1e-12, atol=1e-12)
    out, pull_f = ad.vjp(f, *args)
    _, pull_g = ad.vjp(g, *args)
    u = rng.standard_normal(np.shape(raw(out)))
    for a, b in zip(pull_f(u), pull_g(u)):
        np.testing.assert_allclose(raw(a), raw(b), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------------
# 1. Products
# ---------------------------------------------------------------------------------

def _diagonal_rows(x):  # x[i, i, j] as a (j, i) array: the composition for "iij->ji"
    n = x.shape[0]
    return ad.transpose(x[np.arange(n), np.arange(n)])


# family: (subscripts, shapes from sizes n, k, m, p, q, the same thing composed)
EINSUM = {
    "contraction": ("ij,jk->ik", lambda n, k, m, p, q: [(n, k), (k, m)], ad.matmul),
    "implicit contraction": ("ij,jk", lambda n, k, m, p, q: [(n, k), (k, m)], ad.matmul),
    "batch matmul": ("bij,bjk->bik", lambda n, k, m, p, q: [(p, n, k), (p, k, m)], ad.matmul),
    "trace": ("ii->", lambda n, k, m, p, q: [(n, n)], ad.matrix_trace),
    "implicit trace": ("ii", lambda n, k, m, p, q: [(n, n)], ad.matrix_trace),
    "diagonal": ("ii->i", lambda n, k, m, p, q: [(n, n)], ad.diag),
    "diagonal of a stack": ("iij->ji", lambda n, k, m, p, q: [(n, n, m)], _diagonal_rows),
    "diagonal times vector": ("ii,i->i", lambda n, k, m, p, q: [(n, n), (n,)],
                              lambda a, v: ad.diag(a) * v),
    "transpose": ("ij->ji", lambda n, k, m, p, q: [(n, m)], ad.transpose),
    "implicit transpose": ("ji", lambda n, k, m, p, q: [(n, m)], ad.transpose),
    "sum": ("ij->", lambda n, k, m, p, q: [(n, m)], ad.sum),
    "row sums": ("ij->i", lambda n, k, m, p, q: [(n, m)], lambda a: ad.sum(a, axis=1)),
    "elementwise": ("ij,ij->ij", lambda n, k, m, p, q: [(n, m), (n, m)], ad.mul),
    "inner product": ("i,i", lambda n, k, m, p, q: [(n,), (n,)], ad.inner),
    "outer product": ("i,j->ij", lambda n, k, m, p, q: [(n,), (m,)], ad.outer),
    "bilinear form": ("i,ij,j->", lambda n, k, m, p, q: [(n,), (n, m), (m,)],
                      lambda x, a, y: x @ a @ y),
    "broadcast matmul": ("...ij,...jk->...ik",
                         lambda n, k, m, p, q: [(q, 1, n, k), (p, k, m)], ad.matmul),
    "implicit broadcast": ("...ij,...jk", lambda n, k, m, p, q: [(p, n, k), (k, m)],
                           ad.matmul),
    "sum the last axis": ("...i->...", lambda n, k, m, p, q: [(p, n, m)],
                          lambda a: ad.sum(a, axis=-1)),
    "labels broadcast from 1": ("ak,bk->ab", lambda n, k, m, p, q: [(n, 1), (m, k)],
                                lambda a, b: ad.sum(a[:, None, :] * b[None, :, :], axis=2)),
    "scalar operand": (",ij->ij", lambda n, k, m, p, q: [(), (n, m)], ad.mul),
}


@pytest.mark.parametrize("family", list(EINSUM))
@cfg(4)
@given(sizes=st.tuples(*[st.integers(1, 3)] * 5), data=st.data())
def test_einsum_families(family, sizes, data):
    spec, shapes, composition = EINSUM[family]
    xs = [data.draw(array(s, -2.0, 2.0)) for s in shapes(*sizes)]
    f = lambda *xs: ad.einsum(spec, *xs)
    np.testing.assert_allclose(raw(f(*[ad.Var(x) for x in xs])), np.einsum(spec, *xs),
                               rtol=1e-12, atol=1e-12)
    check(f if len(xs) > 1 else sq(f), xs)
    assert_same_derivatives(f, composition, xs)
    # and through NumPy, inside the transformations (routing only: order 1)
    check(lambda *xs: np.einsum(spec, *xs), xs, order=1)


def test_einsum_repeated_index_vjps_land_on_the_diagonal():
    a = np.arange(9.0).reshape(3, 3)
    w = np.array([1.0, 10.0, 100.0])
    g = ad.grad(lambda a: ad.sum(w * ad.einsum("ii->i", a)))(a)
    np.testing.assert_array_equal(g, np.diag(w))
    np.testing.assert_array_equal(ad.grad(lambda a: ad.einsum("ii->", a))(a), np.eye(3))
    # a letter used three times in one operand: the third derivative of nothing else
    cube = np.arange(8.0).reshape(2, 2, 2)
    g = ad.grad(lambda c: ad.sum(ad.einsum("iii->i", c) * np.array([1.0, 2.0])))(cube)
    want = np.zeros((2, 2, 2))
    want[0, 0, 0], want[1, 1, 1] = 1.0, 2.0
    np.testing.assert_array_equal(g, want)


def test_einsum_interleaved_form_and_errors():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    f = lambda a, b: ad.einsum(a, [0, 1], b, [1, 2], [0, 2])
    np.testing.assert_allclose(raw(f(ad.Var(a), b)), a @ b)
    check(f, (a, b))
    check(lambda a: np.einsum(a, [Ellipsis, 0], [0, Ellipsis]), (a,), order=1)
    with pytest.raises(ValueError, match="2 operand"):
        ad.einsum("ij,jk->ik", ad.Var(a))
    with pytest.raises(ValueError, match="letters"):
        ad.einsum("i1->", ad.Var(a[0]))
    with pytest.raises(ad.ShapeError, match="do not fit"):
        ad.einsum("ijk->", ad.Var(a))
    with pytest.raises(ValueError, match=r"'\.\.\.'"):
        ad.einsum("...i->i", ad.Var(a))
    with pytest.raises(ValueError, match="once"):
        ad.einsum("ij->ii", ad.Var(a))


@st.composite
def tensordot_case(draw):
    """Operands with some axes paired for contraction, and axes as int or pair."""
    k = draw(st.integers(0, 2))
    sizes = draw(st.lists(st.integers(1, 3), min_size=k, max_size=k))
    free_a = draw(st.lists(st.integers(1, 3), max_size=2))
    free_b = draw(st.lists(st.integers(1, 3), max_size=2))
    if draw(st.booleans()):  # axes=k: the last k of a with the first k of b
        return tuple(free_a + sizes), tuple(sizes + free_b), k
    # pairs: contracted axes anywhere, in any order, sometimes negative
    na, nb = len(free_a) + k, len(free_b) + k
    pos_a = draw(st.permutations(range(na)))[:k]
    pos_b = draw(st.permutations(range(nb)))[:k]
    shape_a, shape_b = list(free_a), list(free_b)
    for p, n in sorted(zip(pos_a, sizes)):
        shape_a.insert(p, n)
    for p, n in sorted(zip(pos_b, sizes)):
        shape_b.insert(p, n)
    axes_a = [p - na if draw(st.booleans()) else p for p in pos_a]
    return tuple(shape_a), tuple(shape_b), (axes_a, list(pos_b))


@cfg(25)
@given(case=tensordot_case(), data=st.data())
def test_tensordot(case, data):
    sa, sb, axes = case
    a, b = data.draw(array(sa, -2.0, 2.0)), data.draw(array(sb, -2.0, 2.0))
    f = lambda a, b: ad.tensordot(a, b, axes=axes)
    np.testing.assert_allclose(raw(f(ad.Var(a), b)), np.tensordot(a, b, axes),
                               rtol=1e-12, atol=1e-12)
    check(f, (a, b))
    check(lambda a, b: np.tensordot(a, b, axes=axes), (a, b), order=1)


@pytest.mark.parametrize("shapes", [((3,), (4,)), ((2, 3), (2,)), ((), (3,)), ((2, 2), ())],
                         ids=str)
def test_outer(shapes):
    rng = np.random.default_rng(2)
    a, b = (rng.standard_normal(s) for s in shapes)
    check(ad.outer, (a, b))
    np.testing.assert_allclose(raw(ad.outer(ad.Var(a), b)), np.outer(a, b))
    check(lambda a, b: np.outer(a, b), (a, b), order=1)


@pytest.mark.parametrize("shapes", [((3,), (3,)), ((2, 3), (3,)), ((3,), (4, 3)),
                                    ((2, 3), (4, 3)), ((2, 1, 3), (2, 3)), ((), (2, 3)),
                                    ((3,), ())], ids=str)
def test_inner(shapes):
    rng = np.random.default_rng(3)
    a, b = (rng.standard_normal(s) for s in shapes)
    check(ad.inner, (a, b))
    np.testing.assert_allclose(raw(ad.inner(ad.Var(a), b)), np.inner(a, b))
    check(lambda a, b: np.inner(a, b), (a, b), order=1)


DOT_ND = [((2, 3, 4), (4,)), ((4,), (2, 4, 3)), ((2, 3, 4), (5, 4, 2)), ((2, 1, 3), (3, 2)),
          ((3, 2), (2, 2, 3)), ((2, 2, 2, 3), (1, 3, 2))]


@pytest.mark.parametrize("shapes", DOT_ND, ids=str)
def test_dot_on_stacks_uses_numpys_rule(shapes):
    rng = np.random.default_rng(4)
    a, b = (rng.standard_normal(s) for s in shapes)
    check(ad.dot, (a, b))
    np.testing.assert_allclose(raw(ad.dot(ad.Var(a), b)), np.dot(a, b), rtol=1e-12)
    check(lambda a, b: np.dot(a, b), (a, b), order=1)
    check(lambda a: a.dot(b), (a,), order=1)


@pytest.mark.parametrize("shapes", [((2, 1, 3, 4), (3, 4, 2)), ((2, 3, 2, 4), (4,)),
                                    ((4,), (2, 2, 4, 3))], ids=str)
def test_matmul_on_stacks(shapes):
    rng = np.random.default_rng(5)
    a, b = (rng.standard_normal(s) for s in shapes)
    check(lambda a, b: np.matmul(a, b), (a, b))
    check(lambda a, b: a @ b, (a, b), order=1)
    np.testing.assert_allclose(raw(ad.Var(a) @ b), a @ b, rtol=1e-12)


# ---------------------------------------------------------------------------------
# 2. Shapes
# ---------------------------------------------------------------------------------

SMALL = hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=3)


@cfg(30)
@given(data=st.data())
def test_repeat(data):
    shape = data.draw(SMALL)
    x = data.draw(array(shape, -2.0, 2.0))
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    n = x.size if axis is None else shape[axis]
    repeats = data.draw(st.one_of(st.integers(0, 3), st.lists(st.integers(0, 3), min_size=n,
                                                              max_size=n)))
    f = lambda x: ad.repeat(x, repeats, axis=axis)
    np.testing.assert_array_equal(raw(f(ad.Var(x))), np.repeat(x, repeats, axis=axis))
    check(sq(f), (x,))
    check(lambda x: np.repeat(x, repeats, axis=axis), (x,), order=1)


@cfg(30)
@given(data=st.data())
def test_tile(data):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    x = data.draw(array(shape, -2.0, 2.0))
    reps = data.draw(st.one_of(st.integers(1, 3), st.lists(st.integers(1, 3), min_size=1,
                                                           max_size=3)))
    np.testing.assert_array_equal(raw(ad.tile(ad.Var(x), reps)), np.tile(x, reps))
    check(sq(lambda x: ad.tile(x, reps)), (x,))
    check(lambda x: np.tile(x, reps), (x,), order=1)


@cfg(30)
@given(data=st.data())
def test_diag_both_directions(data):
    if data.draw(st.booleans()):  # a vector onto the k-th diagonal
        x = data.draw(array((data.draw(st.integers(1, 4)),), -2.0, 2.0))
        k = data.draw(st.integers(-2, 2))
    else:  # a matrix's k-th diagonal (possibly empty)
        x = data.draw(array(data.draw(st.tuples(st.integers(1, 4), st.integers(1, 4))), -2, 2))
        k = data.draw(st.integers(-x.shape[0], x.shape[1]))
    np.testing.assert_array_equal(raw(ad.diag(ad.Var(x), k)), np.diag(x, k))
    check(sq(lambda x: ad.diag(x, k)), (x,))
    check(lambda x: np.diag(x, k=k), (x,), order=1)


@cfg(30)
@given(data=st.data())
def test_matrix_trace(data):
    shape = data.draw(hnp.array_shapes(min_dims=2, max_dims=3, min_side=1, max_side=4))
    x = data.draw(array(shape, -2.0, 2.0))
    n = len(shape)
    a1, a2 = data.draw(st.permutations(range(n)))[:2]
    a1 = a1 - n if data.draw(st.booleans()) else a1
    offset = data.draw(st.integers(-3, 3))
    f = lambda x: ad.matrix_trace(x, offset, a1, a2)
    np.testing.assert_allclose(raw(f(ad.Var(x))), np.trace(x, offset, a1, a2), atol=1e-12)
    check(sq(f), (x,))
    check(lambda x: np.trace(x, offset=offset, axis1=a1, axis2=a2), (x,), order=1)
    check(lambda x: x.trace(offset, a1, a2), (x,), order=1)


@pytest.mark.parametrize("name", ["triu", "tril"])
@cfg(20)
@given(data=st.data())
def test_triangles(name, data):
    x = data.draw(array(data.draw(SMALL), -2.0, 2.0))  # 1-D: NumPy makes a matrix
    k = data.draw(st.integers(-2, 2))
    prim, reference = getattr(ad, name), getattr(np, name)
    np.testing.assert_array_equal(raw(prim(ad.Var(x), k)), reference(x, k))
    check(sq(lambda x: prim(x, k)), (x,))
    check(lambda x: reference(x, k=k), (x,), order=1)


PAD_WIDTHS = [1, (1, 2), ((0, 1),), ((2, 0), (1, 1)), [[1, 0], [0, 2]]]


@pytest.mark.parametrize("mode", ["constant", "edge", "reflect", "symmetric", "wrap"])
@pytest.mark.parametrize("width", PAD_WIDTHS, ids=str)
def test_pad(mode, width):
    x = np.random.default_rng(6).uniform(-2, 2, (3, 2))
    kwargs = {"constant_values": 1.5} if mode == "constant" else {}
    f = lambda x: ad.pad(x, width, mode=mode, **kwargs)
    np.testing.assert_array_equal(raw(f(ad.Var(x))), np.pad(x, width, mode=mode, **kwargs))
    check(sq(f), (x,))
    check(lambda x: np.pad(x, width, mode, **kwargs), (x,), order=1)


def test_pad_refuses_what_it_cannot_differentiate():
    x = np.ones((2, 2))
    with pytest.raises(ValueError, match="mode='mean'.*no derivative rule"):
        ad.grad(lambda x: ad.sum(np.pad(x, 1, mode="mean")))(x)
    with pytest.raises(ad.AdlabError, match="constant_values"):
        ad.grad(lambda x: ad.sum(np.pad(x, 1, constant_values=x[0, 0])))(x)
    with pytest.raises(TypeError, match="reflect_type"):
        ad.pad(ad.Var(x), 1, mode="reflect", reflect_type="odd")


@cfg(20)
@given(data=st.data())
def test_flip_and_roll(data):
    shape = data.draw(SMALL)
    x = data.draw(array(shape, -2.0, 2.0))
    n = len(shape)
    axis = data.draw(st.one_of(st.none(), st.integers(-n, n - 1),
                               st.lists(st.integers(0, n - 1), min_size=1, unique=True)
                               .map(tuple)))
    np.testing.assert_array_equal(raw(ad.flip(ad.Var(x), axis)), np.flip(x, axis))
    check(sq(lambda x: ad.flip(x, axis)), (x,))
    check(lambda x: np.flip(x, axis=axis), (x,), order=1)
    if isinstance(axis, tuple):
        shift = tuple(data.draw(st.integers(-5, 5)) for _ in axis)
    else:
        shift = data.draw(st.integers(-5, 5))
    np.testing.assert_array_equal(raw(ad.roll(ad.Var(x), shift, axis)), np.roll(x, shift, axis))
    check(sq(lambda x: ad.roll(x, shift, axis)), (x,))
    check(lambda x: np.roll(x, shift, axis=axis), (x,), order=1)


@cfg(20)
@given(data=st.data())
def test_clip(data):
    # x on the 0.1-grid shifted by 0.05, the bounds on the grid: never at a bound
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=3, min_dims=0, max_dims=2,
                                                         max_side=3))
    sx, slo, shi = shapes.input_shapes
    x = data.draw(grid(sx, offset=0.05))
    lo = data.draw(grid(slo)) - 1.0
    hi = data.draw(grid(shi)) + 1.0  # lo < hi mostly, but not always (then clip is hi)
    np.testing.assert_array_equal(raw(ad.clip(ad.Var(x), lo, hi)), np.clip(x, lo, hi))
    check(sq(ad.clip), (x, lo, hi))
    check(lambda x: ad.clip(x, None, hi), (x,))
    check(lambda x: ad.clip(x, lo, None), (x,))
    check(lambda x, lo, hi: np.clip(x, lo, hi), (x, lo, hi), order=1)


def test_clip_derivative_inside_outside_and_at_the_bounds():
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    gx, glo, ghi = ad.grad(lambda x, lo, hi: ad.sum(ad.clip(x, lo, hi)),
                           argnums=(0, 1, 2))(x, -1.0, 1.0)
    np.testing.assert_array_equal(gx, [0.0, 0.5, 1.0, 0.5, 0.0])  # 1/2 exactly at a bound
    assert (glo, ghi) == (1.5, 1.5)  # where x is below lo (once, and half at the tie)
    _, t = ad.jvp(lambda x: ad.clip(x, -1.0, 1.0), (x,), (np.ones(5),))
    np.testing.assert_array_equal(t, [0.0, 0.5, 1.0, 0.5, 0.0])
    # NumPy 2's spellings: min= and max=, and the method
    g = ad.grad(lambda x: ad.sum(np.clip(x, min=-1.5, max=0.5)))(x)
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 0.0, 0.0])
    g = ad.grad(lambda x: ad.sum(x.clip(-1.5, 0.5)))(x)
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 0.0, 0.0])
    with pytest.raises(TypeError, match="not both"):
        np.clip(ad.Var(x), -1.0, a_max=1.0, min=0.0)


@cfg(25)
@given(data=st.data())
def test_sort(data):
    shape = data.draw(SMALL)
    x = data.draw(grid(shape, unique=True))  # no ties: sort is smooth here
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)))
    np.testing.assert_array_equal(raw(ad.sort(ad.Var(x), axis=axis)), np.sort(x, axis=axis))
    check(sq(lambda x: ad.sort(x, axis=axis)), (x,))
    check(lambda x: np.sort(x, axis=axis), (x,), order=1)


def test_sort_sends_each_derivative_with_its_entry_and_ties_deterministically():
    x = np.array([3.0, 1.0, 2.0])
    g = ad.grad(lambda x: ad.sum(ad.sort(x) * np.array([1.0, 10.0, 100.0])))(x)
    np.testing.assert_array_equal(g, [100.0, 1.0, 10.0])
    # ties keep their order (a stable sort): the first 1.0 takes the first place
    x = np.array([1.0, 0.0, 1.0, 1.0])
    w = np.array([1.0, 10.0, 100.0, 1000.0])
    g = ad.grad(lambda x: ad.sum(ad.sort(x) * w))(x)
    np.testing.assert_array_equal(g, [10.0, 1.0, 100.0, 1000.0])
    _, t = ad.jvp(ad.sort, (x,), (np.array([1.0, 2.0, 3.0, 4.0]),))
    np.testing.assert_array_equal(t, [2.0, 1.0, 3.0, 4.0])
    with pytest.raises(TypeError, match="order"):
        np.sort(ad.Var(x), order="f")


def test_sort_in_a_replayed_gradient_graph_sorts_the_new_inputs():
    w = np.array([1.0, 10.0, 100.0])
    f = lambda x: ad.sum(ad.sort(x) * w)
    g = ad.trace(f, np.array([3.0, 1.0, 2.0])).gradient()
    new = np.array([1.0, 3.0, 2.0])
    np.testing.assert_array_equal(raw(g(new)), ad.grad(f)(new))


def test_astype():
    x = np.array([0.5, -1.25, 2.0])
    g = ad.grad(lambda x: ad.sum(x.astype(np.float32) ** 2))(x)
    assert g.dtype == np.float64  # the adjoint comes back in x's precision
    np.testing.assert_allclose(g, 2 * x, rtol=1e-6)
    g32 = ad.grad(lambda x: ad.sum(x.astype(np.float64) ** 2))(x.astype(np.float32))
    assert g32.dtype == np.float32
    check(lambda x: x.astype(np.float64) * x, (x,))
    with pytest.raises(ad.AdlabError, match=r"astype\(int64\).*being differentiated"):
        ad.grad(lambda x: ad.sum(x.astype(int)))(x)
    with pytest.raises(ad.AdlabError, match=r"astype\(bool\)"):
        ad.jvp(lambda x: x.astype(bool), (x,), (x,))
    # a finished value converts, like any other conversion of one
    np.testing.assert_array_equal(ad.Var(x).astype(int), [0, -1, 2])


# Compositions: exactly reshapes, transposes, joins and slices of the primitives above

COMPOSITIONS = {
    "ravel": (lambda x: ad.ravel(x), lambda x: np.ravel(x)),
    "ravel F": (lambda x: ad.ravel(x, "F"), lambda x: np.ravel(x, "F")),
    "expand_dims tuple": (lambda x: ad.expand_dims(x, (0, -1)),
                          lambda x: np.expand_dims(x, (0, -1))),
    "squeeze": (lambda x: ad.squeeze(x[None, :, None]), lambda x: np.squeeze(x[None, :, None])),
    "squeeze axis": (lambda x: ad.squeeze(x[None, :, None], axis=(0, 2)),
                     lambda x: np.squeeze(x[None, :, None], axis=(0, 2))),
    "swapaxes": (lambda x: ad.swapaxes(x, 0, -1), lambda x: np.swapaxes(x, 0, -1)),
    "moveaxis": (lambda x: ad.moveaxis(x, 0, -1), lambda x: np.moveaxis(x, 0, -1)),
    "moveaxis several": (lambda x: ad.moveaxis(x[None], (0, 1), (-1, 0)),
                         lambda x: np.moveaxis(x[None], (0, 1), (-1, 0))),
    "vstack": (lambda x: ad.vstack([x, 2 * x, x[:1]]), lambda x: np.vstack([x, 2 * x, x[:1]])),
    "vstack 1-D": (lambda x: ad.vstack([x[0], x[-1]]), lambda x: np.vstack([x[0], x[-1]])),
    "hstack": (lambda x: ad.hstack([x, x[:, :1]]), lambda x: np.hstack([x, x[:, :1]])),
    "hstack 1-D": (lambda x: ad.hstack([x[0], x[-1], x[0, 0]]),
                   lambda x: np.hstack([x[0], x[-1], x[0, 0]])),
    "column_stack": (lambda x: ad.column_stack([x[0], x.T, x[-1]]),
                     lambda x: np.column_stack([x[0], x.T, x[-1]])),
    "concatenate axis=None": (lambda x: ad.concatenate([x, x.T], axis=None),
                              lambda x: np.concatenate([x, x.T], axis=None)),
}


@pytest.mark.parametrize("name", list(COMPOSITIONS))
def test_compositions(name):
    f, reference = COMPOSITIONS[name]
    x = np.random.default_rng(7).uniform(-2, 2, (3, 4))
    np.testing.assert_array_equal(raw(f(ad.Var(x))), reference(x))
    check(sq(f), (x,))
    check(reference, (x,), order=1)  # NumPy's own function, routed


SPLITS = {  # name: (adlab, NumPy) taking the array
    "split 2 axis 1": (lambda x: ad.split(x, 2, axis=1), lambda x: np.split(x, 2, axis=1)),
    "split at indices": (lambda x: ad.split(x, [1, 3, -1], axis=-1),
                         lambda x: np.split(x, [1, 3, -1], axis=-1)),
    "array_split uneven": (lambda x: ad.array_split(x, 3, axis=1),
                           lambda x: np.array_split(x, 3, axis=1)),
    "array_split more than n": (lambda x: ad.array_split(x, 4),
                                lambda x: np.array_split(x, 4)),
    "hsplit": (lambda x: ad.hsplit(x, [2]), lambda x: np.hsplit(x, [2])),
    "vsplit": (lambda x: ad.vsplit(x, 3), lambda x: np.vsplit(x, 3)),
    "hsplit 1-D": (lambda x: ad.hsplit(x[0], 2), lambda x: np.hsplit(x[0], 2)),
}


@pytest.mark.parametrize("name", list(SPLITS))
def test_splits_return_lists_of_values(name):
    f, reference = SPLITS[name]
    x = np.random.default_rng(8).uniform(-2, 2, (3, 4))
    pieces, want = f(ad.Var(x)), reference(x)
    assert isinstance(pieces, list) and len(pieces) == len(want)
    for p, w in zip(pieces, want):
        np.testing.assert_array_equal(raw(p), w)
    weights = [np.arange(1.0, w.size + 1).reshape(w.shape) for w in want]
    joined = lambda parts: sum((ad.sum(p * p * w) for p, w in zip(parts, weights)), 0.0)
    check(lambda x: joined(f(x)), (x,))
    check(lambda x: joined(reference(x)), (x,), order=1)


def test_shape_errors_are_clear():
    v = ad.Var(np.ones((2, 3)))
    with pytest.raises(ad.ShapeError, match="size 1"):
        ad.squeeze(v, axis=0)
    with pytest.raises(ad.ShapeError, match="equal sections"):
        np.split(v, 2, axis=1)
    with pytest.raises(ad.ShapeError, match="vsplit"):
        ad.vsplit(v[0], 2)
    with pytest.raises(np.exceptions.AxisError):
        np.swapaxes(v, axis1=0, axis2=2)
    with pytest.raises(ValueError, match="repeated axis"):
        np.expand_dims(v, axis=(0, 0))
    with pytest.raises(ValueError, match="order='K'"):
        np.ravel(v, order="K")
    with pytest.raises(TypeError, match="out"):
        np.concatenate([v, v], out=np.ones((4, 3)))
    with pytest.raises(ad.ShapeError, match="tensordot"):
        ad.tensordot(v, v, axes=([0, 1], [0]))


# ---------------------------------------------------------------------------------
# 3. NumPy dispatch with NumPy's keyword names, and the array methods
# ---------------------------------------------------------------------------------

M = np.array([[1.0, -2.0, 0.5], [0.3, 0.7, -1.1]])
T3 = np.arange(12.0).reshape(2, 3, 2) / 10
X0 = np.array([[0.4, 1.3, 0.9], [1.7, 0.25, 1.1]])  # distinct, away from the clip bounds
KEYWORDS = {
    "np.einsum": lambda v: np.einsum("ij,kj->ik", v, M),
    "np.einsum optimize=": lambda v: np.einsum("ij,ij->", v, v, optimize=True),
    "np.tensordot axes=": lambda v: np.tensordot(v, T3, axes=([0], [0])),
    "np.outer": lambda v: np.outer(v, M[0]), "np.inner": lambda v: np.inner(v, M),
    "np.dot N-D": lambda v: np.dot(T3, v), "np.matmul stack": lambda v: np.matmul(T3, v),
    "np.reshape -1": lambda v: np.reshape(v, -1),
    "np.reshape shape= order=": lambda v: np.reshape(v, shape=(3, 2), order="F"),
    "np.ravel order=": lambda v: np.ravel(v, order="F"),
    "np.transpose axes=": lambda v: np.transpose(v, axes=(1, 0)),
    "np.swapaxes axis1= axis2=": lambda v: np.swapaxes(v, axis1=0, axis2=1),
    "np.expand_dims axis=tuple": lambda v: np.expand_dims(v, axis=(0, 2)),
    "np.squeeze axis=": lambda v: np.squeeze(v[None], axis=0),
    "np.moveaxis source= destination=": lambda v: np.moveaxis(v, source=0, destination=-1),
    "np.concatenate axis=None": lambda v: np.concatenate([v, M], axis=None),
    "np.stack axis=": lambda v: np.stack([v, M], axis=-1),
    "np.broadcast_to shape=": lambda v: np.broadcast_to(v, shape=(2, 2, 3)),
    "np.repeat axis=": lambda v: np.repeat(v, repeats=[1, 2, 0], axis=1),
    "np.tile reps=": lambda v: np.tile(v, reps=(2, 1)),
    "np.vstack": lambda v: np.vstack([v, M[0]]), "np.hstack": lambda v: np.hstack([v, M]),
    "np.column_stack": lambda v: np.column_stack([v[0], M[1], v[1]]),
    "np.split": lambda v: np.concatenate(np.split(v, 3, axis=1)[::-1], axis=1),
    "np.array_split": lambda v: np.stack(np.array_split(v[0], 2)[0]),
    "np.hsplit": lambda v: np.hsplit(v, [1])[1], "np.vsplit": lambda v: np.vsplit(v, 2)[1],
    "np.diag": lambda v: np.diag(v, k=1), "np.diag vector": lambda v: np.diag(v[0], k=-1),
    "np.trace offset=": lambda v: np.trace(v, offset=1),
    "np.triu k=": lambda v: np.triu(v, k=1), "np.tril": lambda v: np.tril(v),
    "np.pad": lambda v: np.pad(v, pad_width=((1, 0), (0, 2)), constant_values=0.5),
    "np.pad mode=": lambda v: np.pad(v, 2, mode="reflect"),
    "np.flip axis=": lambda v: np.flip(v, axis=1),
    "np.roll shift= axis=": lambda v: np.roll(v, shift=-1, axis=1),
    "np.clip": lambda v: np.clip(v, 0.3, 1.2), "np.clip a_min=None": lambda v: np.clip(v, None, 1),
    "np.sort axis=": lambda v: np.sort(v, axis=0),
    "np.sort kind=": lambda v: np.sort(v, kind="heapsort"),
    "v.T": lambda v: v.T, "v.ravel()": lambda v: v.ravel(), "v.flatten()": lambda v: v.flatten(),
    "v.squeeze()": lambda v: v[None].squeeze(),
    "v.squeeze(axis=)": lambda v: v[None].squeeze(axis=0),
    "v.astype(float64)": lambda v: v.astype(np.float64),
    "v.sum(axis=(0, 1), keepdims=True)": lambda v: v.sum(axis=(0, 1), keepdims=True),
    "v.sum(0)": lambda v: v.sum(0), "v.mean(axis=1)": lambda v: v.mean(axis=1),
    "v.max(axis=1, keepdims=True)": lambda v: v.max(axis=1, keepdims=True),
    "v.reshape(3, 2)": lambda v: v.reshape(3, 2), "v.reshape((3, 2))": lambda v: v.reshape((3, 2)),
    "v.reshape(-1)": lambda v: v.reshape(-1), "v.reshape([3, 2])": lambda v: v.reshape([3, 2]),
    "v.reshape(order=F)": lambda v: v.reshape(3, 2, order="F"),
    "v.swapaxes": lambda v: v.swapaxes(0, 1), "v.repeat": lambda v: v.repeat(2, axis=0),
    "v.dot": lambda v: v.dot(M.T), "v.trace()": lambda v: v.trace(),
}
if hasattr(np, "astype"):  # NumPy >= 2.1
    KEYWORDS["np.astype"] = lambda v: np.astype(v, np.float64)
    KEYWORDS["np.clip min= max="] = lambda v: np.clip(v, min=0.3, max=1.2)


@pytest.mark.parametrize("name", list(KEYWORDS))
def test_numpy_keywords_and_methods(name):
    fn = KEYWORDS[name]
    want = fn(X0)  # NumPy itself on the plain array is the reference
    for box in (ad.Var(X0), ad.Dual(X0, np.ones_like(X0))):
        out = fn(box)
        assert isinstance(out, type(box)), type(out)
        np.testing.assert_allclose(raw(out.value), want, rtol=1e-12, atol=1e-12)
    check(fn, (X0,), order=1)  # inside ad.jvp and ad.vjp, against central differences


# ---------------------------------------------------------------------------------
# 4. float32 in, float32 out
# ---------------------------------------------------------------------------------

A32 = np.array([[0.5, -1.5, 2.0], [1.0, 0.25, -0.75], [0.1, 0.2, 0.3]], dtype=np.float32)
FLOAT32 = {
    "einsum ij,jk": lambda x: ad.einsum("ij,jk->ik", x, x),
    "einsum ii->i": lambda x: ad.einsum("ii->i", x), "einsum ii": lambda x: ad.einsum("ii", x),
    "einsum ij->": lambda x: ad.einsum("ij->", x),
    "tensordot": lambda x: ad.tensordot(x, x, axes=([0], [1])), "outer": lambda x: ad.outer(x, x),
    "inner": lambda x: ad.inner(x, x), "dot N-D": lambda x: ad.dot(x[None], x),
    "repeat": lambda x: ad.repeat(x, 2, axis=0),
    "repeat list": lambda x: ad.repeat(x, [1, 0, 2], axis=0),
    "tile": lambda x: ad.tile(x, (2, 1)), "diag": lambda x: ad.diag(x, 1),
    "diag vector": lambda x: ad.diag(x[0]), "matrix_trace": lambda x: ad.matrix_trace(x),
    "triu": lambda x: ad.triu(x), "tril": lambda x: ad.tril(x, -1),
    "pad": lambda x: ad.pad(x, 1, constant_values=2.0), "pad edge": lambda x: ad.pad(x, 1, "edge"),
    "flip": lambda x: ad.flip(x), "roll": lambda x: ad.roll(x, 1, 0),
    "clip": lambda x: ad.clip(x, -1.0, 1.0), "sort": lambda x: ad.sort(x),
    "sort axis=None": lambda x: ad.sort(x, axis=None), "ravel": lambda x: ad.ravel(x),
    "moveaxis": lambda x: ad.moveaxis(x, 0, 1), "vstack": lambda x: ad.vstack([x, x[0]]),
    "split": lambda x: ad.split(x, 3)[1],
}


@pytest.mark.parametrize("name", list(FLOAT32))
def test_float32_in_float32_out(name):
    f = FLOAT32[name]
    out = f(ad.Var(A32))
    assert raw(out).dtype == np.float32
    u = np.ones(np.shape(raw(out)), dtype=np.float32)  # a float32 cotangent
    t = np.ones_like(A32)  # and tangent
    # reverse, forward, and forward over reverse (second order)
    x = ad.Var(A32)
    ad.sum(f(x) * u).backward()
    assert x.grad.dtype == np.float32
    assert ad.vjp(f, A32)[1](u)[0].dtype == np.float32
    assert np.asarray(ad.jvp(f, (A32,), (t,))[1]).dtype == np.float32
    second = ad.jvp(lambda x: ad.vjp(lambda y: f(y) * f(y), x)[1](u)[0], (A32,), (t,))[1]
    assert np.asarray(second).dtype == np.float32
