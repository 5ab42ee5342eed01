r"""The registry: every primitive adlab can differentiate, with its rules side by side.

Read each entry as a line of a table of derivatives. For :math:`y = \sin x`:

* evaluation: ``np.sin(x)``
* JVP (forward): :math:`\dot y = \cos(x)\,\dot x` → ``lambda t, ans, x: t * cos(x)``
* VJP (reverse): :math:`\bar x \mathrel{+}= \bar y \cos(x)` → ``lambda g, ans, x: g * cos(x)``
* reads: the VJP needs the value of ``x``, so reverse mode must store it.

``t`` is an argument's tangent, ``g`` the output's adjoint (cotangent), ``ans`` the
output's value. Rules use adlab's operations (``cos`` here is :data:`cos` below), so
derivatives of derivatives come for free. Broadcasting is undone by the engine.

Domain errors follow NumPy: ``log(-1.0)`` is ``nan`` with a ``RuntimeWarning``, and its
derivative is whatever the rule gives at that point. Nothing raises.
"""

from __future__ import annotations

import builtins
import math

import numpy as np

from adlab import core
from adlab.core import Box, Primitive, raw

REGISTRY: dict[str, Primitive] = {}


def defprim(name: str, impl, argnames: str, doc: str = "", **rules) -> Primitive:
    """Create a primitive and enter it in :data:`REGISTRY`."""
    prim = Primitive(name, impl, argnames, doc=doc, **rules)
    REGISTRY[name] = prim
    return prim


def _scalar_fast(math_fn, np_fn):
    """Use ``math`` on Python floats (20x faster than NumPy), NumPy otherwise.

    Where ``math`` would raise (``log(-1)``, ``exp(1000)``) we fall back to NumPy, whose
    answer (``nan`` / ``inf`` with a warning) is the documented behaviour.
    """

    def impl(x):
        if type(x) is float:
            try:
                return math_fn(x)
            except (ValueError, OverflowError):
                pass
        return np_fn(x)

    impl.__name__ = np_fn.__name__
    return impl


def _array_method(name: str):
    """``x.name(...)`` for arrays (skipping NumPy's dispatch layer: it is a hot path),
    ``np.name(x, ...)`` for anything else (Python numbers)."""
    np_fn = getattr(np, name)

    def impl(x, *args, **kwargs):
        if type(x) is np.ndarray:
            return getattr(x, name)(*args, **kwargs)
        return np_fn(x, *args, **kwargs)

    impl.__name__ = name
    return impl


_np_sum, _np_mean, _np_max = _array_method("sum"), _array_method("mean"), _array_method("max")
_np_reshape, _np_transpose = _array_method("reshape"), _array_method("transpose")


def _shape(x) -> tuple:
    return np.shape(raw(x))


def _kept_shape(shape: tuple, axis) -> tuple:
    """``shape`` with the reduced ``axis`` (None, int or tuple) kept as size 1."""
    if axis is None:
        return (1,) * len(shape)
    axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def _keep(g, x, axis, keepdims: bool):
    """Reshape a reduction's output-sized ``g`` so it broadcasts against ``x``."""
    return g if keepdims else reshape(g, _kept_shape(_shape(x), axis))


def _sign(x):
    return np.sign(raw(x))  # derivative zero almost everywhere: a constant


# ---------------------------------------------------------------------------------
# Arithmetic
# ---------------------------------------------------------------------------------

add = defprim(
    "add", lambda x, y: x + y, "x y", "x + y", linear=True,
    vjp=(lambda g, ans, x, y: g,
         lambda g, ans, x, y: g))

sub = defprim(
    "sub", lambda x, y: x - y, "x y", "x - y", linear=True,
    vjp=(lambda g, ans, x, y: g,
         lambda g, ans, x, y: -g))

neg = defprim(
    "neg", lambda x: -x, "x", "-x", linear=True,
    vjp=(lambda g, ans, x: -g,))

mul = defprim(
    "mul", lambda x, y: x * y, "x y", "x * y",
    jvp=(lambda t, ans, x, y: t * y,
         lambda t, ans, x, y: x * t),
    vjp=(lambda g, ans, x, y: g * y,
         lambda g, ans, x, y: g * x),
    reads=("y", "x"))

