"""The cyclic GC and long user tapes (adlab.tapegc): what changes, and that it is undone.

No timings here (the benchmarks measure the cost per node): these tests check that
full collections are spaced out only while a large user tape is alive, that the
user's own thresholds come back exactly, that thresholds the user sets meanwhile are
respected, and that threads recording tapes at the same time leave no trace.
"""

from __future__ import annotations

import gc
import threading

import pytest

import adlab as ad
from adlab import tapegc

pytestmark = pytest.mark.skipif(not tapegc._ENABLED, reason="Python >= 3.14: not used")

BIG = tapegc.MIN_NODES + 10_000


@pytest.fixture(autouse=True)
def _thresholds():
    before, enabled = gc.get_threshold(), gc.isenabled()
    gc.collect()
    yield
    gc.collect()
    assert tapegc.live_nodes() < tapegc.MIN_NODES
    gc.set_threshold(*before)
    (gc.enable if enabled else gc.disable)()


def chain(n: int, x=None):
    x = ad.Var(0.5) if x is None else x
    y = x
    for _ in range(n):
        y = y * 1.0000001
    return x, y


def test_small_tapes_leave_the_thresholds_alone():
    before = gc.get_threshold()
    for _ in range(5):
        x, y = chain(5_000)
        assert gc.get_threshold() == before
        y.backward()
    assert gc.get_threshold() == before


def test_a_large_live_tape_spaces_out_full_collections_then_restores():
    gc.set_threshold(500, 7, 9)
    x, y = chain(BIG)
    t0, t1, t2 = gc.get_threshold()
    assert (t0, t1) == (500, 7) and t2 > 9  # only generation 2 waits longer
    assert t0 * t1 * t2 >= tapegc.GROWTH * BIG  # in proportion to the live tape
    y.backward()
    assert x.grad == pytest.approx(1.0000001**BIG)
    assert gc.get_threshold()[2] > 9  # the tape is still alive after backward()
    del y
    assert gc.get_threshold() == (500, 7, 9)
    x, y = chain(BIG, x)  # and again, from the same leaf
    assert gc.get_threshold()[2] > 9
    del x, y
    assert gc.get_threshold() == (500, 7, 9)


def test_thresholds_the_user_sets_meanwhile_are_kept():
    before = gc.get_threshold()
    x, y = chain(BIG)
    assert gc.get_threshold() != before
    gc.set_threshold(1000, 20, 30)
    x, y = chain(BIG, x)  # another large tape: the user's values are the new base
    del x, y
    assert gc.get_threshold() == (1000, 20, 30)


def test_a_disabled_collector_stays_disabled():
    gc.disable()
    x, y = chain(BIG)
    y.backward()
    del x, y
    assert not gc.isenabled()


def test_threads_recording_at_once_leave_no_trace():
    gc.set_threshold(600, 10, 10)
    results, barrier = {}, threading.Barrier(3)

    def work(k):
        x, y = chain(BIG)
        barrier.wait()  # all three tapes alive at once
        y.backward()
        results[k] = x.grad
        barrier.wait()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    assert all(g == pytest.approx(1.0000001**BIG) for g in results.values())
    assert gc.get_threshold() == (600, 10, 10)
    assert tapegc.live_nodes() < tapegc.MIN_NODES


def test_nodes_freed_by_the_cyclic_collector_release_their_episode():
    class Holder:
        pass

    before = gc.get_threshold()
    h = Holder()
    h.me = h  # a reference cycle that keeps the tape alive
    h.x, h.y = chain(BIG)
    assert gc.get_threshold() != before
    del h
    gc.collect()
    assert gc.get_threshold() == before
