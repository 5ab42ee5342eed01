"""Timing helpers for the benchmarks: ``timeit``-style repeats, stated GC state.

Each measurement warms the function up, calibrates how many calls make one repeat
last at least ``min_time`` seconds (as :meth:`timeit.Timer.autorange` does), then
times ``repeats`` repeats and keeps the per-call minimum and median. Before every
repeat the garbage collector is run to empty (``gc.collect()``, outside the timed
region), so each repeat starts from the same GC state; during the repeat the
collector is enabled (``gc_enabled=True``, what a user's program sees) or disabled.

:func:`measure_pair` interleaves the repeats of two functions (A, B, A, B, ...) so
that a slow drift of the machine (frequency scaling, a noisy neighbour) affects both
sides of a ratio alike.
"""

from __future__ import annotations

import contextlib
import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

__all__ = ["Timing", "GcMonitor", "measure", "measure_pair", "measure_many", "time_once",
           "gc_cost", "fmt_time", "fmt_bytes"]


@dataclass
class Timing:
    """Seconds per call of one measured function."""

    best: float            # minimum over the repeats
    median: float
    repeats: int
    number: int            # calls per repeat
    gc_enabled: bool
    samples: list = field(default_factory=list)  # per-call seconds of every repeat

    def as_dict(self) -> dict:
        return asdict(self)


class GcMonitor:
    """Counts the collections the cyclic garbage collector runs, and their time.

    Use as a context manager around the code to watch; it registers a
    :data:`gc.callbacks` hook (a few microseconds per collection).
    """

    def __init__(self):
        self.collections = [0, 0, 0]
        self.seconds = 0.0
        self._t0 = None

    def _callback(self, phase, info):
        if phase == "start":
            self._t0 = time.perf_counter()
        elif self._t0 is not None:
            self.seconds += time.perf_counter() - self._t0
            self.collections[info["generation"]] += 1
            self._t0 = None

    def __enter__(self):
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self._callback)
        return False

    def as_dict(self) -> dict:
        return {"collections_per_generation": list(self.collections),
                "gc_seconds": self.seconds}


@contextlib.contextmanager
def _collector(enabled: bool):
    """The cyclic GC on or off for the block, then back as it was."""
    was_enabled = gc.isenabled()
    (gc.enable if enabled else gc.disable)()
    try:
        yield
    finally:
        (gc.enable if was_enabled else gc.disable)()


def _timed(fn: Callable[[], object], number: int, gc_enabled: bool) -> float:
    """Seconds for ``number`` calls of ``fn``, from a freshly collected heap."""
    gc.collect()
    with _collector(gc_enabled):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return time.perf_counter() - t0


def _calibrate(fn, min_time: float, gc_enabled: bool, warmup: int) -> int:
    for _ in range(warmup):
        fn()
    number = 1
    while True:
        t = _timed(fn, number, gc_enabled)
        if t >= min_time or number >= 1_000_000:
            return number
        if t <= 0:
            number *= 10
            continue
        # aim a little above min_time, growing at least 2x and at most 100x per step
        number = min(max(2 * number, int(number * 1.2 * min_time / t) + 1), 100 * number)


def measure(fn: Callable[[], object], *, repeats: int = 7, min_time: float = 0.2,
            gc_enabled: bool = True, warmup: int = 1) -> Timing:
    """Time ``fn()``: per-call min and median over ``repeats`` calibrated repeats."""
    number = _calibrate(fn, min_time, gc_enabled, warmup)
    samples = [_timed(fn, number, gc_enabled) / number for _ in range(repeats)]
    return Timing(min(samples), statistics.median(samples), repeats, number, gc_enabled,
                  samples)


def measure_pair(fa: Callable[[], object], fb: Callable[[], object], *, repeats: int = 7,
                 min_time: float = 0.2, gc_enabled: bool = True,
                 warmup: int = 1) -> tuple[Timing, Timing]:
    """Time two functions with their repeats interleaved (A, B, A, B, ...)."""
    na = _calibrate(fa, min_time, gc_enabled, warmup)
    nb = _calibrate(fb, min_time, gc_enabled, warmup)
    sa, sb = [], []
    for _ in range(repeats):
        sa.append(_timed(fa, na, gc_enabled) / na)
        sb.append(_timed(fb, nb, gc_enabled) / nb)
    return (Timing(min(sa), statistics.median(sa), repeats, na, gc_enabled, sa),
            Timing(min(sb), statistics.median(sb), repeats, nb, gc_enabled, sb))


def measure_many(fns: dict[str, Callable[[], object]], *, repeats: int = 7,
                 min_time: float = 0.2, gc_enabled: bool = True,
                 warmup: int = 1) -> dict[str, Timing]:
    """Time several functions with their repeats interleaved (A, B, C, A, B, C, ...)."""
    numbers = {k: _calibrate(f, min_time, gc_enabled, warmup) for k, f in fns.items()}
    samples: dict[str, list] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            samples[k].append(_timed(f, numbers[k], gc_enabled) / numbers[k])
    return {k: Timing(min(s), statistics.median(s), repeats, numbers[k], gc_enabled, s)
            for k, s in samples.items()}


def time_once(fn: Callable[[], object], gc_enabled: bool = True,
              monitor: GcMonitor | None = None) -> tuple[float, object]:
    """Seconds for one call of ``fn`` (from a collected heap) and what it returned.

    The result is returned, not dropped, so that freeing it happens outside the
    timed region (and can be timed on its own). ``monitor`` watches the collections
    during the call only (not the ``gc.collect()`` before it).
    """
    gc.collect()
    if monitor is not None:
        monitor.__enter__()
    try:
        with _collector(gc_enabled):
            t0 = time.perf_counter()
            out = fn()
            return time.perf_counter() - t0, out
    finally:
        if monitor is not None:
            monitor.__exit__()


def gc_cost(fn: Callable[[], object], calls: int) -> dict:
    """Collections and GC seconds per call of ``fn`` over ``calls`` calls, GC enabled.

    A separate, untimed diagnostic run (the callback would perturb the timings).
    """
    gc.collect()
    was_enabled = gc.isenabled()
    gc.enable()
    try:
        with GcMonitor() as m:
            for _ in range(calls):
                fn()
    finally:
        if not was_enabled:
            gc.disable()
    return {**m.as_dict(), "calls": calls, "gc_seconds_per_call": m.seconds / calls}


def fmt_time(seconds: float | None) -> str:
    """A duration with a readable unit: ``812 ns``, ``43.1 us``, ``12.34 ms``, ``1.234 s``."""
    if seconds is None:
        return "-"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.3f} s"


def fmt_bytes(n: float | None) -> str:
    """A size with a readable unit: ``812 B``, ``43.1 kB``, ``12.34 MB`` (powers of 1000)."""
    if n is None:
        return "-"
    if abs(n) < 1e3:
        return f"{n:.0f} B"
    if abs(n) < 1e6:
        return f"{n / 1e3:.1f} kB"
    if abs(n) < 1e9:
        return f"{n / 1e6:.2f} MB"
    return f"{n / 1e9:.3f} GB"