div = defprim(
    "div", lambda x, y: x / y, "x y", "x / y",
    jvp=(lambda t, ans, x, y: t / y,
         lambda t, ans, x, y: -t * x / (y * y)),
    vjp=(lambda g, ans, x, y: g / y,
         lambda g, ans, x, y: -g * x / (y * y)),
    reads=("y", "x y"))


def _pow_impl(x, y):
    return x**y


def _exponent_less_one(x, y):
    # y - 1, except where x == 0 and y == 0 (there d/dx x**0 = 0, and 0 * 0**-1 would be
    # nan). Only there: elsewhere y - 1 must stay a function of y, or the mixed second
    # derivative d/dy (y x**(y-1)) = x**-1 at y = 0 would come out as x.
    keep = (raw(y) != 0) | (raw(x) != 0)
    if np.ndim(keep) == 0:
        return y - 1 if keep else 1.0
    return where(keep, y - 1, 1.0)


def _safe_log(x):
    # log x where x > 0 and 0 elsewhere: d/dy x**y = x**y log x is 0 at x = 0
    if np.ndim(raw(x)) == 0:
        return log(x) if raw(x) > 0 else 0.0
    return log(where(raw(x) > 0, x, 1.0))


pow = defprim(  # noqa: A001 - the name the literature uses
    "pow", _pow_impl, "x y", "x ** y",
    jvp=(lambda t, ans, x, y: t * y * x ** _exponent_less_one(x, y),
         lambda t, ans, x, y: t * ans * _safe_log(x)),
    vjp=(lambda g, ans, x, y: g * y * x ** _exponent_less_one(x, y),
         lambda g, ans, x, y: g * ans * _safe_log(x)),
    reads=("x y", "x ans"))

# ---------------------------------------------------------------------------------
# Elementary functions
# ---------------------------------------------------------------------------------

sin = defprim(
    "sin", _scalar_fast(math.sin, np.sin), "x", "sin x",
    jvp=(lambda t, ans, x: t * cos(x),), vjp=(lambda g, ans, x: g * cos(x),),
    reads=("x",))

cos = defprim(
    "cos", _scalar_fast(math.cos, np.cos), "x", "cos x",
    jvp=(lambda t, ans, x: -t * sin(x),), vjp=(lambda g, ans, x: -g * sin(x),),
    reads=("x",))

tan = defprim(
    "tan", _scalar_fast(math.tan, np.tan), "x", "tan x;  d/dx tan x = 1 + tan² x",
    jvp=(lambda t, ans, x: t * (1 + ans * ans),),
    vjp=(lambda g, ans, x: g * (1 + ans * ans),),
    reads=("ans",))

exp = defprim(
    "exp", _scalar_fast(math.exp, np.exp), "x", "e^x;  d/dx e^x = e^x, the output itself",
    jvp=(lambda t, ans, x: t * ans,), vjp=(lambda g, ans, x: g * ans,),
    reads=("ans",))

log = defprim(
    "log", _scalar_fast(math.log, np.log), "x", "natural logarithm;  d/dx log x = 1/x",
    jvp=(lambda t, ans, x: t / x,), vjp=(lambda g, ans, x: g / x,),
    reads=("x",))

sqrt = defprim(
    "sqrt", _scalar_fast(math.sqrt, np.sqrt), "x", "square root;  d/dx √x = 1 / (2√x)",
    jvp=(lambda t, ans, x: t * 0.5 / ans,), vjp=(lambda g, ans, x: g * 0.5 / ans,),
    reads=("ans",))

absolute = defprim(
    "abs", _scalar_fast(builtins.abs, np.abs), "x", "|x|;  derivative sign(x) (0 at 0)",
    jvp=(lambda t, ans, x: t * _sign(x),), vjp=(lambda g, ans, x: g * _sign(x),),
    reads=("x",))

tanh = defprim(
    "tanh", _scalar_fast(math.tanh, np.tanh), "x", "tanh x;  derivative 1 - tanh² x",
    jvp=(lambda t, ans, x: t * (1 - ans * ans),),
    vjp=(lambda g, ans, x: g * (1 - ans * ans),),
    reads=("ans",))


