r"""Counting the work of a derivative: every elementary operation, in the rules too.

Griewank and Walther's cheap-gradient principle compares the work of a derivative with
the work of the function: the operations a forward sweep (a JVP) or a recorded run plus
a reverse sweep (a VJP) evaluates, divided by the operations of one plain run of
:math:`f`. To measure that ratio the counter must see everything a derivative costs:

* the primitives evaluated on numbers, in the plain run or the recorded run;
* the arithmetic **inside** the JVP and VJP rules (``t * cos(x)`` is two operations,
  ``cos`` and ``*``), and the sums that undo broadcasting;
* the additions that **accumulate** a tangent from several arguments or an adjoint from
  several consumers (Baydin et al.'s :math:`\bar v_i \mathrel{+}= \dots`).

Rules run on plain NumPy arrays, where arithmetic does not pass through adlab. While
:func:`count_work` runs, each rule therefore receives its plain arguments wrapped in a
:class:`Counted` box: a box of the highest level, which does nothing but send every
operation on it through adlab's primitives, so that each evaluation is counted exactly
once, where it happens (in ``impl``). The wrapping is undone when the rule returns, so
the engine never sees a counted box, and outside the block nothing is wrapped at all.

Two numbers are kept. ``operations`` counts evaluations of primitives, the unit of
Griewank's operation model and of adlab's traces: ``x * y`` on two arrays of a million
entries is one operation. ``flops`` estimates floating-point operations: one per entry
produced for an elementwise operation, one per entry read for a reduction, two per
multiply-add for ``matmul``, ``tensordot``, ``einsum``, ``inner`` and ``outer``, none for
moving data (``reshape``, ``transpose``, indexing, stacking). Transcendental functions
count one, as in the operation model; hardware spends more on them.
"""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from adlab import core, ops
from adlab.core import SWEEPS, Box, Level

__all__ = ["WorkCount", "count_work", "Counted"]


# ---------------------------------------------------------------------------------
# The counted box: routes a rule's plain arithmetic through the primitives
# ---------------------------------------------------------------------------------

class _CountLevel(Level):
    """The level of :class:`Counted` boxes: the highest, so it sees a call first, and it
    only unwraps its boxes and calls the primitive again (where ``impl`` counts it)."""

    __slots__ = ()

    def process(self, prim, args: tuple, params: dict) -> Any:
        plain = tuple(a.value if type(a) is Counted else a for a in args)
        return _wrap(prim(*plain, **params))


_LEVEL = _CountLevel(sys.maxsize)


class Counted(Box):
    """A value inside a derivative rule while :func:`count_work` counts."""

    __slots__ = ()

    def __init__(self, value: Any):
        self.value = value
        self._level = _LEVEL

    def __repr__(self) -> str:
        return f"Counted({self.value!r})"


_NUMBERS = (float, int, complex, np.ndarray, np.generic)


def _wrap(x: Any) -> Any:
    if isinstance(x, (list, tuple)):
        return type(x)(_wrap(v) for v in x)
    if isinstance(x, _NUMBERS) or (isinstance(x, Box) and type(x) is not Counted):
        return Counted(x)
    return x


def _unwrap(x: Any) -> Any:
    if type(x) is Counted:
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap(v) for v in x)
    return x


# ---------------------------------------------------------------------------------
# Floating-point operations of one evaluation
# ---------------------------------------------------------------------------------

_MOVES = frozenset(
    "reshape transpose broadcast_to getitem concatenate stack repeat tile diag triu tril "
    "pad flip roll sort_by unsort_by astype".split())
_REDUCTIONS = frozenset("sum mean max min prod cumsum cumprod matrix_trace scatter".split())
_PASSES = {"logsumexp": 3, "softmax": 3, "log_softmax": 3, "var": 3, "std": 3}


