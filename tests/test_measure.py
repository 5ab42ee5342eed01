"""adlab.measure: the notebooks' timing, counting and plotting helpers."""

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

import adlab as ad  # noqa: E402
from adlab import measure  # noqa: E402


def test_best_time_is_the_fastest_run_and_repeats_at_least_as_asked():
    calls = []
    seconds = measure.best_time(lambda: calls.append(1), repeats=4, budget=0.0)
    assert len(calls) == 4 and 0 <= seconds < 0.01
    with pytest.raises(ValueError, match="at least 1"):
        measure.best_time(lambda: None, repeats=0)


def test_cost_counts_like_count_work_and_keeps_the_result():
    def f(x1, x2):
        return x1 * x2 + ad.sin(x1)
    c = measure.cost(ad.grad(f, argnums=(0, 1)), 2.0, 3.0, repeats=0)
    assert c.operations == 8 and c.work.reverse_sweeps == 1  # as tests/test_counting.py
    assert np.allclose(c.result, (3 + np.cos(2.0), 2.0)) and np.isnan(c.seconds)
    assert measure.cost(np.sin, 1.0, repeats=2).seconds >= 0


def test_scaling_measures_every_size_and_stops_slow_ones():
    runs = measure.scaling({"f": lambda n: lambda: ad.sum(ad.sin(np.ones(n))),
                            "grad": lambda n: lambda: ad.grad(lambda v: ad.sum(ad.sin(v)))(
                                np.ones(n))},
                           [1, 10, 100], repeats=1, upto={"grad": 10})
    assert len(runs.costs["f"]) == 3 and len(runs.costs["grad"]) == 2
    assert list(runs.operations("f")) == [2, 2, 2]  # vectorised: sin and sum at any n
    assert np.allclose(runs.ratio("grad", "f"), runs.operations("grad") / 2)


def test_slope_reads_the_growth_rate():
    sizes = [10, 100, 1000, 10000]
    assert measure.slope(sizes, [3 * n ** 2 + 50 for n in sizes]) == pytest.approx(2, abs=0.01)
    assert measure.slope(sizes, [5 * n for n in sizes]) == pytest.approx(1)


def test_plot_scaling_draws_one_line_per_label_and_a_guide():
    runs = measure.scaling({"a": lambda n: lambda: ad.sin(np.ones(n)),
                            "b": lambda n: lambda: ad.exp(ad.sin(np.ones(n)))},
                           [1, 2, 4], repeats=1)
    ax = measure.plot_scaling(runs, of="operations", guide=2, title="t")
    assert len(ax.get_lines()) == 3 and ax.get_title() == "t"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4"]
    with pytest.raises(ValueError, match="seconds"):
        measure.plot_scaling(runs, of="time")


def test_plot_ratio_draws_the_ratio_from_zero_in_the_kinds_asked():
    runs = measure.scaling({"a": lambda n: lambda: ad.sin(np.ones(n)),
                            "b": lambda n: lambda: ad.exp(ad.sin(np.ones(n)))},
                           [1, 2, 4], repeats=1)
    ax = measure.plot_ratio(runs, "b", "a", title="t")
    lines = ax.get_lines()
    assert len(lines) == 2 and ax.get_title() == "t" and ax.get_ylim()[0] == 0
    assert list(lines[0].get_ydata()) == [2.0, 2.0, 2.0]  # exp(sin) is two operations to one
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "4"]
    assert len(measure.plot_ratio(runs, "b", "a", of="seconds").get_lines()) == 1
    with pytest.raises(ValueError, match="seconds"):
        measure.plot_ratio(runs, "b", "a", of=("operations", "time"))