def _sigmoid_impl(x):
    # 1 / (1 + e^-x), computed without overflow for large |x|
    if type(x) is float:
        if x >= 0:
            return 1.0 / (1.0 + math.exp(-x))
        e = math.exp(x)
        return e / (1.0 + e)
    e = np.exp(-np.abs(x))
    return np.where(np.asarray(x) >= 0, 1 / (1 + e), e / (1 + e))[()]


sigmoid = defprim(
    "sigmoid", _sigmoid_impl, "x", "σ(x) = 1 / (1 + e^-x);  derivative σ(x)(1 - σ(x))",
    jvp=(lambda t, ans, x: t * ans * (1 - ans),),
    vjp=(lambda g, ans, x: g * ans * (1 - ans),),
    reads=("ans",))


def _relu_impl(x):
    if type(x) is float:
        return x if x > 0.0 else 0.0
    return np.maximum(x, 0)


relu = defprim(
    "relu", _relu_impl, "x", "max(x, 0);  derivative 1 where x > 0, else 0",
    jvp=(lambda t, ans, x: t * (raw(x) > 0),), vjp=(lambda g, ans, x: g * (raw(x) > 0),),
    reads=("x",))


def _winner(x, y, strict):
    # 1 where x wins, 0 where y wins, 1/2 on ties (the subgradient JAX uses too)
    x, y = raw(x), raw(y)
    return strict(x, y) + 0.5 * (x == y)


maximum = defprim(
    "maximum", np.maximum, "x y", "elementwise max; ties share the derivative equally",
    jvp=(lambda t, ans, x, y: t * _winner(x, y, np.greater),
         lambda t, ans, x, y: t * _winner(y, x, np.greater)),
    vjp=(lambda g, ans, x, y: g * _winner(x, y, np.greater),
         lambda g, ans, x, y: g * _winner(y, x, np.greater)),
    reads=("x y", "x y"))

minimum = defprim(
    "minimum", np.minimum, "x y", "elementwise min; ties share the derivative equally",
    jvp=(lambda t, ans, x, y: t * _winner(x, y, np.less),
         lambda t, ans, x, y: t * _winner(y, x, np.less)),
    vjp=(lambda g, ans, x, y: g * _winner(x, y, np.less),
         lambda g, ans, x, y: g * _winner(y, x, np.less)),
    reads=("x y", "x y"))

_where = defprim(
    "where", np.where, "cond x y", "x where cond holds, y elsewhere (cond is not differentiated)",
    jvp=(None,
         lambda t, ans, c, x, y: where(c, t, 0.0),
         lambda t, ans, c, x, y: where(c, 0.0, t)),
    vjp=(None,
         lambda g, ans, c, x, y: where(c, g, 0.0),
         lambda g, ans, c, x, y: where(c, 0.0, g)),
    reads=("", "cond", "cond"))


def where(cond, x, y):
    """``x`` where ``cond`` is true, ``y`` elsewhere. The condition is a plain boolean array."""
    return _where(raw(cond), x, y)


# ---------------------------------------------------------------------------------
# Linear algebra
# ---------------------------------------------------------------------------------

def _mT(x):
    """Swap the last two axes."""
    n = np.ndim(raw(x))
    if n == 2:
        return transpose(x)
    axes = list(range(n))
    axes[-2], axes[-1] = axes[-1], axes[-2]
    return transpose(x, tuple(axes))


def _matmul_vjp_a(g, ans, a, b):
    # y = a @ b  =>  a_bar = y_bar @ b^T (with 1-D operands promoted and squeezed back)
    na, nb = np.ndim(raw(a)), np.ndim(raw(b))
    if nb == 1:
        return g * b if na == 1 else reshape(g, _shape(g) + (1,)) * b
    if na == 1:  # a_bar[k] = sum over batch and j of b[..., k, j] g[..., j]
        gm = matmul(b, reshape(g, _shape(g) + (1,)))
        return reshape(gm, _shape(gm)[:-1])
    return matmul(g, _mT(b))


