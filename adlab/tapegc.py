r"""The cyclic garbage collector and the tape of hand-made Vars.

Reference counting frees adlab's tapes (they hold no reference cycles), but CPython's
*cyclic* collector still walks every live container object now and then. It sorts
them into three generations; a full (generation 2) collection walks them all, and
CPython starts one whenever the objects that survived into generation 2 have grown by
25% since the last full collection. A tape that a user's loop builds,

>>> x = Var(0.5); y = x                      # doctest: +SKIP
>>> for _ in range(10**6): y = y * 1.0000001  # doctest: +SKIP

keeps every node alive until ``backward()``, so it is walked again and again while it
grows, about five times per node, each time through memory far larger than the CPU's
caches: a node of a 10⁶-node tape cost 2.3 to 2.7 times one of a 10⁴-node tape.

Transformations (``grad``, ``vjp``, ``jvp``, ``trace``) simply pause the collector
while they run (:func:`adlab.core.gc_paused`). A user's own loop must not lose its
collector, so here adlab only makes the *full* collections rarer in proportion to the
live user tape, and only while a large one is alive:

* Nodes of the user tape are counted in *episodes* of :data:`EPISODE` consecutive
  nodes. Every node holds its episode, so an episode's ``__del__`` runs when its last
  node is freed, and ``live`` (a whole episode for each live one) follows the live
  tape, from above, at the cost of one reference and one comparison per node. (A
  node kept alive keeps its whole episode counted; a few stray ones cannot reach
  :data:`MIN_NODES`.)
* While ``live`` is at least :data:`MIN_NODES`, generation 2's threshold (how many
  generation-1 collections make a full one) is raised so that a full collection
  waits until about :data:`GROWTH` times the live tape's worth of objects has been
  allocated: the tape is walked a bounded number of times in all instead of five
  times per node. Generations 0 and 1, which collect the young garbage (cycles the
  user's own code makes), keep their thresholds; cyclic garbage that reaches
  generation 2 waits longer, at most in proportion to the live tape.
* When the live tape drops below :data:`MIN_NODES` (the user drops it, reference
  counting frees it), the user's thresholds come back. If the user changed the
  thresholds meanwhile (``gc.set_threshold``), theirs are kept: adlab restores only
  what it set itself.

Smaller programs (fewer than :data:`MIN_NODES` live nodes, e.g. a training loop whose
graphs are freed every step) never see a change. ``gc.get_threshold()`` shows the
raised value while a large user tape is alive; ``gc.collect()`` still collects
everything at once. Changes happen under a lock, so threads that record user tapes at
the same time share one adjustment. On Python 3.14 and later (an incremental
collector whose thresholds mean something else) nothing is changed.
"""

from __future__ import annotations

import gc
import sys
import threading

__all__ = ["Episode", "EPISODE", "MIN_NODES", "GROWTH", "live_nodes"]

#: Live user-tape nodes from which full collections are spaced out.
MIN_NODES = 1 << 15
#: A full collection waits for about this many objects per live node to be allocated.
GROWTH = 16
#: Nodes per episode (the granularity of the count).
EPISODE = 1 << 12

_ENABLED = sys.version_info < (3, 14)
# reentrant: a collection started inside the lock may free an episode (its __del__)
_lock = threading.RLock()
_live = 0               # nodes of the live episodes (the current one counted in full)
_saved = None           # the user's thresholds while adlab's are in force
_ours = None            # the thresholds adlab set (to see whether the user changed them)


class Episode:
    """A run of :data:`EPISODE` consecutive user-tape nodes: those whose creation
    numbers (``Var._index``, a global clock) lie in ``[start, end)``. Each node holds
    its episode and the tape holds the current one, so an episode lives as long as one
    of its nodes (or while it is current) and its ``__del__`` tells when the last of
    them is freed."""

    __slots__ = ("end",)

    def __init__(self, start: int):
        self.end = start + EPISODE
        _change(EPISODE)

    def __del__(self):
        try:
            _change(-EPISODE)
        except Exception:  # noqa: BLE001 - interpreter shutdown: nothing left to restore
            pass


def live_nodes() -> int:
    """The live user-tape nodes as adlab counts them: a whole episode for each live one."""
    return _live


def _change(nodes: int) -> None:
    global _live
    with _lock:
        _live += nodes
        _adjust()


def _adjust() -> None:
    """Space out full collections in proportion to the live tape (called under the lock)."""
    global _saved, _ours
    if not _ENABLED:
        return
    current = gc.get_threshold()
    if _saved is not None and current != _ours:
        _saved = _ours = None  # the user set thresholds of their own: leave them alone
        return
    base = current if _saved is None else _saved
    t0, t1, t2 = base
    if _live < MIN_NODES or t0 <= 0:
        if _saved is not None:  # back to the user's own thresholds
            gc.set_threshold(*_saved)
            _saved = _ours = None
        return
    wanted = (t0, t1, max(t2, -(-GROWTH * _live // (t0 * max(t1, 1)))))
    if wanted != current:
        if _saved is None:
            _saved = current
        gc.set_threshold(*wanted)
        _ours = wanted