def flops(name: str, args: tuple, params: dict, out: Any) -> int:
    """Estimated floating-point operations of one evaluation of primitive ``name``."""
    if name in _MOVES:
        return 0
    size_out = int(np.size(out))
    if name in ("matmul", "inner"):
        a = args[0]
        return 2 * size_out * (int(np.shape(a)[-1]) if np.ndim(a) else 1)
    if name == "tensordot":
        contracted = math.isqrt(max(1, int(np.size(args[0]) * np.size(args[1])
                                           // max(size_out, 1))))
        return 2 * size_out * contracted
    if name == "outer":
        return size_out
    if name == "einsum":
        return _einsum_flops(params.get("spec", ""), args, size_out)
    if name == "sort":
        n = int(np.size(args[0]))
        return n * max(1, math.ceil(math.log2(max(n, 2))))
    size_in = max((int(np.size(a)) for a in args), default=0)
    if name in _REDUCTIONS:
        return size_in
    if name in _PASSES:
        return _PASSES[name] * size_in
    return size_out


def _einsum_flops(spec: str, args: tuple, size_out: int) -> int:
    """Two per multiply-add over every combination of the indices (one operand: one per)."""
    inputs = spec.split("->")[0].split(",")
    if "." in spec or len(inputs) != len(args):
        return 2 * max([size_out, *(int(np.size(a)) for a in args)])
    dims: dict[str, int] = {}
    for letters, a in zip(inputs, args):
        for letter, n in zip(letters.strip(), np.shape(a)):
            dims[letter] = int(n)
    total = math.prod(dims.values()) if dims else 1
    return total * (2 if len(args) > 1 else 1)


# ---------------------------------------------------------------------------------
# count_work
# ---------------------------------------------------------------------------------

class WorkCount:
    """What :func:`count_work` counted (live inside the block, fixed after it).

    ``operations``: primitive evaluations, everywhere (runs, rules, accumulation);
    ``rule_operations``: the part inside JVP/VJP rules and accumulation, that is the
    derivative's work on top of running :math:`f`; ``flops``: estimated floating-point
    operations; ``forward_sweeps``, ``recordings``, ``reverse_sweeps``: passes.
    """

    _KINDS = ("forward_sweeps", "recordings", "reverse_sweeps")

    def __init__(self):
        self.operations = 0
        self.rule_operations = 0
        self.flops = 0
        self._start = dict(SWEEPS)
        self._final: dict | None = None

    @property
    def primitive_calls(self) -> int:
        """The older name of :attr:`operations`."""
        return self.operations

    def _count(self, kind: str) -> int:
        if self._final is not None:
            return self._final[kind]
        return SWEEPS[kind] - self._start[kind]

    forward_sweeps = property(lambda self: self._count("forward_sweeps"),
                              doc="JVPs (forward sweeps)")
    recordings = property(lambda self: self._count("recordings"),
                          doc="recorded forward runs (for VJPs)")
    reverse_sweeps = property(lambda self: self._count("reverse_sweeps"),
                              doc="reverse sweeps (VJPs)")

    def _freeze(self) -> None:
        self._final = {kind: self._count(kind) for kind in self._KINDS}

    def __repr__(self) -> str:
        return (f"WorkCount(operations={self.operations}, rule_operations="
                f"{self.rule_operations}, flops={self.flops}, forward_sweeps="
                f"{self.forward_sweeps}, recordings={self.recordings}, "
                f"reverse_sweeps={self.reverse_sweeps})")


_active: list[WorkCount] = []  # the counts of the blocks running, outermost first
_depth = [0]                   # > 0 while a rule or an accumulation runs


def _tally(name: str, args: tuple, params: dict, out: Any) -> None:
    cost = flops(name, args, params, out)
    in_rule = _depth[0] > 0
    for counts in _active:
        counts.operations += 1
        counts.flops += cost
        if in_rule:
            counts.rule_operations += 1


def _accumulated(total: Any) -> None:
    """core.TALLY: one addition of a tangent term or an adjoint contribution."""
    _depth[0] += 1
    _tally("add", (), {}, total)
    _depth[0] -= 1


def _counted_impl(prim) -> Callable:
    original, name = prim.impl, prim.name

    def impl(*args, **params):
        out = original(*args, **params)
        _tally(name, args, params, out)
        return out

    return impl


def _counted_rule(rule: Callable, skip: int = 0,
                  shaped_like: Callable[[tuple], Any] | None = None) -> Callable:
    """``rule`` run on counted boxes (its first ``skip`` arguments, a variadic rule's
    index, stay plain). A VJP rule's result is also summed back there to the shape of
    its argument, ``shaped_like(args)``, so that the sums undoing broadcasting count."""
    def counted(*args, **params):
        _depth[0] += 1
        try:
            out = rule(*args[:skip], *[_wrap(a) for a in args[skip:]], **params)
            if shaped_like is not None and out is not None:
                shape = np.shape(core.raw(shaped_like(args)))
                if np.shape(core.raw(out)) != shape:
                    out = ops.unbroadcast(out, shape)
            return _unwrap(out)
        finally:
            _depth[0] -= 1

    return counted


_PLAIN_JVP = ops.Primitive.jvp


def _in_rule(method: Callable) -> Callable:
    """``method`` counted as derivative work (a linear operation's JVP applies the
    operation itself to the tangents, outside any rule)."""
    def counted(*args, **params):
        _depth[0] += 1
        try:
            return method(*args, **params)
        finally:
            _depth[0] -= 1

    return counted


def _instrument(prim, restore: list) -> None:
    restore.append((prim, prim.impl, prim.jvp_rules, prim.vjp_rules, prim.jvp_n, prim.vjp_n))
    prim.impl = _counted_impl(prim)
    prim.jvp_rules = tuple(None if r is None else _counted_rule(r) for r in prim.jvp_rules)
    # vjp rule i is called as rule(g, ans, *args): argument i sits at position 2 + i;
    # a variadic one as rule(i, g, ans, *args): argument i at 3 + i
    prim.vjp_rules = tuple(
        None if r is None else _counted_rule(r, shaped_like=lambda a, i=i: a[2 + i])
        for i, r in enumerate(prim.vjp_rules))
    if prim.jvp_n is not None:
        prim.jvp_n = _counted_rule(prim.jvp_n, skip=1)
    if prim.vjp_n is not None:
        prim.vjp_n = _counted_rule(prim.vjp_n, skip=1, shaped_like=lambda a: a[3 + a[0]])


@contextlib.contextmanager
def count_work() -> Iterator[WorkCount]:
    """Count the work done while the ``with`` block runs: operations (everywhere, rules
    and accumulation included), estimated flops, and sweeps by kind.

    >>> with count_work() as work:                              # doctest: +SKIP
    ...     ad.grad(f)(x)
    >>> work.operations, work.reverse_sweeps                    # doctest: +SKIP
    (17, 1)

    Blocks may be nested; each counts what ran inside it. Sweeps are counted by the
    engine itself (:data:`adlab.core.SWEEPS`), operations by instrumenting every
    primitive of the registry for the duration of the outermost block.
    """
    counts = WorkCount()
    restore: list = []
    outermost = not _active
    if outermost:
        for prim in ops.REGISTRY.values():
            _instrument(prim, restore)
        core.TALLY = _accumulated
        ops.Primitive.jvp = _in_rule(_PLAIN_JVP)  # a linear operation's JVP is itself
    _active.append(counts)
    try:
        yield counts
    finally:
        _active.remove(counts)
        if outermost:
            core.TALLY = None
            ops.Primitive.jvp = _PLAIN_JVP
            for prim, impl, jvp_rules, vjp_rules, jvp_n, vjp_n in reversed(restore):
                prim.impl, prim.jvp_rules, prim.vjp_rules = impl, jvp_rules, vjp_rules
                prim.jvp_n, prim.vjp_n = jvp_n, vjp_n
        counts._freeze()
