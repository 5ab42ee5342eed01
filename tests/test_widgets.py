"""The widgets, driven through their attributes and ipywidgets models (no browser)."""

from __future__ import annotations

import math
import re

import ipywidgets as W
import numpy as np
import pytest

import adlab as ad
from adlab import ops
from adlab.draw import COLORS
from adlab.widgets import (
    CostExplorer,
    ReverseStepper,
    SeedExplorer,
    TrainingMonitor,
    WidgetInputError,
    count_work,
    widgets_with_class,
)

DZ_DX1 = 3 + math.cos(2)  # 2.583853...


def z_sin(x1, x2):
    return x1 * x2 + ad.sin(x1)


def f_square(x1, x2, x3, x4):
    return (x1 * x2 - (x3 + x4)) ** 2


def one(root, css_class):
    found = widgets_with_class(root, css_class)
    assert len(found) == 1, f"{len(found)} widgets with class {css_class}"
    return found[0]


def buttons(root) -> dict[str, W.Button]:
    out, stack = {}, [root]
    while stack:
        w = stack.pop()
        if isinstance(w, W.Button):
            out[w.description] = w
        stack.extend(getattr(w, "children", ()))
    return out


def node_line(source: str, name: str) -> str:
    pattern = re.compile(rf'^\s*"?{re.escape(name)}"? \[label=', re.M)
    (line,) = [ln for ln in source.splitlines() if pattern.match(ln)]
    return line


def displays_as_widget(obj) -> bool:
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(obj)
    return "application/vnd.jupyter.widget-view+json" in data


# ---------------------------------------------------------------------------------
# SeedExplorer
# ---------------------------------------------------------------------------------

def test_seed_explorer_partial_and_directional_derivatives():
    s = SeedExplorer(z_sin, 2.0, 3.0)
    assert s.seed == (1.0, 0.0)  # one-hot on the first input to start
    assert s.derivative == pytest.approx(DZ_DX1)
    assert s.kind == "partial"
    html = one(s.widget, "adlab-derivative").value
    assert "2.58385" in html and "partial derivative" in html and "∂f/∂x1" in html

    s.seed = (0, 1)
    assert s.derivative == pytest.approx(2.0)
    assert "∂f/∂x2 = 2<" in one(s.widget, "adlab-derivative").value

    s.seed = (0.6, 0.8)
    expected = 0.6 * DZ_DX1 + 0.8 * 2
    assert s.derivative == pytest.approx(expected)
    assert s.kind == "directional"
    html = one(s.widget, "adlab-derivative").value
    assert "directional derivative" in html and format(expected, ".6g") in html


def test_seed_explorer_tangents_come_from_the_trace():
    s = SeedExplorer(z_sin, 2.0, 3.0)
    s.seed = (0.6, 0.8)
    assert dict(s.tangents) == pytest.approx(dict(s.trace.forward((0.6, 0.8))))
    assert s.derivative == s.tangents[s.trace.output]
    # the graph is in tangent mode for this seed
    src = s.graph.source
    assert "tangent " + format(s.derivative, ".6g") in node_line(src, "v3")
    graph = one(s.widget, "adlab-graph").value
    assert "<svg" in graph and "3.15031" in graph


def test_seed_explorer_text_boxes_and_presets_drive_the_seed():
    s = SeedExplorer(z_sin, 2.0, 3.0)
    boxes = widgets_with_class(s.widget, "adlab-seed")
    assert [b.description for b in boxes] == ["x1", "x2"]
    assert all(isinstance(b, W.FloatText) for b in boxes)
    boxes[0].value = 0.0
    boxes[1].value = 1.0
    assert s.seed == (0.0, 1.0) and s.derivative == pytest.approx(2.0)
    s.seed = (0.6, 0.8)  # and the other way round
    assert [b.value for b in boxes] == [0.6, 0.8]
    b = buttons(s.widget)
    assert {"seed x1", "seed x2"} <= set(b)
    b["seed x1"].click()
    assert s.seed == (1.0, 0.0) and [x.value for x in boxes] == [1.0, 0.0]
    assert "2.58385" in one(s.widget, "adlab-derivative").value
    b["seed x2"].click()
    assert s.seed == (0.0, 1.0)
    assert displays_as_widget(s)


