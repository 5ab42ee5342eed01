r"""What reverse mode stores, and checkpointing: trading recomputation for memory.

Reverse mode must keep, from the forward sweep until the reverse sweep uses them, the
values that local partials read (:meth:`adlab.Trace.saved`, counted by
:func:`saved_memory`). For a chain of :math:`L` layers that memory grows like
:math:`L`. A one-shot gradient (``ad.grad``, ``ad.value_and_grad``) frees each
recorded value after its last use in the reverse sweep, so memory falls as the sweep
goes; the peak is at its start.

:func:`checkpoint` wraps a segment of the program so that the tape records it as a
single node that keeps only the segment's inputs (and its output). Its inside is not
recorded; when the reverse sweep reaches the node, the segment is run again, recorded
this time, and swept backwards at once. What is alive at the peak depends on where the
checkpointed segments sit (:func:`checkpoint_peak`): checkpoint the first :math:`m` of
:math:`L` layers in :math:`s = m/k` segments of :math:`k`, and the plain layers after
them have been swept and freed before any segment is recomputed, so the peak is
:math:`\max(L - m + s,\ s + k)` activations; put the same segments at the output end
and they are recomputed while every plain activation is still alive, a peak of
:math:`L - m + s + k`. Checkpointing all :math:`L` layers in segments of
:math:`k \approx \sqrt L` keeps :math:`2\sqrt L` for one extra forward sweep.

Binomial checkpointing (Griewank's *revolve*) goes further: with :math:`s` checkpoint
slots and every step run forward at most :math:`r` times, a chain of
:math:`\beta(s, r) = \binom{s + r}{s}` steps can be reversed, and no schedule reverses a
longer one (:func:`binomial_steps`). :func:`revolve_schedule` builds the schedule with
the fewest forward steps (:func:`revolve_advances`), so memory and the recomputation
factor can both grow like :math:`\log L`. Checkpointing the two halves of a chain, and
recursively their halves (nested :func:`checkpoint`), is a simple schedule of the same
kind: :math:`O(\log L)` values alive, each layer run :math:`O(\log L)` times.
"""

from __future__ import annotations

import functools
import math
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adlab import core, counting, fmt
from adlab.core import Box, method, raw
from adlab.forward import jvp
from adlab.ops import Primitive
from adlab.reverse import vjp_once
from adlab.trace import trace


class _Checkpointed(Primitive):
    """A primitive whose rules re-run a whole function: the node a checkpoint records.

    Its parameter ``wrt`` lists the arguments that were boxes when it was called (the
    others are constants to every transformation): the recomputation differentiates by
    those only, so it neither computes nor holds cotangents nobody will ask for.
    """

    __slots__ = ("fn", "_last")

    def __init__(self, fn: Callable):
        name = getattr(fn, "__name__", "segment")
        super().__init__(f"checkpoint[{name}]", self._run, "*xs", vjp_n=self._vjp_n,
                         reads=("xs",),
                         doc=f"{name}, recomputed in the reverse sweep (stores its inputs)")
        self.fn = fn
        self._last: tuple | None = None  # (g, xs, {argument: cotangent}) of the latest sweep

    def _run(self, *xs, wrt: tuple = ()):
        if core.TALLY is not None:
            # count_work is counting: NumPy's own operators on the plain values (h @ W)
            # would bypass adlab, so run the segment on counted boxes, as its rules are
            return counting._unwrap(self.fn(*counting._wrap(xs)))
        return self.fn(*xs)

    def _vjp_n(self, i: int, g, ans, *xs, wrt: tuple = ()):
        # The sweep asks for one argument's cotangent at a time; one re-run of the
        # segment answers for all of them, so keep them until they have been asked for.
        last = self._last
        if last is None or last[0] is not g or len(last[1]) != len(xs) or any(
                a is not b for a, b in zip(last[1], xs)):
            wrt = wrt or tuple(range(len(xs)))

            def inside(*chosen):
                full = list(xs)
                for n, x in zip(wrt, chosen):
                    full[n] = x
                return self.fn(*full)

            # recompute the inside, recorded this time, and free it as it is swept
            _, pullback = vjp_once(inside, *[xs[n] for n in wrt])
            last = self._last = (g, xs, dict(zip(wrt, pullback(g))))
        cotangents = last[2]
        cotangent = cotangents.pop(i) if i in cotangents else np.zeros_like(
            raw(xs[i]), dtype=float)
        if not cotangents:
            self._last = None  # answered every argument: forget the recomputation
        return cotangent

    def jvp(self, tangents, ans, args, params):
        ts = [np.zeros_like(raw(a), dtype=float) if t is None else t
              for a, t in zip(args, tangents)]
        return jvp(self.fn, args, ts)[1]

    def jvp_term(self, i, t, ans, args, params):
        tangents = [None] * len(args)
        tangents[i] = t
        return self.jvp(tangents, ans, args, params)


