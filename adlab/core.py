r"""The heart of adlab: primitives, boxes and levels.

Every differentiable operation in adlab is a :class:`Primitive`. A primitive holds,
in one place,

* how to **evaluate** it on plain numbers and NumPy arrays (``impl``),
* its **JVP rule** for each argument: given the argument's tangent
  :math:`\dot x_i`, the contribution :math:`\frac{\partial f}{\partial x_i}\dot x_i`
  to the output tangent (forward mode),
* its **VJP rule** for each argument: given the output's adjoint
  :math:`\bar y`, the contribution :math:`\bar y\,\frac{\partial f}{\partial x_i}`
  to the argument's adjoint (reverse mode),
* which values each VJP rule **reads** (what reverse mode has to store).

The rules are written with adlab's own operations, so they can be differentiated
again: higher-order derivatives need no extra code.

How a derivative gets computed: a transformation (``jvp``, ``grad``, ``trace`` ...)
wraps its inputs in a :class:`Box` that belongs to a :class:`Level`. When a primitive
is called and one of its arguments is a box, the box's level *processes* the call:
forward mode carries a tangent along, reverse mode records a node on a tape. Nested
transformations get higher levels; a primitive call is handled by the highest level
among its arguments first, and that level sees boxes of lower levels as constants.
That is what keeps the perturbations of nested derivatives apart (``d/dx [x * d/dy
(x + y)]`` is 1, not 2).
"""

from __future__ import annotations

import contextlib
import functools
import gc
import itertools
import operator
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

__all__ = ["Box", "Level", "AdlabError", "ShapeError", "ConversionError", "primal", "raw"]


#: Sweeps run so far, by kind. Transformations count themselves here (one increment a
#: sweep, nothing per operation); adlab.widgets.count_work reads the differences.
SWEEPS = {"forward_sweeps": 0, "recordings": 0, "reverse_sweeps": 0}

#: ``None``, except while :func:`adlab.counting.count_work` counts: then called with the
#: total after each addition that accumulates a tangent term or an adjoint contribution
#: (additions on plain arrays, which no primitive sees).
TALLY: Callable[[Any], None] | None = None


class AdlabError(Exception):
    """Base class of adlab's own errors (each says what went wrong and what to do)."""


class ShapeError(AdlabError, ValueError):
    """Operands of an operation do not fit together."""


class ConversionError(AdlabError, TypeError):
    """A value being differentiated was converted to a plain number or array.

    ``float(x)``, ``int(x)``, ``math.sin(x)``, ``np.array(x, dtype=float)``, or NumPy
    making an array from a list of values (``np.array([x0, x1])``, ``np.mean([x, y])``)
    would drop the derivative. The message (written by :mod:`adlab.conversions`) names
    the fix: adlab's operation (``ad.sin`` instead of ``math.sin``), ``ad.stack`` for
    lists, or ``.value`` to read a number on purpose.
    """


class MethodOff(AdlabError):
    """A transformation that is switched off here was called (see :func:`switched_off`)."""


# ---------------------------------------------------------------------------------
# Switching transformations off: an exercise that asks for a rule, a sweep or a
# Jacobian runs the learner's code with the transformation that would compute it off
# ---------------------------------------------------------------------------------

#: name ("ad.jvp", "Var.backward", ...) -> the message a call raises while it is off
SWITCHED_OFF: dict[str, str] = {}


@contextlib.contextmanager
def switched_off(messages: dict[str, str]) -> Iterator[dict[str, str]]:
    """Inside the block, code outside adlab that calls one of the transformations named
    in ``messages`` gets :class:`MethodOff` with that message; adlab's own calls (a
    Hessian built from Jacobians, ...) go on. Yields the table in force."""
    global SWITCHED_OFF
    saved = SWITCHED_OFF
    SWITCHED_OFF = {**saved, **messages}
    try:
        yield SWITCHED_OFF
    finally:
        SWITCHED_OFF = saved


def method(name: str) -> Callable[[Callable], Callable]:
    """Decorator of a public transformation: it checks :data:`SWITCHED_OFF` when code
    outside adlab calls it (a transformation nested inside an allowed one is caught too:
    its caller is the learner's function, not adlab)."""
    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def checked(*args: Any, **kwargs: Any) -> Any:
            if SWITCHED_OFF and name in SWITCHED_OFF and not _from_adlab(sys._getframe(1)):
                raise MethodOff(SWITCHED_OFF[name])
            return fn(*args, **kwargs)
        return checked
    return decorate


_ADLAB_DIR = __file__.rsplit("core.py", 1)[0]  # this package's folder, with its separator


def _from_adlab(frame: Any) -> bool:
    """Whether the caller is adlab's own code (by the file its code was compiled from:
    a learner can rename a module, not move a notebook cell into adlab's folder)."""
    return frame is not None and frame.f_code.co_filename.startswith(_ADLAB_DIR)


# ---------------------------------------------------------------------------------
# Levels and boxes
# ---------------------------------------------------------------------------------

_level_counter = itertools.count(2)  # 0 and 1 are the user-facing Dual and Var levels


class Level:
    """One running transformation (a forward-mode sweep, a tape, ...).

    Levels are numbered in the order they start, so an inner (nested) transformation
    always has a higher number than the one around it. ``active`` is true while the
    transformation runs the function (see :func:`running`): converting one of its
    values to a plain number then raises instead of silently dropping the derivative.
    The user-facing levels 0 and 1 (hand-made Duals and Vars) are never active.
    """

    __slots__ = ("number", "active")

    def __init__(self, number: int | None = None):
        self.number = next(_level_counter) if number is None else number
        self.active = False

    def process(self, prim, args: tuple, params: dict) -> Any:
        """Handle a call of the primitive ``prim`` (an :class:`adlab.ops.Primitive`)."""
        raise NotImplementedError  # pragma: no cover - each kind of level overrides it


