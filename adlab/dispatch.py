r"""NumPy and Python operators on adlab values, routed to the registry's primitives.

:mod:`adlab.ops` is the table of calculus; this module is the plumbing that lets ordinary
code reach it: ``x * y`` calls :data:`adlab.ops.mul`, ``np.sin(x)`` (a NumPy ufunc) and
``np.sum(x, axis=0)`` (a NumPy function, through ``__array_function__``) call the
primitives of the same names, and array methods (``x.sum()``, ``x.T``) do too. A NumPy
function adlab has no rule for raises an error that names it.
"""

from __future__ import annotations

import numpy as np

from adlab import core, ops
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
    sin,
    sqrt,
    stack,
    sub,
    sum,
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
_COMPARISONS = {np.isfinite, np.isnan, np.isinf, np.signbit}
_UFUNCS[np.sign] = ops.sign  # piecewise constant; a static graph recomputes it


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
    np.where: lambda c, x, y: where(c, x, y),
    np.shape: _shape, np.ndim: lambda x: np.ndim(raw(x)), np.size: lambda x: np.size(raw(x)),
    np.zeros_like: lambda x, *a, **k: np.zeros_like(raw(x), *a, **k),
    np.ones_like: lambda x, *a, **k: np.ones_like(raw(x), *a, **k),
    np.allclose: lambda a, b, *r, **k: np.allclose(raw(a), raw(b), *r, **k),
    np.isclose: lambda a, b, *r, **k: np.isclose(raw(a), raw(b), *r, **k),
    np.result_type: lambda *a: np.result_type(*[raw(x) for x in a]),
}

# elementwise functions and reductions
_UFUNCS.update({getattr(np, name): REGISTRY[name] for name in (  # np.mod is np.remainder
    "sinh cosh arcsin arccos arctan arctan2 log1p expm1 log2 log10 exp2 hypot logaddexp "
    "reciprocal square remainder fmod floor ceil").split()})


def _numpy_signature(name: str, positional: str, supported: str = "axis keepdims"):
    """``np.<name>(a, ...)`` on the primitive ``name``, with NumPy's keyword names and
    NumPy's order for the arguments after ``a`` (``positional``). Only the ``supported``
    ones may be given values; the others (out=, dtype=, initial=, where=) raise."""
    prim, order, ok = REGISTRY[name], positional.split(), set(supported.split())

    def call(a, *args, **kwargs):
        if len(args) > len(order):
            raise TypeError(f"numpy.{name} takes at most {len(order) + 1} positional "
                            f"arguments ({', '.join(['a'] + order)}), got {len(args) + 1}")
        for key, value in zip(order, args):
            if key in kwargs:
                raise TypeError(f"numpy.{name} got multiple values for argument {key!r}")
            kwargs[key] = value
        params = {k: kwargs.pop(k) for k in list(kwargs) if k in ok}
        params = {k: v for k, v in params.items() if v is not np._NoValue}
        _no_extras(name, kwargs)
        if "correction" in params:  # the Array API's name for ddof
            if "ddof" in params:
                raise TypeError(f"numpy.{name}: give ddof or correction, not both")
            params["ddof"] = params.pop("correction")
        return prim(a, **params)

    call.__name__ = name
    return call


_FUNCTIONS.update({
    np.min: _numpy_signature("min", "axis out keepdims"),
    np.amin: _numpy_signature("min", "axis out keepdims"),
    np.prod: _numpy_signature("prod", "axis dtype out keepdims"),
    np.var: _numpy_signature("var", "axis dtype out ddof keepdims",
                            "axis ddof keepdims correction"),
    np.std: _numpy_signature("std", "axis dtype out ddof keepdims",
                            "axis ddof keepdims correction"),
    np.cumsum: _numpy_signature("cumsum", "axis dtype out", "axis"),
    np.cumprod: _numpy_signature("cumprod", "axis dtype out", "axis"),
})

# x % y, and the array methods of the same names (ndarray's argument order is NumPy's)
_ELEMENTWISE_METHODS = {
    "__mod__": lambda s, o: REGISTRY["remainder"](s, o),
    "__rmod__": lambda s, o: REGISTRY["remainder"](o, s),
    "min": _FUNCTIONS[np.min], "prod": _FUNCTIONS[np.prod], "var": _FUNCTIONS[np.var],
    "std": _FUNCTIONS[np.std], "cumsum": _FUNCTIONS[np.cumsum],
    "cumprod": _FUNCTIONS[np.cumprod],
}

# products and shapes: NumPy's own argument names, so np.swapaxes(x, axis1=0, axis2=1)
# or np.pad(x, 1, mode="edge") work as they do on arrays
def _unset(name: str, fn, *extras: str):
    """``fn``, also taking NumPy's keywords ``extras`` (out=, dtype= ...) as long as they
    are not given values: adlab values have no output buffers to fill."""
    def call(*args, **kwargs):
        _no_extras(name, {k: kwargs.pop(k) for k in extras if k in kwargs})
        return fn(*args, **kwargs)

    call.__name__ = name
    return call