def _matmul_vjp_b(g, ans, a, b):
    # y = a @ b  =>  b_bar = a^T @ y_bar (with 1-D operands promoted and squeezed back)
    na, nb = np.ndim(raw(a)), np.ndim(raw(b))
    if na == 1:
        if nb == 1:
            return g * a
        return reshape(a, (-1, 1)) * reshape(g, _shape(g)[:-1] + (1, _shape(g)[-1]))
    if nb == 1:
        gm = reshape(g, _shape(g)[:-1] + (1, _shape(g)[-1]))
        out = matmul(gm, a)
        return reshape(out, _shape(out)[:-2] + (_shape(out)[-1],))
    return matmul(_mT(a), g)


matmul = defprim(
    "matmul", np.matmul, "a b", "matrix product a @ b (NumPy's rules for 1-D and batches)",
    jvp=(lambda t, ans, a, b: matmul(t, b),
         lambda t, ans, a, b: matmul(a, t)),
    vjp=(_matmul_vjp_a, _matmul_vjp_b),
    reads=("b", "a"))


def dot(a, b):
    """``np.dot`` for scalars, vectors and matrices (``mul`` or ``matmul`` underneath)."""
    na, nb = np.ndim(raw(a)), np.ndim(raw(b))
    if na == 0 or nb == 0:
        return mul(a, b)
    if na <= 2 and nb <= 2:
        return matmul(a, b)
    raise ValueError(
        f"adlab.dot handles operands of up to 2 dimensions, got shapes {_shape(a)} and "
        f"{_shape(b)}. For stacks of matrices use matmul (@), whose batching rules are "
        "the ones you almost certainly want."
    )


# ---------------------------------------------------------------------------------
# Reductions
# ---------------------------------------------------------------------------------

def _sum_vjp(g, ans, x, axis=None, keepdims=False):
    return broadcast_to(_keep(g, x, axis, keepdims), _shape(x))


sum = defprim(  # noqa: A001
    "sum", lambda x, axis=None, keepdims=False: _np_sum(x, axis=axis, keepdims=keepdims),
    "x", "sum over axis (all axes by default)", linear=True,
    vjp=(_sum_vjp,))


def _count(x, axis) -> int:
    shape = _shape(x)
    if axis is None:
        return int(np.prod(shape))
    axes = axis if isinstance(axis, tuple) else (axis,)
    return int(np.prod([shape[a] for a in axes]))


mean = defprim(
    "mean", lambda x, axis=None, keepdims=False: _np_mean(x, axis=axis, keepdims=keepdims),
    "x", "mean over axis (all axes by default)", linear=True,
    vjp=(lambda g, ans, x, axis=None, keepdims=False: _sum_vjp(g, ans, x, axis, keepdims)
         / _count(x, axis),))


def _argmax_mask(x, ans, axis, keepdims):
    # 1/k on each of the k entries that attain the maximum, 0 elsewhere
    xv = raw(x)
    best = raw(ans) if keepdims else np.reshape(raw(ans), _kept_shape(np.shape(xv), axis))
    hit = xv == best
    return hit / np.sum(hit, axis=axis, keepdims=True)


max = defprim(  # noqa: A001
    "max", lambda x, axis=None, keepdims=False: _np_max(x, axis=axis, keepdims=keepdims),
    "x", "maximum over axis; ties share the derivative equally",
    jvp=(lambda t, ans, x, axis=None, keepdims=False:
         sum(t * _argmax_mask(x, ans, axis, keepdims), axis=axis, keepdims=keepdims),),
    vjp=(lambda g, ans, x, axis=None, keepdims=False:
         _keep(g, x, axis, keepdims) * _argmax_mask(x, ans, axis, keepdims),),
    reads=("x ans",))


def _shifted(x, axis):
    """``x - max(x)`` along ``axis`` (so exp cannot overflow), and the shift used."""
    m = np.max(x, axis=axis, keepdims=True)
    if not np.all(np.isfinite(m)):  # a row of -inf: shift it by 0, not by -inf (nan)
        m = np.where(np.isfinite(m), m, 0.0)
    return x - m, m


def _logsumexp_impl(x, axis=None, keepdims=False):
    s, m = _shifted(x, axis)
    out = np.log(np.sum(np.exp(s), axis=axis, keepdims=True)) + m
    return out if keepdims else np.squeeze(out, axis=axis)


