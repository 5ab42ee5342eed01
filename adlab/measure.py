r"""Measuring what a computation costs, for the notebooks: time, operations, plots.

The course answers "what does it cost?" by measuring, and every measurement needs the
same few steps: time a call fairly, count its operations, repeat over sizes, plot on
log-log axes. This module holds them once, so a notebook cell reads as the question it
asks::

    sizes = [10, 100, 1000]
    runs = measure.scaling({"f": lambda n: ..., "gradient": lambda n: ...}, sizes)
    measure.plot_scaling(runs, xlabel="n inputs", title="The cost of a gradient")

Times are the **fastest** of several runs (other programs on the machine can only make
a run slower, never faster), so they are comparable within one run of a notebook but
differ from machine to machine; operation counts (:func:`adlab.count_work`) are the
same everywhere.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from adlab.counting import WorkCount, count_work

__all__ = ["best_time", "Cost", "cost", "Scaling", "scaling", "plot_scaling", "slope",
           "plot_ratio"]


def best_time(fn: Callable, *args: Any, repeats: int = 5, budget: float = 0.2) -> float:
    """Seconds of the fastest of at least ``repeats`` runs of ``fn(*args)`` (more runs,
    up to 50, while their total stays under ``budget`` seconds)."""
    if repeats < 1:
        raise ValueError(f"best_time: repeats must be at least 1, not {repeats}")
    times: list[float] = []
    while len(times) < repeats or (sum(times) < budget and len(times) < 50):
        start = time.perf_counter()
        fn(*args)
        times.append(time.perf_counter() - start)
    return min(times)


@dataclass
class Cost:
    """What one call cost: ``work`` (a :class:`adlab.WorkCount`: operations, flops,
    sweeps) and ``seconds`` (the fastest of a few runs), and the call's ``result``."""

    work: WorkCount
    seconds: float
    result: Any = field(repr=False, default=None)

    @property
    def operations(self) -> int:
        return self.work.operations


def cost(fn: Callable, *args: Any, repeats: int = 3, budget: float = 0.1) -> Cost:
    """Count the operations of one call of ``fn(*args)`` and time the fastest of a few
    (``repeats=0``: count only)."""
    with count_work() as work:
        result = fn(*args)
    seconds = best_time(fn, *args, repeats=repeats, budget=budget) if repeats else float("nan")
    return Cost(work, seconds, result)


@dataclass
class Scaling:
    """Costs over sizes: ``costs[label][i]`` is the :class:`Cost` at ``sizes[i]``."""

    sizes: list
    costs: dict[str, list[Cost]]

    def seconds(self, label: str) -> np.ndarray:
        return np.array([c.seconds for c in self.costs[label]])

    def operations(self, label: str) -> np.ndarray:
        return np.array([c.operations for c in self.costs[label]])

    def ratio(self, label: str, to: str, of: str = "operations") -> np.ndarray:
        """``label``'s operations (or ``of="seconds"``) divided by ``to``'s, per size."""
        pick = self.operations if of == "operations" else self.seconds
        n = min(len(self.costs[label]), len(self.costs[to]))
        return pick(label)[:n] / pick(to)[:n]


def scaling(calls: Mapping[str, Callable[[Any], Callable[[], Any]]], sizes: Sequence,
            repeats: int = 3, upto: Mapping[str, Any] | None = None) -> Scaling:
    """Measure each of ``calls`` at every size: ``calls[label](n)`` returns the call to
    measure at size ``n`` (a function of no arguments, e.g. ``lambda: ad.grad(f)(x)``).
    ``upto[label]`` stops a slow one after that size."""
    upto = upto or {}
    costs: dict[str, list[Cost]] = {label: [] for label in calls}
    for n in sizes:
        for label, make in calls.items():
            if label in upto and n > upto[label]:
                continue
            costs[label].append(cost(make(n), repeats=repeats))
    return Scaling(list(sizes), costs)


def slope(sizes: Sequence, values: Sequence) -> float:
    """The slope of ``values`` against ``sizes`` on log-log axes, fitted over the larger
    half of the sizes (where fixed overheads weigh least): 1 for linear growth, 2 for
    quadratic."""
    x, y = np.log(np.asarray(sizes, float)), np.log(np.asarray(values, float))
    half = len(x) // 2
    return float(np.polyfit(x[half:], y[half:], 1)[0])


def plot_scaling(runs: Scaling, of: str = "seconds", *, xlabel: str = "n",
                 title: str | None = None, guide: float | None = None, ax: Any = None) -> Any:
    """Plot ``runs`` (seconds or ``of="operations"``) on log-log axes, one line per label,
    with ticks at the sizes measured; ``guide=2`` adds a dotted n² line for comparison.
    Returns the axes."""
    import matplotlib.pyplot as plt

    if of not in ("seconds", "operations"):
        raise ValueError(f"plot_scaling: of must be 'seconds' or 'operations', not {of!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    markers = "osD^v<>"
    for k, label in enumerate(runs.costs):
        values = runs.seconds(label) if of == "seconds" else runs.operations(label)
        ax.loglog(runs.sizes[:len(values)], values, marker=markers[k % len(markers)],
                  label=label)
    if guide is not None:
        first = next(iter(runs.costs))
        values = runs.seconds(first) if of == "seconds" else runs.operations(first)
        sizes = np.asarray(runs.sizes[:len(values)], float)
        ax.loglog(sizes, values[0] * (sizes / sizes[0]) ** guide, ":", color="gray",
                  label=f"n^{guide:g} growth, for comparison")
    ax.set_xticks(runs.sizes, [str(n) for n in runs.sizes])
    ax.minorticks_off()
    ax.set_xlabel(xlabel)
    ax.set_ylabel("seconds (fastest run)" if of == "seconds" else "operations evaluated")
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def plot_ratio(runs: Scaling, label: str, to: str,
               of: str | Sequence[str] = ("operations", "seconds"), *, xlabel: str = "n",
               title: str | None = None, ax: Any = None) -> Any:
    """Plot ``label``'s cost divided by ``to``'s at every size (:meth:`Scaling.ratio`), in
    operations, seconds or both, on a logarithmic x axis and a linear y axis from 0: a
    constant factor is a flat line, a factor that grows with the size rises. Returns the
    axes."""
    import matplotlib.pyplot as plt

    kinds = [of] if isinstance(of, str) else list(of)
    for kind in kinds:
        if kind not in ("seconds", "operations"):
            raise ValueError(f"plot_ratio: of must be 'seconds' or 'operations', not {kind!r}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 4))
    for kind in kinds:
        ratio = runs.ratio(label, to, of=kind)
        ax.semilogx(runs.sizes[:len(ratio)], ratio, "o-" if kind == "operations" else "s:",
                    label="in operations" if kind == "operations" else "in time (fastest runs)")
    ax.set_xticks(runs.sizes, [str(n) for n in runs.sizes])
    ax.minorticks_off()
    ax.set_ylim(0, None)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(f"{label} / {to}")
    if title:
        ax.set_title(title)
    ax.legend()
    return ax