def checkpoint(f: Callable) -> Callable:
    r"""``f`` as a checkpointed segment: stored as its inputs, recomputed when needed.

    >>> segment = checkpoint(lambda h, W: tanh(h @ W))      # doctest: +SKIP

    Called on values that are being differentiated, the segment is evaluated without
    recording its inside, and the tape gets one node that keeps only the arguments.
    The reverse sweep re-runs ``f`` on them and pulls the adjoint through that fresh
    recording. Gradients are identical to those without checkpointing. ``f`` must take
    and return arrays (or numbers) and be deterministic.
    """
    prim = _Checkpointed(f)

    @functools.wraps(f)
    def wrapped(*args):
        return prim(*args, wrt=tuple(i for i, a in enumerate(args) if isinstance(a, Box)))

    wrapped.primitive = prim
    return wrapped


@dataclass
class SavedMemory:
    """What reverse mode keeps for one run of a function.

    ``count`` and ``nbytes``: the *intermediate* values some local partial reads, which
    an engine must store from the forward sweep to the reverse sweep
    (:meth:`adlab.Trace.saved`, inputs left out). ``input_count`` and ``input_bytes``:
    the inputs that are read too (they exist anyway). ``retained_bytes``: memory the
    recorded computation actually held after the forward sweep, measured with
    ``tracemalloc`` (adlab keeps every node's value for display, so this is at least
    ``nbytes``; checkpointed segments keep nothing inside).
    """

    count: int
    nbytes: int
    input_count: int
    input_bytes: int
    retained_bytes: int
    n_nodes: int
    nodes: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (f"{self.count} stored intermediates, {fmt.count(self.nbytes)} bytes (of "
                f"{self.n_nodes} nodes; {self.input_count} inputs read too, "
                f"{fmt.count(self.input_bytes)} bytes); the recording held "
                f"{fmt.count(self.retained_bytes)} bytes")


@method("ad.saved_memory")
def saved_memory(f: Callable, *args: Any) -> SavedMemory:
    """Count and bytes of what reverse mode stores for ``f(*args)`` (see :class:`SavedMemory`)."""
    t = trace(f, *args)
    names = t.saved()
    inputs = set(t.inputs)

    def size(name: str) -> int:
        return int(np.asarray(t[name].value).nbytes)

    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = trace(f, *args)
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    del kept
    middle = [n for n in names if n not in inputs]
    read_inputs = [n for n in names if n in inputs]
    return SavedMemory(count=len(middle), nbytes=sum(map(size, middle)),
                       input_count=len(read_inputs), input_bytes=sum(map(size, read_inputs)),
                       retained_bytes=retained, n_nodes=len(t.nodes), nodes=middle)


# ---------------------------------------------------------------------------------
# The peak of a checkpointed chain
# ---------------------------------------------------------------------------------

def segment_lengths(m: int, k: int) -> list[int]:
    """The lengths of the segments of ``m`` layers cut every ``k``, in evaluation order
    (the last one shorter when ``k`` does not divide ``m``)."""
    return [min(k, m - i) for i in range(0, m, k)]