logsumexp = defprim(
    "logsumexp", _logsumexp_impl, "x",
    "log Σ e^x over axis, computed stably;  gradient softmax(x)",
    jvp=(lambda t, ans, x, axis=None, keepdims=False:
         sum(t * exp(x - _keep(ans, x, axis, keepdims)), axis=axis, keepdims=keepdims),),
    vjp=(lambda g, ans, x, axis=None, keepdims=False:
         _keep(g, x, axis, keepdims) * exp(x - _keep(ans, x, axis, keepdims)),),
    reads=("x ans",))


def _softmax_impl(x, axis=-1):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)


softmax = defprim(
    "softmax", _softmax_impl, "x", "e^x / Σ e^x along axis;  VJP s * (g - Σ g s)",
    jvp=(lambda t, ans, x, axis=-1: ans * (t - sum(ans * t, axis=axis, keepdims=True)),),
    vjp=(lambda g, ans, x, axis=-1: ans * (g - sum(g * ans, axis=axis, keepdims=True)),),
    reads=("ans",))

def _log_softmax_impl(x, axis=-1):
    s, _ = _shifted(x, axis)
    return s - np.log(np.sum(np.exp(s), axis=axis, keepdims=True))


log_softmax = defprim(
    "log_softmax", _log_softmax_impl, "x",
    "x - logsumexp(x) along axis;  VJP g - softmax(x) Σ g",
    jvp=(lambda t, ans, x, axis=-1: t - sum(exp(ans) * t, axis=axis, keepdims=True),),
    vjp=(lambda g, ans, x, axis=-1: g - exp(ans) * sum(g, axis=axis, keepdims=True),),
    reads=("ans",))

# ---------------------------------------------------------------------------------
# Shapes, indexing, joining
# ---------------------------------------------------------------------------------

reshape = defprim(
    "reshape", lambda x, shape: _np_reshape(x, shape), "x", "the same entries in a new shape",
    linear=True, vjp=(lambda g, ans, x, shape: reshape(g, _shape(x)),))


def _transpose_vjp(g, ans, x, axes=None):
    if axes is None:
        return transpose(g)
    n = len(_shape(x))  # axes may be negative, as in NumPy: normalise before inverting
    return transpose(g, tuple(int(i) for i in np.argsort([a % n for a in axes])))


transpose = defprim(
    "transpose", lambda x, axes=None: _np_transpose(x, axes), "x",
    "axes permuted (reversed by default)", linear=True, vjp=(_transpose_vjp,))

broadcast_to = defprim(
    "broadcast_to", lambda x, shape: np.broadcast_to(x, shape), "x",
    "x repeated along new or size-1 axes;  VJP sums them back", linear=True,
    vjp=(lambda g, ans, x, shape: g,))  # the engine's unbroadcast does the summing


def _is_basic(idx) -> bool:
    parts = idx if isinstance(idx, tuple) else (idx,)
    return all(isinstance(p, (int, np.integer, slice)) or p is None or p is Ellipsis
               for p in parts)


def _scatter_impl(g, idx, shape):
    out = np.zeros(shape, dtype=np.result_type(g, np.float64) if np.ndim(g) == 0
                   else np.asarray(g).dtype)
    if _is_basic(idx):
        out[idx] += g  # basic indexing never selects an entry twice
    else:
        np.add.at(out, idx, g)  # x[[0, 0]] uses x[0] twice: add both contributions
    return out


getitem = defprim(
    "getitem", lambda x, idx: x[idx], "x", "x[idx]: indexing and slicing", linear=True,
    vjp=(lambda g, ans, x, idx: scatter(g, idx, _shape(x)),))

scatter = defprim(
    "scatter", _scatter_impl, "g",
    "zeros of `shape` with g added at idx (the transpose of indexing)", linear=True,
    vjp=(lambda g, ans, x, idx, shape: getitem(g, idx),))


def _concat_vjp(i, g, ans, *xs, axis=0):
    ax = axis % np.ndim(raw(ans))
    start = builtins.sum(_shape(x)[ax] for x in xs[:i])
    idx = (slice(None),) * ax + (slice(start, start + _shape(xs[i])[ax]),)
    return getitem(g, idx)


_concatenate = defprim(
    "concatenate", lambda *xs, axis=0: np.concatenate(xs, axis=axis), "*xs",
    "arrays joined along an existing axis", linear=True, vjp_n=_concat_vjp)