def _np_reshape(a, shape=None, order="C", *, newshape=None, copy=None):
    # `newshape` is NumPy 1.x's name for `shape`; copies do not matter (values are immutable)
    return ops._reshape_order(a, newshape if shape is None else shape, order)


def _np_clip(a, a_min=np._NoValue, a_max=np._NoValue, out=None, *, min=np._NoValue,
             max=np._NoValue, **kwargs):
    _no_extras("clip", dict(kwargs, out=out))
    if (a_min is not np._NoValue and min is not np._NoValue) or (
            a_max is not np._NoValue and max is not np._NoValue):
        raise TypeError("numpy.clip: give a_min or min (a_max or max), not both")
    lo = a_min if min is np._NoValue else min
    hi = a_max if max is np._NoValue else max
    return ops.clip(a, None if lo is np._NoValue else lo, None if hi is np._NoValue else hi)


def _np_sort(a, axis=-1, kind=None, order=None, *, stable=None):
    # every kind gives the same values; the derivative follows a stable sort's order
    _no_extras("sort", {"order": order})
    return ops.sort(a, axis=axis)


def _np_trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _no_extras("trace", {"dtype": dtype, "out": out})
    return ops.matrix_trace(a, offset=offset, axis1=axis1, axis2=axis2)


_FUNCTIONS.update({
    np.dot: _unset("dot", dot, "out"),
    np.einsum: _unset("einsum", ops.einsum, "out", "dtype", "casting", "order"),
    np.tensordot: lambda a, b, axes=2: ops.tensordot(a, b, axes=axes),
    np.outer: _unset("outer", lambda a, b: ops.outer(a, b), "out"),
    np.inner: ops.inner,
    np.reshape: _np_reshape, np.ravel: ops.ravel,
    np.transpose: lambda a, axes=None: transpose(a, axes),
    np.concatenate: _unset("concatenate", concatenate, "out", "dtype", "casting"),
    np.stack: _unset("stack", stack, "out", "dtype", "casting"),
    np.broadcast_to: lambda array, shape, subok=False: broadcast_to(array, shape),
    np.expand_dims: ops.expand_dims, np.squeeze: ops.squeeze, np.swapaxes: ops.swapaxes,
    np.moveaxis: ops.moveaxis,
    np.repeat: lambda a, repeats, axis=None: ops.repeat(a, repeats, axis=axis),
    np.tile: lambda A, reps: ops.tile(A, reps),
    np.vstack: _unset("vstack", ops.vstack, "dtype", "casting"),
    np.hstack: _unset("hstack", ops.hstack, "dtype", "casting"),
    np.column_stack: ops.column_stack,
    np.split: ops.split, np.array_split: ops.array_split, np.hsplit: ops.hsplit,
    np.vsplit: ops.vsplit,
    np.diag: lambda v, k=0: ops.diag(v, k=k),
    np.trace: _np_trace,
    np.triu: lambda m, k=0: ops.triu(m, k=k), np.tril: lambda m, k=0: ops.tril(m, k=k),
    np.pad: ops.pad,
    np.flip: lambda m, axis=None: ops.flip(m, axis=axis),
    np.roll: lambda a, shift, axis=None: ops.roll(a, shift, axis=axis),
    np.clip: _np_clip, np.sort: _np_sort,
})
if hasattr(np, "astype"):  # NumPy >= 2.1
    _FUNCTIONS[np.astype] = _unset("astype", lambda x, dtype, /, *, copy=True:
                                   ops.astype(x, dtype), "device")


def _reshape_method(self, *shape, order="C", **kwargs):
    # like ndarray.reshape: x.reshape(2, 3), x.reshape((2, 3)), x.reshape(-1), shape=
    if "shape" in kwargs:
        shape = (kwargs.pop("shape"),)
    _no_extras("reshape", {k: v for k, v in kwargs.items() if k != "copy"})
    if len(shape) == 1 and np.ndim(shape[0]) == 1:
        shape = shape[0]
    return ops._reshape_order(self, tuple(shape), order)


_SHAPE_METHODS = {
    "reshape": _reshape_method,
    "sum": _numpy_signature("sum", "axis dtype out keepdims"),
    "mean": _numpy_signature("mean", "axis dtype out keepdims"),
    "max": _numpy_signature("max", "axis out keepdims"),
    "ravel": lambda s, order="C": ops.ravel(s, order),
    "flatten": lambda s, order="C": ops.ravel(s, order),
    "squeeze": lambda s, axis=None: ops.squeeze(s, axis),
    "swapaxes": lambda s, axis1, axis2: ops.swapaxes(s, axis1, axis2),
    "repeat": lambda s, repeats, axis=None: ops.repeat(s, repeats, axis=axis),
    "clip": _np_clip,
    "dot": _unset("dot", dot, "out"),
    "trace": _np_trace,
    "astype": lambda s, dtype, order="K", casting="unsafe", subok=True, copy=True:
        ops.astype(s, dtype),
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
        "transpose": _transpose_method,
    }
    methods.update(_ELEMENTWISE_METHODS)
    methods.update(_SHAPE_METHODS)
    for name, fn in methods.items():
        setattr(cls, name, fn)


_install_operators(Box)