@method("ad.memory.checkpoint_peak")
def checkpoint_peak(L: int, m: int, k: int, placement: str = "input",
                    per_layer: int = 1) -> int:
    r"""The most activations alive at once while the gradient of a checkpointed chain is
    computed, when every value is freed after its last use.

    A chain of ``L`` layers; ``m`` of them are checkpointed in segments of ``k`` (see
    :func:`segment_lengths`), at the ``"input"`` end (layers 1..m) or at the
    ``"output"`` end (layers L-m+1..L); the others are recorded as usual, each holding
    ``per_layer`` activations (1 for an engine that keeps what the rules read; 2 in
    adlab for ``tanh(h @ W)``, whose recording keeps the product ``h @ W`` too). A
    checkpoint node holds one activation, its segment's output (its input is the
    previous one's output, or the chain's input, which is not counted).

    With :math:`s` segments and the reverse sweep recomputing segment :math:`j` while
    the outputs of segments :math:`1..j` are alive (its own included: the recomputation
    makes its output again), the recomputations need
    :math:`R = \max_j (j + r k_j)` for segments of lengths :math:`k_j`. Then

    * input end: :math:`\max(r(L - m) + s,\ R)`. The plain layers come after the
      segments, so the reverse sweep frees them before it recomputes any segment;
    * output end: :math:`r(L - m) + R`: every plain activation is still alive while the
      segments are recomputed.

    With equal segments (``k`` divides ``m``) :math:`R = s + rk`. ``m = 0`` gives
    :math:`rL`, plain reverse mode.
    """
    if not 0 <= m <= L or (m and not 1 <= k):
        raise ValueError(f"need 0 <= m <= L and k >= 1 (got L={L}, m={m}, k={k})")
    r, plain = per_layer, per_layer * (L - m)
    if m == 0:
        return plain
    lengths = segment_lengths(m, k)
    s = len(lengths)
    recompute = max(j + r * kj for j, kj in enumerate(lengths, start=1))
    if placement == "input":
        return max(plain + s, recompute)
    if placement == "output":
        return plain + recompute
    raise ValueError(f"placement is 'input' or 'output', not {placement!r}")


# ---------------------------------------------------------------------------------
# Binomial checkpointing (revolve)
# ---------------------------------------------------------------------------------

def binomial_steps(slots: int, repetitions: int) -> int:
    r""":math:`\beta(s, r) = \binom{s + r}{s}`: the longest chain that ``slots``
    checkpoints reverse when no step is run forward more than ``repetitions`` times
    (Griewank 1992)."""
    if slots < 0 or repetitions < 0:
        return 0
    return math.comb(slots + repetitions, slots)


def repetitions_needed(L: int, slots: int) -> int:
    r"""The smallest :math:`r` with :math:`\beta(s, r) \ge L`: how many times the busiest
    step runs forward under the best schedule with ``slots`` checkpoints."""
    if L < 1 or slots < 1:
        raise ValueError(f"need L >= 1 and slots >= 1 (got L={L}, slots={slots})")
    r = 0
    while binomial_steps(slots, r) < L:
        r += 1
    return r


def revolve_advances(L: int, slots: int) -> int:
    r"""The fewest forward steps (runs of a step without recording) that reverse a chain
    of ``L`` steps with ``slots`` checkpoints (the one holding the input included),
    :math:`rL - \beta(s + 1, r - 1)` with :math:`r` from :func:`repetitions_needed`
    (Griewank and Walther 2000). Reversing step :math:`i` records it once more; plain
    reverse mode, which records every step in the forward sweep, needs none."""
    if L <= 1:
        return 0
    r = repetitions_needed(L, slots)
    return r * L - binomial_steps(slots + 1, r - 1)


@dataclass
class Schedule:
    """A checkpointing schedule for a chain of ``steps`` steps, as a list of actions.

    Actions, in order: ``("advance", i, j)`` runs steps ``i .. j-1`` forward without
    recording (state ``i`` to state ``j``); ``("store", i)`` keeps state ``i`` in a
    slot; ``("restore", i)`` makes the stored state ``i`` current; ``("free", i)``
    empties its slot; ``("reverse", i)`` records step ``i`` from the current state
    ``i`` and sweeps back through it (the adjoint moves from state ``i + 1`` to state
    ``i``). State 0, the input, is stored from the start. ``advances``: forward steps
    run; ``repetitions``: the most times one step ran forward; ``peak_slots``: the most
    states stored at once.
    """

    steps: int
    slots: int
    actions: list[tuple] = field(default_factory=list)
    advances: int = 0
    repetitions: int = 0
    peak_slots: int = 0

    def __str__(self) -> str:
        return (f"revolve: {self.steps} steps with {self.slots} slots: {self.advances} "
                f"forward steps (a step runs at most {self.repetitions} times), "
                f"{self.steps} recorded steps, at most {self.peak_slots} states stored")