class Box:
    """A value that is being differentiated by some :class:`Level`.

    Subclasses are :class:`adlab.Dual` (forward mode) and :class:`adlab.Var` (reverse
    mode). Arithmetic operators, NumPy ufuncs and NumPy functions on boxes all route to
    adlab's primitives (installed by :mod:`adlab.dispatch`).
    """

    __slots__ = ("value", "_level")
    __array_priority__ = 100.0

    # shape information is read straight from the value, never differentiated
    @property
    def shape(self) -> tuple:
        return np.shape(self.value)

    @property
    def ndim(self) -> int:
        return np.ndim(self.value)

    @property
    def size(self) -> int:
        return int(np.size(self.value))

    @property
    def dtype(self):
        return np.result_type(self.value)

    def __len__(self) -> int:
        return len(self.value)

    def __bool__(self) -> bool:
        # `if x:` is the comparison x != 0 (a static graph records it as a guard)
        return bool(_compare("!=", self, 0))

    # Conversions to plain numbers drop the derivative. A finished value (a hand-made
    # Var or Dual, or one whose transformation has returned) converts, like PyTorch's
    # .item(); a value that a running transformation differentiates raises (see
    # adlab.conversions), so that math.sin(x), float(x) or np.array([x, y]) can
    # never give a silently wrong derivative.
    def __float__(self) -> float:
        _check_detach(self, "float")
        return float(raw(self.value))

    def __int__(self) -> int:
        _check_detach(self, "int")
        return int(raw(self.value))

    def __complex__(self) -> complex:
        _check_detach(self, "complex")
        return complex(raw(self.value))

    def __array__(self, dtype=None, copy=None):
        _check_detach(self, "array")
        a = raw(self.value)
        return np.array(a, dtype=dtype, copy=True) if copy else np.asarray(a, dtype=dtype)

    def __format__(self, spec: str) -> str:
        # f"{loss:.3f}" formats the value: a string carries no derivative to lose
        return format(raw(self.value), spec) if spec else str(self)

    def __index__(self) -> int:
        raise TypeError(
            f"a {type(self).__name__} cannot be used as an index: derivatives with "
            "respect to an index do not exist. Use int(box.value) if you mean its value."
        )

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    # Comparisons look at values: they are not differentiable, and a dynamic tape
    # simply follows whichever branch the program takes. A static graph cannot, so
    # while adlab.trace records, a comparison of its values also says what was
    # compared (see _compare): an `if` on it becomes a guard of the trace.
    def __lt__(self, other):
        return _compare("<", self, other)

    def __le__(self, other):
        return _compare("<=", self, other)

    def __gt__(self, other):
        return _compare(">", self, other)

    def __ge__(self, other):
        return _compare(">=", self, other)

    def __eq__(self, other):
        return _compare("==", self, other)

    def __ne__(self, other):
        return _compare("!=", self, other)

    __hash__ = object.__hash__


#: Set by :mod:`adlab.conversions`: ``message(box, inner, what)`` explains a refused
#: conversion (``inner``: the box of a running level, ``what``: float, int, complex, array).
conversion_message: Callable[[Box, Box, str], str] | None = None


def _check_detach(box: Box, what: str) -> None:
    """Raise if converting ``box`` would detach a value a running transformation needs."""
    x = box
    while isinstance(x, Box):
        if getattr(x._level, "active", False):
            message = conversion_message
            raise ConversionError(
                message(box, x, what) if message is not None else
                f"{what}() of a value being differentiated would drop its derivative: "
                "keep it as an adlab value, or read .value on purpose.")
        x = x.value


COMPARISONS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge,
    "==": operator.eq, "!=": operator.ne,
}

#: ``None``, except while :func:`adlab.trace` records a static graph: then
#: :mod:`adlab.guards` sets it to ``hook(op, a, b, result)``, which may return, in place
#: of the plain result, a :class:`adlab.guards.Condition` that remembers what was
#: compared (for replaying the comparison, and for a guard when ``if`` reads it).
comparison_hook: Callable[[str, Any, Any, Any], Any] | None = None


def _compare(op: str, a: Any, b: Any) -> Any:
    result = COMPARISONS[op](raw(a), raw(b))
    hook = comparison_hook
    return result if hook is None else hook(op, a, b, result)


class gc_paused:  # noqa: N801 - used like a function: ``with gc_paused(): ...``
    """Pause Python's cyclic garbage collector while a transformation runs.

    adlab's tapes hold no reference cycles: reference counting frees them the moment
    the last reference goes. The cyclic collector would still walk every live node,
    again and again while a tape grows (about 40 full passes over a million-node
    tape), for nothing. Transformations therefore pause it and restore it afterwards,
    errors included; garbage cycles made meanwhile are collected at the next pass.
    (A class, not a generator-based context manager: it is entered twice per
    ``grad`` call, and this is a few times cheaper.) Tapes built outside any
    transformation, by a user's own loop on ``ad.Var``, are handled by
    :mod:`adlab.tapegc` instead.
    """

    __slots__ = ("was_enabled",)

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc) -> None:
        if self.was_enabled:
            gc.enable()


@contextlib.contextmanager
def running(level: Level):
    """Mark ``level`` active while its transformation runs the function (errors included)."""
    level.active = True
    try:
        yield level
    finally:
        level.active = False


def primal(x: Any, level: Level) -> Any:
    """The value ``x`` has at ``level``: unwrap one box if it belongs to that level."""
    return x.value if isinstance(x, Box) and x._level is level else x


def raw(x: Any) -> Any:
    """The plain number or array inside any number of nested boxes."""
    while isinstance(x, Box):
        x = x.value
    return x
