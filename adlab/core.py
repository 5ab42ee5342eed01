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
import gc
import inspect
import itertools
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["Primitive", "Box", "Level", "AdlabError", "ShapeError", "primal", "raw"]


#: Sweeps run so far, by kind. Transformations count themselves here (one increment a
#: sweep, nothing per operation); adlab.widgets.count_work reads the differences.
SWEEPS = {"forward_sweeps": 0, "recordings": 0, "reverse_sweeps": 0}


class AdlabError(Exception):
    """Base class of adlab's own errors (each says what went wrong and what to do)."""


class ShapeError(AdlabError, ValueError):
    """Operands of an operation do not fit together."""


# ---------------------------------------------------------------------------------
# Levels and boxes
# ---------------------------------------------------------------------------------

_level_counter = itertools.count(2)  # 0 and 1 are the user-facing Dual and Var levels


class Level:
    """One running transformation (a forward-mode sweep, a tape, ...).

    Levels are numbered in the order they start, so an inner (nested) transformation
    always has a higher number than the one around it.
    """

    __slots__ = ("number",)

    def __init__(self, number: int | None = None):
        self.number = next(_level_counter) if number is None else number

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        raise NotImplementedError  # pragma: no cover - each kind of level overrides it


class Box:
    """A value that is being differentiated by some :class:`Level`.

    Subclasses are :class:`adlab.Dual` (forward mode) and :class:`adlab.Var` (reverse
    mode). Arithmetic operators, NumPy ufuncs and NumPy functions on boxes all route to
    adlab's primitives (installed by :mod:`adlab.ops`).
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

    def __float__(self) -> float:
        return float(raw(self.value))

    def __int__(self) -> int:
        return int(raw(self.value))

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


@contextlib.contextmanager
def gc_paused():
    """Pause Python's cyclic garbage collector while a transformation runs.

    adlab's tapes hold no reference cycles: reference counting frees them the moment
    the last reference goes. The cyclic collector would still walk every live node,
    again and again while a tape grows (about 40 full passes over a million-node
    tape), for nothing. Transformations therefore pause it and restore it afterwards,
    errors included; garbage cycles made meanwhile are collected at the next pass.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def primal(x: Any, level: Level) -> Any:
    """The value ``x`` has at ``level``: unwrap one box if it belongs to that level."""
    return x.value if isinstance(x, Box) and x._level is level else x


def raw(x: Any) -> Any:
    """The plain number or array inside any number of nested boxes."""
    while isinstance(x, Box):
        x = x.value
    return x


# ---------------------------------------------------------------------------------
# Primitives
# ---------------------------------------------------------------------------------

Rule = Callable[..., Any]