def _best_split(n: int, c: int) -> int:
    """The first part's length j minimizing j + T(n - j, c - 1) + T(j, c) (convex in j:
    found by bisection on its forward difference)."""
    def cost(j: int) -> int:
        return j + revolve_advances(n - j, c - 1) + revolve_advances(j, c)
    lo, hi = 1, n - 1
    while lo < hi:
        mid = (lo + hi) // 2
        if cost(mid + 1) < cost(mid):
            lo = mid + 1
        else:
            hi = mid
    return lo


def revolve_schedule(L: int, slots: int) -> Schedule:
    r"""Griewank's binomial checkpointing: the schedule with the fewest forward steps
    that reverses a chain of ``L`` steps keeping at most ``slots`` states.

    Split the chain at the step :math:`j` that minimizes the total (the cost is convex in
    :math:`j`): advance to state :math:`j`, store it, reverse steps :math:`j..L-1` with
    one slot fewer, free the slot, then reverse steps :math:`0..j-1` with all of them.
    With one slot, step :math:`i` is reached by advancing from the input every time.
    The schedule is checked by replaying it (:func:`replay`), which also counts.

    >>> str(revolve_schedule(10, 3))                         # doctest: +SKIP
    """
    if L < 1 or slots < 1:
        raise ValueError(f"need L >= 1 and slots >= 1 (got L={L}, slots={slots})")
    actions: list[tuple] = []
    todo: list = [("solve", 0, L, slots)]
    while todo:
        item = todo.pop()
        if item[0] != "solve":
            actions.append(item)
            continue
        _, start, n, c = item
        if n == 1:
            actions.append(("reverse", start))
        elif c == 1:
            for i in range(start + n - 1, start - 1, -1):
                actions.append(("restore", start))
                if i > start:
                    actions.append(("advance", start, i))
                actions.append(("reverse", i))
        else:
            j = _best_split(n, c)
            # pushed in reverse: advance, store, the tail, free, restore, the head
            todo += [("solve", start, j, c), ("restore", start), ("free", start + j),
                     ("solve", start + j, n - j, c - 1), ("store", start + j),
                     ("advance", start, start + j)]
    schedule = Schedule(steps=L, slots=slots, actions=actions)
    replay(schedule)
    return schedule


def replay(schedule: Schedule) -> Schedule:
    """Run a schedule on state numbers: check that each step is reversed in turn, from
    its own state, within the slots; fill in ``advances``, ``repetitions`` and
    ``peak_slots``. Raises ``ValueError`` for a schedule that cannot work."""
    L = schedule.steps
    stored, current, adjoint_at = {0}, 0, L
    runs = [0] * L
    peak = 1
    for action in schedule.actions:
        kind, i = action[0], action[1]
        if kind == "advance":
            if current != i:
                raise ValueError(f"{action}: the current state is {current}")
            for step in range(i, action[2]):
                runs[step] += 1
            current = action[2]
        elif kind == "store":
            if current != i:
                raise ValueError(f"{action}: the current state is {current}")
            stored.add(i)
            peak = max(peak, len(stored))
        elif kind == "restore":
            if i not in stored:
                raise ValueError(f"{action}: state {i} is not stored")
            current = i
        elif kind == "free":
            stored.discard(i)
        elif kind == "reverse":
            if current != i or adjoint_at != i + 1:
                raise ValueError(f"{action}: the current state is {current} and the "
                                 f"adjoint is at state {adjoint_at}")
            adjoint_at, current = i, None
        else:
            raise ValueError(f"unknown action {action}")
    if adjoint_at != 0:
        raise ValueError(f"the schedule stops with the adjoint at state {adjoint_at}")
    if peak > schedule.slots:
        raise ValueError(f"the schedule stores {peak} states, more than {schedule.slots}")
    schedule.advances, schedule.repetitions, schedule.peak_slots = sum(runs), max(runs), peak
    return schedule