def test_seed_explorer_odd_input_shows_a_message_instead_of_raising():
    s = SeedExplorer(z_sin, 2.0, 3.0)
    with pytest.raises(WidgetInputError, match="must be a number"):
        s.seed = ("a", 1)
    with pytest.raises(WidgetInputError, match="one number per input"):
        s.seed = (1, 0, 0)
    assert s.seed == (1.0, 0.0)  # unchanged
    box = widgets_with_class(s.widget, "adlab-seed")[0]
    box.value = float("nan")  # what a callback could see: no exception escapes
    assert "finite" in one(s.widget, "adlab-message").value
    assert s.seed == (1.0, 0.0)
    box.value = 0.5
    assert one(s.widget, "adlab-message").value == ""
    assert s.seed == (0.5, 0.0)


def test_seed_explorer_zero_seed_and_single_input():
    s = SeedExplorer(lambda x: ad.exp(x), 0.0)
    assert s.derivative == pytest.approx(1.0)
    s.seed = 2.0  # a bare number for a function of one input
    assert s.seed == (2.0,) and s.derivative == pytest.approx(2.0)
    assert "directional" in one(s.widget, "adlab-derivative").value
    s.seed = 0
    assert s.kind == "zero" and s.derivative == 0


def test_seed_explorer_refuses_array_inputs_with_advice():
    with pytest.raises(WidgetInputError, match="scalar input"):
        SeedExplorer(lambda x: ad.sum(x * x), np.ones(3))


