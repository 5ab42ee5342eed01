"""CheckpointExplorer, driven through its attributes and its controls (no browser)."""

from __future__ import annotations

import pytest

from adlab.memory import checkpoint_peak
from adlab.widgets import CheckpointExplorer, WidgetInputError, widgets_with_class


def one(root, css_class):
    found = widgets_with_class(root, css_class)
    assert len(found) == 1, f"{len(found)} widgets with class {css_class}"
    return found[0]


@pytest.fixture(scope="module")
def explorer():
    return CheckpointExplorer(L=24, m=12, k=12, placement="input", repeats=1)


def test_the_placement_changes_the_measured_peak_as_the_model_says(explorer):
    e = explorer
    e.set(m=12, k=12, placement="input")
    low = e.result
    assert low["model_peak"] == checkpoint_peak(24, 12, 12, "input", per_layer=2) == 25
    assert low["model_values"] == 13  # max(12 + 1, 1 + 12)
    assert low["identical"] and low["recomputed_layers"] == 12
    assert low["model_peak"] <= low["peak_activations"] <= low["model_peak"] + 10
    e.placement = "output"
    high = e.result
    assert high["model_peak"] == 24 + 1 + 24 and high["identical"]
    assert high["peak_activations"] > low["peak_activations"] + 15
    # the rules read the 12 plain outputs either way (and, at the output end, the loss
    # reads the segment's output): what differs is what the reverse sweep recomputes
    # while they are alive
    A = e.activation_bytes
    assert (low["stored_bytes"], high["stored_bytes"]) == (12 * A, 13 * A)
    # recomputation is work: one more run of 12 layers (a matmul and a tanh each)
    assert high["operations"] - high["plain_operations"] == 24
    html = one(e.widget, "adlab-memory").value
    assert "measured peak" in html and "identical to" in html
    assert "at the output end" in one(e.widget, "adlab-chain").value


def test_controls_drive_it_and_k_follows_m(explorer):
    e = explorer
    e.set(m=12, k=12, placement="input")
    one(e.widget, "adlab-m").value = 6  # k = 12 no longer fits: it is lowered to m
    assert (e.m, e.k) == (6, 6) and one(e.widget, "adlab-k").max == 6
    one(e.widget, "adlab-k").value = 4
    assert e.k == 4 and e.result["segments"] == [4, 2]
    one(e.widget, "adlab-placement").value = "output"
    assert e.placement == "output" and e.result["placement"] == "output"
    e.m = 0
    assert e.result["model_peak"] == 48 and one(e.widget, "adlab-k").disabled
    assert e.result["operations"] == e.result["plain_operations"]


def test_bad_input_raises_from_code_and_shows_a_message_from_a_control(explorer):
    e = explorer
    e.set(m=12, k=3, placement="input")
    with pytest.raises(WidgetInputError, match="from 0 to 24"):
        e.m = 30
    with pytest.raises(WidgetInputError, match="segment length"):
        e.k = 13
    with pytest.raises(WidgetInputError, match="'input' or 'output'"):
        e.placement = "middle"
    with pytest.raises(WidgetInputError, match="whole number"):
        e.k = "four"
    assert (e.m, e.k, e.placement) == (12, 3, "input")  # unchanged by refusals
    e._from_control("placement", "middle")              # as a front end would call it
    assert "placement must be" in one(e.widget, "adlab-message").value
    e.k = 4
    assert one(e.widget, "adlab-message").value == ""
    with pytest.raises(WidgetInputError):
        CheckpointExplorer(L=0)
