r"""Forward mode: dual numbers and Jacobian-vector products.

A dual number carries a value :math:`x` and a tangent :math:`\dot x` (think
:math:`x + \dot x\,\varepsilon` with :math:`\varepsilon^2 = 0`). Every primitive maps

.. math:: (x, \dot x) \;\mapsto\; \bigl(f(x),\; f'(x)\,\dot x\bigr)

so one sweep through a program, alongside its evaluation, gives the derivative in the
direction of the input tangents (the *seed*). Seed 1 on one input and 0 on the others
gives one partial derivative, i.e. one column of the Jacobian; a full Jacobian of a
function of :math:`n` inputs takes :math:`n` sweeps. Nothing is stored for later:
forward mode's memory does not grow with the length of the program.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from adlab import fmt
from adlab.conversions import check_outputs
from adlab.core import SWEEPS, AdlabError, Box, Level, gc_paused, method, primal, raw, running
from adlab.ops import Primitive
from adlab.tree import as_float, cast_like, flatten, unflatten, zeros_like_float


class ForwardLevel(Level):
    """A forward-mode sweep: each primitive call also computes its output tangent."""

    __slots__ = ()

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        primals = tuple(primal(a, self) for a in args)
        tangents = tuple(a.tangent if isinstance(a, Dual) and a._level is self else None
                         for a in args)
        ans = prim(*primals, **params)
        tangent = prim.jvp(tangents, ans, primals, params)
        return ans if tangent is None else Dual._make(ans, tangent, self)


_USER_LEVEL = ForwardLevel(0)  # the level of Duals that users create by hand


class Dual(Box):
    """A dual number: a value with a tangent, for forward-mode AD.

    >>> x = Dual(2.0, 1.0)          # seed: dx/dx = 1
    >>> y = Dual(3.0, 0.0)          # and dy/dx = 0
    >>> z = x * y + sin(x)          # doctest: +SKIP
    >>> z.value, z.tangent          # doctest: +SKIP
    (6.909..., 2.583...)            # z and dz/dx at (2, 3)

    ``float(d)`` gives the plain value, a constant without tangent (inside ``ad.jvp``,
    ``ad.jacfwd`` ... it raises :class:`adlab.ConversionError` instead; ``.value``
    reads the number on purpose).

    Integer values are cast to float. The tangent defaults to zero and must have the
    value's shape.
    """

    __slots__ = ("tangent",)

    def __init__(self, value: Any, tangent: Any = None):
        value = as_float(value, "a Dual's value")
        if tangent is None:
            tangent = zeros_like_float(raw(value))
        else:  # in the value's precision: float32 values get float32 tangents
            tangent = cast_like(as_float(tangent, "a Dual's tangent"), raw(value))
            if np.shape(raw(tangent)) != np.shape(raw(value)):
                raise AdlabError(
                    f"a Dual's tangent must have its value's shape: value has shape "
                    f"{np.shape(raw(value))}, tangent has shape {np.shape(raw(tangent))}."
                )
        self.value, self.tangent, self._level = value, tangent, _USER_LEVEL

    @classmethod
    def _make(cls, value, tangent, level):
        d = cls.__new__(cls)
        d.value, d.tangent, d._level = value, tangent, level
        return d

    def __repr__(self) -> str:
        return f"Dual({fmt.array(self.value)}, tangent={fmt.array(self.tangent)})"


@method("ad.jvp")
def jvp(f: Callable, primals: Sequence, tangents: Sequence) -> tuple[Any, Any]:
    r"""Forward mode as a transformation: ``jvp :: (a -> b) -> a -> T a -> (b, T b)``.

    Returns ``(f(*primals), J @ tangents)``: the value and the directional derivative
    :math:`J\dot x` in the direction of the seed ``tangents``, in one sweep.

    >>> jvp(lambda x1, x2: x1 * x2 + sin(x1), (2.0, 3.0), (1.0, 0.0))  # doctest: +SKIP
    (6.909297426825682, 2.5838531634528574)     # z and dz/dx1
    """
    primals, tangents = tuple(primals), tuple(tangents)
    if len(primals) != len(tangents):
        raise AdlabError(
            f"jvp needs one tangent (seed) per primal: got {len(primals)} primals and "
            f"{len(tangents)} tangents."
        )
    level = ForwardLevel()
    p_leaves, p_def = flatten(primals)
    t_leaves, t_def = flatten(tangents)
    if len(p_leaves) != len(t_leaves):
        raise AdlabError("jvp: the tangents must have the same structure as the primals")
    boxes = []
    for i, (p, t) in enumerate(zip(p_leaves, t_leaves)):
        p, t = as_float(p, f"primal {i}"), as_float(t, f"tangent {i}")
        if np.shape(raw(p)) != np.shape(raw(t)):
            raise AdlabError(
                f"jvp: tangent {i} has shape {np.shape(raw(t))} but its primal has shape "
                f"{np.shape(raw(p))}; a tangent is a direction in the primal's space."
            )
        boxes.append(Dual._make(p, cast_like(t, raw(p)), level))  # in p's precision
    SWEEPS["forward_sweeps"] += 1
    with gc_paused(), running(level):
        out = f(*unflatten(p_def, boxes))
    return _unpack_out(out, level)


def _unpack_out(out, level):
    leaves, treedef = flatten(out)
    check_outputs(leaves, "jvp")
    values, tangents = [], []
    for x in leaves:
        if isinstance(x, Dual) and x._level is level:
            values.append(x.value)
            tangents.append(x.tangent)
        else:  # the output does not depend on the inputs
            values.append(x)
            tangents.append(zeros_like_float(raw(x)))
    return unflatten(treedef, values), unflatten(treedef, tangents)