def test_seed_explorer_without_dot_shows_the_dot_source(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    s = SeedExplorer(z_sin, 2.0, 3.0)
    graph = one(s.widget, "adlab-graph").value
    assert "apt-get install graphviz" in graph and "digraph adlab" in graph
    s.seed = (0, 1)  # still works
    assert s.derivative == 2.0


# ---------------------------------------------------------------------------------
# ReverseStepper
# ---------------------------------------------------------------------------------

def test_reverse_stepper_forward_then_reverse_sweep():
    r = ReverseStepper(z_sin, 2.0, 3.0)
    names = ["v-1", "v0", "v1", "v2", "v3"]
    assert r.n_steps == 2 * len(names) + 1
    assert (r.position, r.phase, r.current) == (0, "forward", None)
    seen = []
    for k in range(1, len(names) + 1):
        r.step()
        assert r.phase == "forward" and r.current == names[k - 1]
        assert r.computed == names[:k]
        assert all(v == [] for v in r.adjoints.values())
        seen.append(r.current)
    assert seen == names
    for k, name in enumerate(reversed(names), start=1):
        r.step()
        assert r.phase == "reverse" and r.current == name
        assert r.final == names[::-1][:k]
    r.step()
    assert (r.position, r.phase, r.current) == (r.n_steps, "done", None)
    sums = r.adjoint_sums
    assert (sums["v-1"], sums["v0"]) == pytest.approx((DZ_DX1, 2.0))
    assert sums["v-1"] == pytest.approx(2.583853, abs=1e-6)
    # the sums of the contributions are the engine's adjoints, exactly
    complete = r.trace.reverse(1.0)
    for name in names:
        assert sums[name] == complete[name]
    assert r.step() == r.n_steps  # at the end: no-op


def test_reverse_stepper_contributions_arrive_one_at_a_time():
    r = ReverseStepper(z_sin, 2.0, 3.0)
    r.position = r.N  # forward sweep done
    history = []
    while r.phase == "reverse" or r.position == r.N:
        r.step()
        history.append((r.current, [c.source for c in r.adjoints["v-1"]]))
        if r.phase == "done":
            break
    assert history[0] == ("v3", [])            # the output pushes to v1 and v2 only
    assert history[1] == ("v2", ["v2"])        # sin pushes cos(x1) = -0.416147
    assert history[2] == ("v1", ["v2", "v1"])  # mul pushes x2 = 3: the second use
    r.position = r.N + 2
    (c,) = r.adjoints["v-1"]
    assert c.value == pytest.approx(math.cos(2))
    table = one(r.widget, "adlab-adjoints").value
    assert "-0.416147" in table and "accumulating" in table
    r.step()
    table = one(r.widget, "adlab-adjoints").value
    assert "-0.416147" in table and "(from v1)" in table and "2.58385" in table
    # the prefix of the engine's own record, never recomputed
    full = r.trace.reverse(1.0).contributions
    assert r.adjoints["v-1"] == full["v-1"]


def test_reverse_stepper_highlights_the_current_node_and_switches_modes():
    r = ReverseStepper(z_sin, 2.0, 3.0)
    for _ in range(r.n_steps):
        r.step()
        src = r.graph.source
        assert r.graph.highlight == r.current
        for name in r.names:
            line = node_line(src, name)
            assert ("penwidth=3" in line) == (name == r.current)
            assert (COLORS["highlight"] in line) == (name == r.current)
        if r.phase == "forward":
            assert r.graph.mode == "value" and "adjoint" not in node_line(src, "v3")
        else:
            assert r.graph.mode == "adjoint"
    # during the reverse sweep, incomplete adjoints are marked
    r.position = r.N + 3  # v1 is current; v-1 has both contributions, not yet final
    assert "adjoint so far 2.58385" in node_line(r.graph.source, "v-1")


def test_reverse_stepper_buttons_play_and_status():
    r = ReverseStepper(z_sin, 2.0, 3.0)
    b = buttons(r.widget)
    assert {"Prev", "Next"} <= set(b)
    status = one(r.widget, "adlab-status")
    assert "step 0 of 11" in status.value
    assert b["Prev"].disabled
    b["Next"].click()
    b["Next"].click()
    b["Next"].click()
    assert r.position == 3 and r.current == "v1"
    assert "forward" in status.value and "step 3 of 11" in status.value
    assert "v1" in status.value and "mul(v-1, v0)" in status.value
    b["Prev"].click()
    assert r.position == 2 and "step 2 of 11" in status.value
    play = one(r.widget, "adlab-play")
    assert isinstance(play, W.Play) and play.max == r.n_steps
    play.value = 8  # what the Play widget does while animating
    assert r.position == 8 and r.phase == "reverse" and r.current == "v1"
    assert "reverse" in status.value and "step 8 of 11" in status.value
    assert "It pushes 3 to v-1, 2 to v0" in status.value
    assert one(r.widget, "adlab-step-slider").value == 8
    r.position = r.n_steps
    assert b["Next"].disabled and one(r.widget, "adlab-play").value == r.n_steps
    assert "done" in status.value and "∂f/∂x1 = 2.58385" in status.value
    b["Reset"].click()
    assert r.position == 0
    assert displays_as_widget(r)


def test_reverse_stepper_odd_positions():
    r = ReverseStepper(z_sin, 2.0, 3.0)
    for bad in (-1, r.n_steps + 1, 2.5, "x"):
        with pytest.raises(WidgetInputError):
            r.position = bad
    r.back()
    assert r.position == 0
    r._on_control({"new": 99})  # a bad value from the front end: a message, no raise
    assert "between 0 and" in one(r.widget, "adlab-message").value
    assert r.position == 0


def test_reverse_stepper_lists_what_is_stored():
    r = ReverseStepper(f_square, 1.0, 2.0, 3.0, 4.0)
    names = [name for name, _ in r.saved]
    assert names == ["v-3", "v-2", "v3"]  # x1, x2 and the difference c = a - b
    assert "v2" not in names               # the sum b = x3 + x4 is never read
    assert r.saved_count == 3 and r.saved_bytes == 24 == sum(nb for _, nb in r.saved)
    assert "v2" in r.not_stored and "v-1" in r.not_stored
    html = one(r.widget, "adlab-saved").value
    assert "v-3 (x1)" in html and "v-2 (x2)" in html and "v3: 8 bytes" in html
    assert "Not stored" in html and "v2" in html.split("Not stored")[1]
    r.position = r.n_steps
    c = 1 * 2 - (3 + 4)
    sums = r.adjoint_sums
    assert [sums[n] for n in ("v-3", "v-2", "v-1", "v0")] == pytest.approx(
        [2 * c * 2, 2 * c * 1, -2 * c, -2 * c])


def test_reverse_stepper_array_output_seed_and_unused_node():
    def g(x):
        _unused = ad.exp(x)  # recorded, but does not reach the output
        return x * 2.0

    r = ReverseStepper(g, np.array([1.0, 2.0]))
    r.position = r.n_steps
    assert np.allclose(r.adjoint_sums["v0"], [2.0, 2.0])
    r.position = r.N + 2  # the unused exp node: nothing to push
    assert r.current == "v1" and "does not influence" in one(r.widget, "adlab-status").value


# ---------------------------------------------------------------------------------
# CostExplorer and the work counter
# ---------------------------------------------------------------------------------

def test_cost_explorer_counts_passes_and_the_winner_flips():
    c = CostExplorer(n=12, m=3)
    r = c.result
    assert (r["n"], r["m"]) == (12, 3)
    assert r["forward"]["passes"] == 12 and r["forward"]["recordings"] == 0
    assert r["reverse"]["passes"] == 3 and r["reverse"]["recordings"] == 1
    assert r["agree"] and r["max_abs_diff"] < 1e-12 and r["shape"] == (3, 12)
    assert r["winner"] == "reverse" and r["reverse"]["ops"] < r["forward"]["ops"]
    assert r["forward"]["time"] > 0 and r["reverse"]["time"] > 0
    c.n, c.m = 3, 12  # swap: few inputs, many outputs
    r = c.result
    assert r["forward"]["passes"] == 3 and r["reverse"]["passes"] == 12
    assert r["winner"] == "forward" and r["agree"]
    html = one(c.widget, "adlab-cost").value
    assert "forward mode wins" in html and "3 JVPs" in html and "12 VJPs" in html
    assert "agree" in one(c.widget, "adlab-agree").value


def test_cost_explorer_sliders_drive_it():
    c = CostExplorer(n=2, m=2)
    one(c.widget, "adlab-n").value = 20
    assert c.n == 20 and c.result["forward"]["passes"] == 20
    one(c.widget, "adlab-m").value = 7
    assert c.m == 7 and c.result["reverse"]["passes"] == 7
    c.m = 25
    assert one(c.widget, "adlab-m").value == 25
    with pytest.raises(WidgetInputError):
        c.n = 0
    with pytest.raises(WidgetInputError):
        c.m = "many"
    assert displays_as_widget(c)


def test_cost_explorer_ops_grow_with_passes():
    c = CostExplorer(n=4, m=4)
    fwd4, rev4 = c.result["forward"]["ops"], c.result["reverse"]["ops"]
    c.n = 8
    assert c.result["forward"]["ops"] > fwd4
    c.m = 8
    assert c.result["reverse"]["ops"] > rev4
    # each sweep is a small constant times one run of f, never n^2
    r = c.result
    assert r["forward"]["ops"] <= 4 * r["f_ops"] * r["n"]


def test_count_work_counts_and_restores():
    prims = list(ops.REGISTRY.values())
    originals = [p.impl for p in prims]
    from adlab import forward, reverse

    jvp, vjp, sweep = forward.jvp, reverse.vjp, reverse.backward_sweep
    with count_work() as work:
        ad.jacfwd(lambda x: ad.sin(x) * x)(np.ones(3))
    assert work.forward_sweeps == 3 and work.recordings == 0 and work.primitive_calls > 0
    with pytest.raises(RuntimeError), count_work():
        raise RuntimeError("boom")
    assert [p.impl for p in prims] == originals
    assert (forward.jvp, reverse.vjp, reverse.backward_sweep) == (jvp, vjp, sweep)
    with count_work() as work:
        ad.grad(lambda x: ad.sum(ad.sin(x)))(np.ones(3))
    assert work.recordings == 1 and work.reverse_sweeps == 1


# ---------------------------------------------------------------------------------
# TrainingMonitor
# ---------------------------------------------------------------------------------

def test_training_monitor_history_progress_and_plot():
    mon = TrainingMonitor(total=20, title="toy")
    for step in range(20):
        mon.update(step, 1.0 / (step + 1), accuracy=step / 20)
    assert len(mon.history) == 20
    assert mon.history[0]["step"] == 0 and mon.history[-1]["loss"] == pytest.approx(0.05)
    assert mon.history[-1]["accuracy"] == pytest.approx(0.95)
    progress = one(mon.widget, "adlab-progress")
    assert progress.max == 20 and progress.value == 20
    assert "step 20 of 20" in one(mon.widget, "adlab-training-status").value
    png = one(mon.widget, "adlab-plot").value
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # redrawn at most every 0.2 s: 20 quick updates do not draw 20 times
    assert 1 <= mon.n_draws < 20
    mon.close()
    assert mon.closed and progress.bar_style == "success"
    assert displays_as_widget(mon)


def test_training_monitor_throttles_and_accepts_engine_values():
    mon = TrainingMonitor(total=None, min_interval=3600, every=10)
    for step in range(1, 31):
        mon.update(step, ad.Var(float(step)) * 0 + 1.0 / step)  # a Var loss is fine
    assert mon.n_draws == 4  # the first update, then every 10th (10, 20, 30)
    progress = one(mon.widget, "adlab-progress")
    assert progress.value == 30 == progress.max  # 1-based steps, no total
    with pytest.raises(WidgetInputError):
        mon.update(31, "low")
    mon.update(31, float("nan"))
    assert "diverged" in one(mon.widget, "adlab-training-status").value
    with TrainingMonitor(total=2) as m2:
        m2.update(1, 0.5)
    assert m2.closed


def test_training_monitor_draws_rarely_and_close_shows_the_end():
    mon = TrainingMonitor(min_interval=3600)
    for step in range(2000):
        mon.update(step, 1.0 / (step + 1))
    assert mon.n_draws == 1  # only the first update drew: the plot never slows training
    mon.close()
    assert one(mon.widget, "adlab-progress").value == 2000
    assert "step 2000 ·" in one(mon.widget, "adlab-training-status").value
    assert mon.n_draws == 2


def test_reverse_stepper_says_which_rule_reads_a_stored_value_and_why_others_are_not():
    # the curriculum's (x1 x2 - (x3 + x4))^2: c and the product's inputs are stored, the
    # sum and its inputs are not (issue 14: step through it and see why)
    def gap(x1, x2, x3, x4):
        return (x1 * x2 - (x3 + x4)) ** 2

    s = ReverseStepper(gap, 1.5, -2.0, 0.5, 3.0)
    assert s.trace.readers() == {"v-3": ["v1"], "v-2": ["v1"], "v3": ["v4"]}
    assert s.trace.saved() == ["v-3", "v-2", "v3"]
    text = {}
    for _ in range(8):  # the forward sweep, one node a step
        s.step()
        text[s.current] = re.sub("<[^>]+>", "", s.status_text())
    assert "Stored: the reverse rule of v4 = pow(v3, 2)" in text["v3"]
    assert "Stored: the reverse rule of v1 = mul(v-3, v-2)" in text["v-3"]
    for name in ("v-1", "v0"):  # x3 and x4 feed only the sum
        assert "Not stored" in text[name] and "add(v-1, v0): its partials are constants" in (
            text[name])
    assert "sub(v1, v2): its partials are constants" in text["v2"]
    exp = ReverseStepper(lambda x: ad.exp(x) * 2.0, 1.0)
    exp.step()
    assert "reads its own result instead" in re.sub("<[^>]+>", "", exp.status_text())
