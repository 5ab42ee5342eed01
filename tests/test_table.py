"""Trace tables: formulas derived from the registry's rules, numbers from the sweeps."""

import math

import numpy as np
import pytest

import adlab as ad
from adlab.table import adjoint_formula, partial_formula, primal_formula, tangent_formula


def literature(x1, x2):
    # the classic example of the AD literature: ln(x1) + x1 x2 - sin(x2), step by step
    v1 = ad.log(x1)
    v2 = x1 * x2
    v3 = ad.sin(x2)
    return (v1 + v2) - v3


@pytest.fixture
def table():
    return ad.trace(literature, 2.0, 5.0).table(seed=(1.0, 0.0))


def test_primal_rows_read_like_the_literature(table):
    assert [r.text() for r in table.primal] == [
        "v-1 = x1", "v0 = x2", "v1 = log(v-1)", "v2 = v-1 * v0", "v3 = sin(v0)",
        "v4 = v1 + v2", "v5 = v4 - v3"]
    assert table.primal[-1].value == pytest.approx(math.log(2) + 10 - math.sin(5))


def test_tangent_rows_are_the_jvp_rules(table):
    texts = {r.lhs: r.formula for r in table.tangent}
    assert texts["v2_dot"] == "v-1_dot * v0 + v-1 * v0_dot"
    assert texts["v1_dot"] == "v-1_dot / v-1"
    assert texts["v3_dot"] == "v0_dot * cos(v0)"
    assert texts["v5_dot"] == "v4_dot - v3_dot"
    assert texts["v-1_dot"] == "x1_dot (seed)"
    assert table.tangent[-1].value == pytest.approx(1 / 2 + 5)


def test_adjoint_rows_follow_the_sweep_and_sum_to_the_gradient(table):
    texts = [r.text() for r in table.adjoint]
    assert texts[0] == "v5_bar = seed"
    assert "v0_bar += v2_bar * v-1" in texts
    assert "v-1_bar += v2_bar * v0" in texts
    assert "v-1_bar += v1_bar / v-1" in texts
    assert "v3_bar += -v5_bar" in texts
    # rows appear in reverse evaluation order of their sources
    assert texts.index("v3_bar += -v5_bar") < texts.index("v0_bar += v3_bar * cos(v0)")
    total = {}
    for r in table.adjoint[1:]:
        total[r.lhs] = total.get(r.lhs, 0.0) + r.value
    assert total["v-1_bar"] == pytest.approx(5.5)
    assert total["v0_bar"] == pytest.approx(2 - math.cos(5))


def test_plain_text_and_html_forms(table):
    text = str(table)
    assert "forward primal trace" in text and "reverse adjoint trace, seed 1" in text
    assert "v2 = v-1 * v0" in text.replace("  ", " ").replace("  ", " ")
    assert str(table) == str(ad.trace(literature, 2.0, 5.0).table(seed=(1.0, 0.0)))
    page = table._repr_html_()
    assert page.startswith('<table class="adlab-table">') and "v0_bar += v2_bar * v-1" in page
    assert "<script" not in page


def test_a_trace_shows_its_table_in_a_notebook():
    t = ad.trace(lambda x1, x2: x1 * x2 + ad.sin(x1), 2.0, 3.0)
    page = t._repr_html_()
    assert "v1 = v-1 * v0" in page and "2.58385" in page
    assert "<svg" in page or "graphviz" in page  # the drawing, or how to get it
    long = ad.trace(lambda x: _chain(x, 300), 1.0)
    assert "Too long" in long._repr_html_() and "<table" not in long._repr_html_()


def _chain(x, n):
    for _ in range(n):
        x = x * 1.01
    return x


def test_formulas_for_array_operations():
    w = np.ones((3, 2))
    t = ad.trace(lambda x, b: ad.sum(ad.tanh(x @ w + b)), np.ones((4, 3)), np.zeros(2))
    rows = {r.text() for r in t.table(tangent=False).adjoint}
    assert "v0_bar += sum(v2_bar, axis=(0,))" in rows  # the bias's broadcast, undone
    assert "v2_bar += v3_bar * (1 - v3 * v3)" in rows  # tanh reads its own output
    assert "v-1_bar += v1_bar @ c[2, 3]" in rows  # the transposed constant weight


def test_helpers_on_single_nodes():
    t = ad.trace(lambda x: ad.exp(ad.sin(x)) * x, 0.5)
    v1, v2, v3 = t["v1"], t["v2"], t["v3"]
    assert primal_formula(v2) == "exp(v1)"
    assert tangent_formula(v2) == "v1_dot * v2"
    assert adjoint_formula(v1, 0) == "v1_bar * cos(v0)"
    assert partial_formula(v1, 0) == "cos(v0)"
    assert partial_formula(v3, 1) == "v2"


def test_a_variable_used_twice_gets_two_rows():
    t = ad.trace(lambda x: x * x, 3.0)
    rows = [r for r in t.table().adjoint if r.lhs == "v0_bar"]
    assert [r.formula for r in rows] == ["v1_bar * v0", "v1_bar * v0"]
    assert sum(r.value for r in rows) == 6.0


def test_adjoint_rows_show_the_increment_and_the_running_total():
    # z = x1 x2 + sin x1 at (2, 3): x1's adjoint gets -0.416147 through the sine, then 3
    # through the product; its last row must show the final 2.583853 (issue 14)
    t = ad.trace(lambda x1, x2: x1 * x2 + ad.sin(x1), 2.0, 3.0)
    rows = t.table(tangent=False).adjoint
    x1 = [r for r in rows if r.lhs == "v-1_bar"]
    assert [round(r.value, 6) for r in x1] == [round(np.cos(2.0), 6), 3.0]
    assert [round(r.total, 6) for r in x1] == [round(np.cos(2.0), 6), round(3 + np.cos(2.0), 6)]
    final = t.reverse()
    for name in ("v-1", "v0", "v1", "v2"):
        last = [r for r in rows if r.lhs == f"{name}_bar"][-1]
        assert np.isclose(last.total, final[name])
    assert "v-1_bar = 2.58385" in str(t.table(tangent=False))
    html = t.table()._repr_html_()
    assert "adjoint so far" in html and "v-1_bar = 2.58385" in html