class Primitive:
    """An operation adlab knows how to evaluate and differentiate.

    Parameters
    ----------
    name:
        Short name used in traces and error messages (``"mul"``, ``"sin"``).
    impl:
        Evaluates the operation on plain numbers / arrays.
    argnames:
        Names of the positional arguments, as the rules and ``reads`` use them
        (``"x y"``); ``"*xs"`` for a variable number of arguments.
    jvp:
        One rule per argument, ``rule(t, ans, *args, **params)``: the contribution of
        argument ``i``'s tangent ``t`` to the output tangent. ``None`` in place of a
        rule marks an argument that cannot be differentiated.
    vjp:
        One rule per argument, ``rule(g, ans, *args, **params)``: the contribution of
        the output adjoint ``g`` to argument ``i``'s adjoint. Broadcasting is undone
        for you: a rule may return an array of the output's shape for an argument that
        was broadcast, and adlab sums it back.
    vjp_n:
        For variadic primitives: one rule ``rule(i, g, ans, *args, **params)``.
    linear:
        The operation is linear in its (differentiable) arguments jointly, so its JVP is
        the operation itself applied to the tangents (zeros for missing ones).
    reads:
        For each argument, the names (from ``argnames``, or ``"ans"`` for the output)
        whose *values* that argument's VJP rule reads. Reverse mode must store exactly
        these values from the forward pass. Shapes do not count: they are tiny.
    """

    __slots__ = ("name", "impl", "argnames", "variadic", "jvp_rules", "vjp_rules",
                 "vjp_n", "linear", "reads", "doc", "nargs", "param_names")

    def __init__(self, name: str, impl: Callable, argnames: str, *,
                 jvp: Sequence[Rule | None] = (), vjp: Sequence[Rule | None] = (),
                 vjp_n: Rule | None = None, linear: bool = False,
                 reads: Sequence[str] = (), doc: str | None = None):
        self.name = name
        self.impl = impl
        self.variadic = argnames.startswith("*")
        self.argnames = tuple(argnames.lstrip("*").split())
        self.jvp_rules = tuple(jvp)
        self.vjp_rules = tuple(vjp)
        self.vjp_n = vjp_n
        self.linear = linear
        self.reads = tuple(tuple(r.split()) for r in reads)
        self.doc = doc
        self.nargs = len(self.argnames)
        try:  # parameters after the operands may also be passed by position
            names = list(inspect.signature(impl).parameters)
            self.param_names = tuple(names[self.nargs:]) if not self.variadic else ()
        except (TypeError, ValueError):
            self.param_names = ()

    def __repr__(self) -> str:
        return f"<adlab primitive {self.name}>"

    def __call__(self, *args, **params):
        if len(args) > self.nargs and not self.variadic:  # e.g. reshape(x, (2, 3))
            params.update(zip(self.param_names, args[self.nargs:]))
            args = args[:self.nargs]
        # Find the highest level among the arguments; it handles this call first.
        top = None
        for a in args:
            if isinstance(a, Box) and (top is None or a._level.number > top.number):
                top = a._level
        if top is None:
            try:
                return self.impl(*args, **params)
            except ValueError as e:
                raise self.shape_error(e, args) from None
        return top.process(self, args, params)

    def evaluate(self, args: tuple, params: dict) -> Any:
        """Run ``impl`` on plain values, turning NumPy's shape errors into clear ones."""
        try:
            return self.impl(*args, **params)
        except ValueError as e:
            raise self.shape_error(e, args) from None

    def shape_error(self, e: ValueError, args: tuple) -> Exception:
        """A :class:`ShapeError` naming this operation and the operands' shapes."""
        text = str(e)
        if not any(word in text for word in ("shape", "broadcast", "dimension", "size")):
            return e
        shapes = " and ".join(str(np.shape(raw(a))) for a in args)
        return ShapeError(
            f"{self.name}: the operands' shapes {shapes} do not fit together ({text}). "
            "Check the shapes with .shape; reshape, transpose or index the operands so "
            "that they match."
        )

    # -- rules ---------------------------------------------------------------------

    def differentiable(self, i: int) -> bool:
        if self.variadic:
            return self.vjp_n is not None
        return i < len(self.vjp_rules) and self.vjp_rules[i] is not None

    def jvp_term(self, i: int, t, ans, args: tuple, params: dict):
        """Contribution of argument ``i``'s tangent ``t`` to the output tangent."""
        if self.linear:  # the operation itself, applied to t and zero tangents elsewhere
            tangents = [None] * len(args)
            tangents[i] = t
            return self.jvp(tangents, ans, args, params)
        rule = self.jvp_rules[i] if i < len(self.jvp_rules) else None
        if rule is None:
            raise AdlabError(f"{self.name} is not differentiable in its argument "
                             f"{self.argnames[i]!r}")
        return rule(t, ans, *args, **params)

    def jvp(self, tangents: Sequence, ans, args: tuple, params: dict):
        """Output tangent from the arguments' tangents (``None`` means zero)."""
        if self.linear:
            zeros = [np.zeros_like(raw(a)) if t is None else t for a, t in zip(args, tangents)]
            out = self(*zeros, **params)
        else:
            out = None
            for i, t in enumerate(tangents):
                if t is not None:
                    term = self.jvp_term(i, t, ans, args, params)
                    out = term if out is None else out + term
        if out is None:
            return None
        return broadcast_to_shape(out, np.shape(raw(ans)))

    def vjp(self, i: int, g, ans, args: tuple, params: dict):
        """Contribution of the output adjoint ``g`` to argument ``i``'s adjoint."""
        if self.variadic:
            ct = self.vjp_n(i, g, ans, *args, **params)
        else:
            ct = self.vjp_rules[i](g, ans, *args, **params)
        shape = getattr(args[i], "shape", ())
        return ct if getattr(ct, "shape", ()) == shape else unbroadcast(ct, shape)

    def reads_of(self, i: int) -> tuple:
        """Names of the values (argument names or ``"ans"``) argument ``i``'s VJP reads."""
        if self.variadic:
            return self.reads[0] if self.reads else ()
        return self.reads[i] if i < len(self.reads) else ()


# Broadcasting helpers. They call primitives defined in adlab.ops, imported lazily
# to keep this module free of import cycles.

def unbroadcast(ct, shape: tuple):
    """Sum ``ct`` over the axes along which a value of ``shape`` was broadcast."""
    ct_shape = getattr(ct, "shape", ())
    if ct_shape == shape:
        return ct
    from adlab import ops

    extra = len(ct_shape) - len(shape)
    if extra > 0:
        ct = ops.sum(ct, axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and ct_shape[extra + i] != 1)
    if axes:
        ct = ops.sum(ct, axis=axes, keepdims=True)
    if getattr(ct, "shape", ()) != shape:  # e.g. a 0-d array for a scalar
        ct = ops.reshape(ct, shape)
    return ct


def broadcast_to_shape(x, shape: tuple):
    """``x`` broadcast to ``shape`` (a no-op when it already has that shape)."""
    if getattr(x, "shape", ()) == shape:
        return x
    from adlab import ops

    return ops.broadcast_to(x, shape)
