r"""NumPy and Python operators on adlab values, routed to the registry's primitives.

:mod:`adlab.ops` is the table of calculus; this module is the plumbing that lets ordinary
code reach it: ``x * y`` calls :data:`adlab.ops.mul`, ``np.sin(x)`` (a NumPy ufunc) and
``np.sum(x, axis=0)`` (a NumPy function, through ``__array_function__``) call the
primitives of the same names, and array methods (``x.sum()``, ``x.T``) do too. A NumPy
function adlab has no rule for raises an error that names it.
"""

from __future__ import annotations

import numpy as np

from adlab import core
from adlab.core import Box, raw
from adlab.ops import (
    REGISTRY,
    _shape,
    absolute,
    add,
    broadcast_to,
    concatenate,
    cos,
    div,
    dot,
    exp,
    expand_dims,
    getitem,
    log,
    matmul,
    max,
    maximum,
    mean,
    minimum,
    mul,
    neg,
    pow,
    reshape,
    sin,
    sqrt,
    squeeze,
    stack,
    sub,
    sum,
    swapaxes,
    tan,
    tanh,
    transpose,
    where,
)

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
    methods = {
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
    for name, fn in methods.items():
        setattr(cls, name, fn)


_install_operators(Box)