def _stack_vjp(i, g, ans, *xs, axis=0):
    ax = axis % np.ndim(raw(ans))
    return getitem(g, (slice(None),) * ax + (i,))


_stack = defprim(
    "stack", lambda *xs, axis=0: np.stack(xs, axis=axis), "*xs",
    "arrays joined along a new axis", linear=True, vjp_n=_stack_vjp)


def concatenate(arrays, axis: int = 0):
    """Join a sequence of arrays along an existing axis (like ``np.concatenate``)."""
    return _concatenate(*arrays, axis=axis)


def stack(arrays, axis: int = 0):
    """Join a sequence of arrays along a new axis (like ``np.stack``)."""
    return _stack(*arrays, axis=axis)


# ---------------------------------------------------------------------------------
# Convenience functions built from primitives (not primitives themselves)
# ---------------------------------------------------------------------------------

def expand_dims(x, axis: int):
    shape = list(_shape(x))
    shape.insert(axis % (len(shape) + 1), 1)
    return reshape(x, tuple(shape))


def squeeze(x, axis=None):
    shape = _shape(x)
    if axis is None:
        keep = tuple(n for n in shape if n != 1)
    else:
        axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
        keep = tuple(n for i, n in enumerate(shape) if i not in axes)
    return reshape(x, keep)


def swapaxes(x, a: int, b: int):
    axes = list(range(len(_shape(x))))
    axes[a], axes[b] = axes[b], axes[a]
    return transpose(x, tuple(axes))


def zeros_like(x):
    return np.zeros_like(raw(x), dtype=float)


def ones_like(x):
    return np.ones_like(raw(x), dtype=float)


# ---------------------------------------------------------------------------------
# Operators and NumPy dispatch on boxes
# ---------------------------------------------------------------------------------

_UFUNCS = {
    np.add: add, np.subtract: sub, np.multiply: mul, np.true_divide: div,
    np.power: pow, np.negative: neg, np.sin: sin, np.cos: cos, np.tan: tan,
    np.exp: exp, np.log: log, np.sqrt: sqrt, np.absolute: absolute, np.tanh: tanh,
    np.maximum: maximum, np.minimum: minimum, np.matmul: matmul,
    np.positive: lambda x: x, np.square: lambda x: x * x,
}
# comparisons go through the boxes' own comparison (so a static graph sees them as
# conditions, see adlab.guards); other tests of values are plain, constant answers
_COMPARE_UFUNCS = {np.greater: ">", np.greater_equal: ">=", np.less: "<",
                   np.less_equal: "<=", np.equal: "==", np.not_equal: "!="}
_COMPARISONS = {np.sign, np.isfinite, np.isnan, np.isinf, np.signbit}


def _reduction(prim):
    def call(x, axis=None, keepdims=False, **kw):
        _no_extras(prim.name, kw)
        return prim(x, axis=axis, keepdims=keepdims)
    return call


def _no_extras(name, kw):
    extra = {k: v for k, v in kw.items() if v is not None and v is not np._NoValue}
    if extra:
        raise TypeError(f"adlab's {name} does not support the argument(s) {sorted(extra)}")


_FUNCTIONS = {
    np.sum: _reduction(sum), np.mean: _reduction(mean), np.max: _reduction(max),
    np.amax: _reduction(max),
    np.reshape: lambda x, shape=None, newshape=None, **kw: reshape(
        x, shape if shape is not None else newshape),
    np.transpose: lambda x, axes=None: transpose(x, axes),
    np.concatenate: lambda arrays, axis=0: concatenate(arrays, axis),
    np.stack: lambda arrays, axis=0: stack(arrays, axis),
    np.where: lambda c, x, y: where(c, x, y), np.dot: dot,
    np.broadcast_to: lambda x, shape: broadcast_to(x, shape),
    np.expand_dims: expand_dims, np.squeeze: squeeze, np.swapaxes: swapaxes,
    np.shape: _shape, np.ndim: lambda x: np.ndim(raw(x)), np.size: lambda x: np.size(raw(x)),
    np.zeros_like: lambda x, *a, **k: np.zeros_like(raw(x), *a, **k),
    np.ones_like: lambda x, *a, **k: np.ones_like(raw(x), *a, **k),
    np.allclose: lambda a, b, *r, **k: np.allclose(raw(a), raw(b), *r, **k),
    np.isclose: lambda a, b, *r, **k: np.isclose(raw(a), raw(b), *r, **k),
    np.result_type: lambda *a: np.result_type(*[raw(x) for x in a]),
}


