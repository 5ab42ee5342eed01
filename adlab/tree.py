"""Nested containers of arrays ("pytrees"): lists, tuples and dicts of numbers/arrays.

The transformations accept them, so that ``grad(loss)(params)`` works when ``params`` is
a list of weight matrices or a dict of them, and returns gradients in the same shape.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from adlab.core import AdlabError, Box, raw

_LEAF = (1, None)  # the description of one leaf inside a container


def flatten(tree: Any) -> tuple[list, Any]:
    """Leaves in a fixed order (dicts by sorted key), and a description to rebuild with."""
    if isinstance(tree, (list, tuple)):
        leaves, defs = [], []
        for item in tree:
            if not isinstance(item, (list, tuple, dict)):  # a leaf: no recursion (hot)
                leaves.append(item)
                defs.append(_LEAF)
                continue
            sub, d = flatten(item)
            leaves += sub
            defs.append((len(sub), d))
        return leaves, (type(tree), defs)
    if isinstance(tree, dict):
        keys = sorted(tree)
        leaves, defs = flatten([tree[k] for k in keys])
        return leaves, (dict, keys, defs)
    return [tree], None


def unflatten(treedef: Any, leaves: list) -> Any:
    """Inverse of :func:`flatten`."""
    if treedef is None:
        return leaves[0]
    if treedef[0] is dict:
        _, keys, defs = treedef
        return dict(zip(keys, unflatten(defs, leaves)))
    kind, defs = treedef
    out, i = [], 0
    for n, d in defs:
        out.append(leaves[i] if d is None else unflatten(d, leaves[i:i + n]))
        i += n
    return kind(out) if kind in (list, tuple) else kind(*out)


def tree_map(fn: Callable, tree: Any, *rest: Any) -> Any:
    leaves, treedef = flatten(tree)
    others = [flatten(r)[0] for r in rest]
    return unflatten(treedef, [fn(*xs) for xs in zip(leaves, *others)])


def as_float(x: Any, where: str = "input") -> Any:
    """A differentiable copy of ``x``: ints and bools become floats, boxes stay boxes.

    Derivatives live in a continuous space, so adlab casts integer inputs to float
    (``grad(f)(2)`` is the same as ``grad(f)(2.0)``) instead of refusing them.
    """
    if type(x) is np.ndarray and x.dtype.kind == "f":  # the common case, first
        return x
    if isinstance(x, Box):
        return x
    if isinstance(x, float):
        return x
    if isinstance(x, (bool, int)):
        return float(x)
    try:
        a = np.asarray(x)
    except Exception as e:  # pragma: no cover - exotic objects
        raise AdlabError(f"cannot differentiate with respect to {where} {x!r}: {e}") from None
    if a.dtype.kind in "biu":
        return a.astype(np.float64)
    if a.dtype.kind == "f":
        return a if isinstance(x, np.ndarray) else (a[()] if a.ndim == 0 else a)
    if a.dtype.kind == "c":
        raise AdlabError(
            f"{where} is complex ({a.dtype}); adlab differentiates real functions. "
            "Split it into real and imaginary parts."
        )
    raise AdlabError(
        f"cannot differentiate with respect to {where} of type {type(x).__name__} "
        f"(dtype {a.dtype}). Pass a number, a NumPy array, or a list/tuple/dict of them."
    )


# ---------------------------------------------------------------------------------
# Precision: seeds, tangents and zeros in the dtype of the value they belong to
# ---------------------------------------------------------------------------------

_FLOAT64 = np.dtype(np.float64)


def float_dtype(x: Any) -> np.dtype:
    """The floating dtype derivatives of the plain value ``x`` have: its own for NumPy
    floats (float32 stays float32), float64 for Python floats, ints and bools."""
    dtype = getattr(x, "dtype", None)
    if dtype is None:
        dtype = np.result_type(x)
    return dtype if dtype.kind == "f" else _FLOAT64


def shape_of(x: Any) -> tuple:
    """``np.shape`` of the plain value inside ``x``, without NumPy's dispatch for arrays,
    NumPy scalars and Python floats (a hot path of every sweep)."""
    x = raw(x)
    if type(x) is float:
        return ()
    shape = getattr(x, "shape", None)
    return np.shape(x) if shape is None else shape


def zeros_like_float(x: Any) -> Any:
    """A zero derivative for the plain value ``x``: zeros of its shape in its floating
    dtype (a NumPy scalar for a 0-d value; float64 for Python numbers)."""
    return np.zeros(np.shape(x), float_dtype(x))[()]


def cast_like(t: Any, x: Any) -> Any:
    """The seed, tangent or cotangent ``t`` in the floating dtype of the plain value ``x``.

    A derivative lives in the space of its value, so it has the value's precision: a
    float64 seed (``np.eye``, ``np.ones``, the Python ``1.0`` of ``grad``) for a float32
    output becomes float32, so the whole sweep runs in float32. Python floats ``t`` stay
    Python floats for Python-float (or float64) values; boxes are left alone.
    """
    if isinstance(t, Box):
        return t
    dtype = float_dtype(x)
    if type(t) is float:
        return t if dtype is _FLOAT64 or dtype == _FLOAT64 else dtype.type(t)
    t_dtype = getattr(t, "dtype", None)
    if t_dtype == dtype:
        return t
    if isinstance(t, np.ndarray):
        return t.astype(dtype)
    return dtype.type(t)
