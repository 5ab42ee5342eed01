"""ReverseSeedExplorer: reverse mode's seed belongs to the outputs and picks rows of the
Jacobian (issue 14), driven through its attributes and ipywidgets models."""

from __future__ import annotations

import ipywidgets as W
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import adlab as ad
from adlab.widgets import ReverseSeedExplorer, WidgetInputError, widgets_with_class


def r2_to_r3(x1, x2):
    return ad.stack([x1 * x2, ad.sin(x1), x1 + x2 ** 2])


J = np.array([[3.0, 2.0], [np.cos(2.0), 0.0], [1.0, 6.0]])  # at (2, 3)


def one(widget, css):
    (found,) = widgets_with_class(widget, css)
    return found


def test_one_hot_seeds_pick_the_rows_of_the_jacobian():
    r = ReverseSeedExplorer(r2_to_r3, 2.0, 3.0)
    assert r.seed == (1.0, 0.0, 0.0) and r.kind == "row"
    assert np.allclose(r.jacobian, J)
    assert np.allclose(r.jacobian, ad.jacrev(lambda x: r2_to_r3(x[0], x[1]))(np.array([2., 3.])))
    for i in range(3):
        r.seed = tuple(1.0 if k == i else 0.0 for k in range(3))
        assert np.allclose(r.row, J[i])
        text = one(r.widget, "adlab-row").value
        assert f"row {i + 1} of the Jacobian" in text and f"∇y{i + 1}" in text


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(-3, 3), min_size=3, max_size=3))
def test_any_seed_gives_the_weighted_sum_of_rows(seed):
    r = ReverseSeedExplorer(r2_to_r3, 2.0, 3.0)
    r.seed = seed
    assert np.allclose(r.row, np.array(seed) @ J)
    # every node's adjoint is the trace's reverse sweep from that seed
    expected = r.trace.reverse(np.array(seed))
    assert all(np.allclose(r.adjoints[name], expected[name]) for name in expected)


def test_a_combination_is_explained_and_marked_in_the_jacobian():
    r = ReverseSeedExplorer(r2_to_r3, 2.0, 3.0)
    r.seed = (1.0, 0.0, 2.0)
    assert r.kind == "combination" and np.allclose(r.row, J[0] + 2 * J[2])
    text = one(r.widget, "adlab-row").value
    assert "weighted sum of the Jacobian" in text and "1·∇y1 + 2·∇y3" in text
    table = one(r.widget, "adlab-jacobian").value
    assert "× 2" in table and "ȳᵀJ" in table
    assert "<svg" in one(r.widget, "adlab-graph").value


def test_boxes_and_presets_drive_the_seed():
    r = ReverseSeedExplorer(r2_to_r3, 2.0, 3.0)
    boxes = widgets_with_class(r.widget, "adlab-out-seed")
    assert len(boxes) == 3 and all(isinstance(b, W.FloatText) for b in boxes)
    boxes[0].value = 0.0
    boxes[2].value = 1.0
    assert r.seed == (0.0, 0.0, 1.0) and np.allclose(r.row, J[2])
    presets = {b.description: b for b in widgets_with_class(r.widget, "adlab-preset")}
    presets["seed y2"].click()
    assert r.seed == (0.0, 1.0, 0.0) and [b.value for b in boxes] == [0.0, 1.0, 0.0]


def test_a_scalar_output_gives_its_gradient():
    r = ReverseSeedExplorer(lambda x1, x2: x1 * x2 + ad.sin(x1), 2.0, 3.0)
    assert r.seed == (1.0,) and np.allclose(r.row, (3 + np.cos(2.0), 2.0))
    assert "the gradient" in one(r.widget, "adlab-row").value
    r.seed = 2.0
    assert np.allclose(r.row, (2 * (3 + np.cos(2.0)), 4.0))


def test_bad_input_says_what_to_do():
    r = ReverseSeedExplorer(r2_to_r3, 2.0, 3.0)
    with pytest.raises(WidgetInputError, match="one number per output"):
        r.seed = (1.0, 0.0)  # an input-sized seed: the classic mix-up
    with pytest.raises(WidgetInputError, match="finite"):
        r.seed = (1.0, float("nan"), 0.0)
    with pytest.raises(WidgetInputError, match="must be numbers"):
        r.seed = "1, 0, 0"
    boxes = widgets_with_class(r.widget, "adlab-out-seed")
    boxes[1].value = float("inf")  # in the front end: a message, never a traceback
    assert "finite" in one(r.widget, "adlab-message").value
    with pytest.raises(WidgetInputError, match="1-D array"):
        ReverseSeedExplorer(lambda x: ad.stack([ad.stack([x, x])]), 1.0)
    with pytest.raises(WidgetInputError, match="shape"):
        ReverseSeedExplorer(lambda v: ad.sum(v), np.ones(2))