def _no_rule(name: str, box) -> TypeError:
    return TypeError(
        f"numpy.{name} was called on an adlab {type(box).__name__}, but adlab has no "
        f"derivative rule for it. adlab's primitives are: {', '.join(sorted(REGISTRY))}. "
        f"Write the function with those, register a new Primitive with its JVP and VJP "
        f"rules (see adlab.ops), or call numpy.{name} on .value if you do not need its "
        "derivative."
    )


def _array_ufunc(self, ufunc, method, *inputs, **kwargs):
    op = _COMPARE_UFUNCS.get(ufunc)
    if op is not None and method == "__call__" and not kwargs and len(inputs) == 2:
        return core._compare(op, *inputs)  # np.greater(x, 0), or an array on the left
    if (ufunc in _COMPARISONS or op is not None) and method == "__call__":
        return ufunc(*[raw(x) for x in inputs], **kwargs)
    fn = _UFUNCS.get(ufunc)
    if fn is None or method != "__call__" or kwargs:
        what = ufunc.__name__ if method == "__call__" else f"{ufunc.__name__}.{method}"
        if kwargs and fn is not None:
            raise TypeError(f"numpy.{what} with {sorted(kwargs)} is not supported on adlab "
                            "values: call it without out=/where=/dtype=.")
        raise _no_rule(what, self)
    return fn(*inputs)


def _array_function(self, func, types, args, kwargs):
    fn = _FUNCTIONS.get(func)
    if fn is None:
        module = func.__module__.removeprefix("numpy").strip(".")
        raise _no_rule(f"{module}.{func.__name__}" if module else func.__name__, self)
    return fn(*args, **kwargs)


def _index(self, idx):
    if isinstance(idx, Box):
        idx = raw(idx)
    return getitem(self, idx)


def _transpose_method(self, *axes):
    # like ndarray.transpose: x.transpose(), x.transpose(1, 0) or x.transpose((1, 0))
    if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))):
        axes = axes[0]
    return transpose(self, tuple(axes) if axes else None)


def _install_operators(cls) -> None:
    ops = {
        "__add__": lambda s, o: add(s, o), "__radd__": lambda s, o: add(o, s),
        "__sub__": lambda s, o: sub(s, o), "__rsub__": lambda s, o: sub(o, s),
        "__mul__": lambda s, o: mul(s, o), "__rmul__": lambda s, o: mul(o, s),
        "__truediv__": lambda s, o: div(s, o), "__rtruediv__": lambda s, o: div(o, s),
        "__pow__": lambda s, o: pow(s, o), "__rpow__": lambda s, o: pow(o, s),
        "__matmul__": lambda s, o: matmul(s, o), "__rmatmul__": lambda s, o: matmul(o, s),
        "__neg__": lambda s: neg(s), "__pos__": lambda s: s,
        "__abs__": lambda s: absolute(s), "__getitem__": _index,
        "__array_ufunc__": _array_ufunc, "__array_function__": _array_function,
        "T": property(lambda s: transpose(s)),
        "sum": lambda s, axis=None, keepdims=False: sum(s, axis=axis, keepdims=keepdims),
        "mean": lambda s, axis=None, keepdims=False: mean(s, axis=axis, keepdims=keepdims),
        "max": lambda s, axis=None, keepdims=False: max(s, axis=axis, keepdims=keepdims),
        "reshape": lambda s, *shape: reshape(
            s, shape[0] if len(shape) == 1 and isinstance(shape[0], tuple) else shape),
        "transpose": _transpose_method,
    }
    for name, fn in ops.items():
        setattr(cls, name, fn)


_install_operators(Box)


def rule_table() -> str:
    """A plain-text table of every primitive: name, meaning, and what its VJP reads."""
    rows = []
    for name, p in sorted(REGISTRY.items()):
        reads = sorted({r for rs in p.reads for r in rs})
        rows.append(f"{name:12s} {p.doc or '':70s} reads: {', '.join(reads) or '-'}")
    return "\n".join(rows)

