"""Graphs of traces: what the DOT source says, that it renders, and life without `dot`."""

from __future__ import annotations

import math
import re

import graphviz
import numpy as np
import pytest

import adlab as ad
from adlab import fmt
from adlab.draw import COLORS, INSTALL_HINT, Graph, draw, local_partial


def z_sin(x1, x2):
    return x1 * x2 + ad.sin(x1)


def f_square(x1, x2, x3, x4):
    return (x1 * x2 - (x3 + x4)) ** 2


@pytest.fixture
def t():
    return ad.trace(z_sin, 2.0, 3.0)


def node_line(source: str, name: str) -> str:
    """The DOT statement that declares node ``name``."""
    pattern = re.compile(rf'^\s*"?{re.escape(name)}"? \[label=', re.M)
    lines = [ln for ln in source.splitlines() if pattern.match(ln)]
    assert len(lines) == 1, f"node {name} declared {len(lines)} times in\n{source}"
    return lines[0]


def edge_lines(source: str, a: str, b: str) -> list[str]:
    pattern = re.compile(rf'^\s*"?{re.escape(a)}"? -> "?{re.escape(b)}"?( |$)')
    return [ln for ln in source.splitlines() if pattern.match(ln)]


# ---------------------------------------------------------------------------------
# What the picture says
# ---------------------------------------------------------------------------------

def test_value_mode_shows_every_node_with_operation_and_value(t):
    g = draw(t)
    assert isinstance(g, Graph) and isinstance(g, graphviz.Digraph)
    src = g.source
    expected = {
        "v-1": ("x1", "value 2"), "v0": ("x2", "value 3"), "v1": ("mul(v-1, v0)", "value 6"),
        "v2": ("sin(v-1)", "value 0.909297"), "v3": ("add(v1, v2)", "value 6.9093"),
    }
    for name, (op, value) in expected.items():
        line = node_line(src, name)
        assert f"<B>{name}</B> = {op}" in line
        assert value in line
    # one edge per argument: v-1 feeds both v1 and v2 (a DAG, not a tree)
    assert len(edge_lines(src, "v-1", "v1")) == 1
    assert len(edge_lines(src, "v-1", "v2")) == 1
    assert len(edge_lines(src, "v0", "v1")) == 1
    assert len(edge_lines(src, "v1", "v3")) == len(edge_lines(src, "v2", "v3")) == 1


def test_numbers_have_six_significant_digits():
    assert fmt.compact(6.909297426825682) == "6.9093"
    assert fmt.compact(2.5838531634528574) == "2.58385"
    assert fmt.compact(np.float64(-0.4161468365471424)) == "-0.416147"
    assert fmt.compact(np.array([1.0, 2.0, 3.0])) == "f64[3] [1, 2, 3]"
    assert fmt.compact(np.zeros((4, 3))) == "f64[4, 3]"  # more than 6 entries: shape only


def test_tangent_mode_shows_the_engines_tangents(t):
    src = draw(t, mode="tangent").source  # default seed: one-hot on the first input
    assert "tangent 2.58385" in node_line(src, "v3")
    assert "tangent 1" in node_line(src, "v-1") and "tangent 0" in node_line(src, "v0")
    assert "tangent 3" in node_line(src, "v1")
    assert "tangent -0.416147" in node_line(src, "v2")
    src = draw(t, mode="tangent", seed=(0, 1)).source
    assert "tangent 2<" in node_line(src, "v3")
    tangents = t.forward((0.6, 0.8))
    src = draw(t, mode="tangent", seed=(0.6, 0.8)).source
    assert f"tangent {fmt.compact(tangents['v3'])}" in node_line(src, "v3")
    assert fmt.compact(tangents["v3"]) == fmt.compact(0.6 * (3 + math.cos(2)) + 0.8 * 2)
    assert "seed (0.6, 0.8)" in src


def test_adjoint_mode_shows_the_engines_adjoints(t):
    src = draw(t, mode="adjoint").source
    assert "adjoint 2.58385" in node_line(src, "v-1")
    assert "adjoint 2<" in node_line(src, "v0")
    for name in ("v1", "v2", "v3"):
        assert "adjoint 1<" in node_line(src, name)
    src = draw(t, mode="adjoint", seed=2.0).source
    assert "adjoint 5.16771" in node_line(src, "v-1")


def test_value_mode_has_no_tangents_or_adjoints(t):
    src = draw(t).source
    assert "tangent" not in src and "adjoint" not in src


def test_stored_marks_match_trace_saved_exactly():
    t = ad.trace(f_square, 1.0, 2.0, 3.0, 4.0)
    saved = set(t.saved())
    assert saved == {"v-3", "v-2", "v3"}  # x1, x2 and the difference; not the sum v2
    src = draw(t).source
    for node in t.nodes:
        line = node_line(src, node.name)
        if node.name in saved:
            assert "<B>stored</B>" in line and "not stored" not in line
            assert "filled" in line and COLORS["stored_fill"] in line
        else:
            assert "not stored" in line and "<B>stored</B>" not in line
            assert "dashed" in line and COLORS["stored_fill"] not in line
            assert COLORS["node_fill"] in line  # a light card, like every node
    legend = draw(t).graph_attr["label"]  # below the graph, with the caption
    assert "value kept for the reverse sweep" in legend and "not stored" in legend
    assert draw(t).saved == ("v-3", "v-2", "v3")


def test_show_saved_false_drops_the_marks(t):
    g = draw(t, show_saved=False)
    assert "stored" not in g.source and "dashed" not in g.source
    assert "z_sin(x1=2, x2=3): values" in g.graph_attr["label"]  # the caption stays


def test_highlight_outlines_exactly_one_node(t):
    src = draw(t, highlight="v2").source
    for node in t.nodes:
        line = node_line(src, node.name)
        if node.name == "v2":
            assert "penwidth=3" in line and COLORS["highlight"] in line
        else:
            assert "penwidth=3" not in line and COLORS["highlight"] not in line
    assert "current step" in src
    with pytest.raises(ValueError, match="not a node"):
        draw(t, highlight="v9")


def test_bad_mode_is_a_clear_error(t):
    with pytest.raises(ValueError, match="mode must be one of"):
        draw(t, mode="backward")


def test_partials_on_edges_come_from_the_jvp_rules(t):
    src = draw(t, partials=True).source
    assert 'label="∂v1/∂v-1 = 3"' in edge_lines(src, "v-1", "v1")[0]
    assert 'label="∂v1/∂v0 = 2"' in edge_lines(src, "v0", "v1")[0]
    assert 'label="∂v2/∂v-1 = -0.416147"' in edge_lines(src, "v-1", "v2")[0]
    assert 'label="∂v3/∂v1 = 1"' in edge_lines(src, "v1", "v3")[0]
    assert "label=" not in edge_lines(draw(t).source, "v-1", "v1")[0]


def test_partials_of_linear_and_constant_operations():
    t = ad.trace(f_square, 1.0, 2.0, 3.0, 4.0)
    src = draw(t, partials=True).source
    assert "∂v2/∂v-1 = 1" in src and "∂v2/∂v0 = 1" in src      # add
    assert "∂v3/∂v1 = 1" in src and "∂v3/∂v2 = -1" in src      # sub
    assert "∂v4/∂v3 = -10" in src                              # pow: 2c, c = -5
    assert "pow(v3, 2)" in node_line(src, "v4")                # the constant, inline


def test_local_partials_agree_with_forward_mode(t):
    # chain rule over the edges must give the tangents forward mode computes
    tangents = t.forward((1.0, 0.0))
    for node in t.nodes[len(t.inputs):]:
        total = sum(local_partial(node, i) * tangents[a]
                    for i, a in enumerate(node.args) if a in node.inputs)
        assert total == pytest.approx(tangents[node.name])


def test_a_node_used_twice_gets_two_edges():
    t = ad.trace(lambda x: x * x, 3.0)
    src = draw(t, partials=True).source
    edges = edge_lines(src, "v0", "v1")
    assert len(edges) == 2 and all("= 3" in e for e in edges)


def test_step_by_step_views(t):
    src = draw(t, computed=["v-1", "v0"]).source
    assert "value 2" in node_line(src, "v-1")
    assert "not computed yet" in node_line(src, "v1")
    src = draw(t, mode="adjoint", adjoints={"v3": 1.0, "v1": 1.0}, final=["v3"]).source
    assert "adjoint 1<" in node_line(src, "v3")
    assert "adjoint so far 1" in node_line(src, "v1")
    assert "nothing yet" in node_line(src, "v-1")


def mlp(x, W1, b1, W2, b2):
    h = ad.tanh(x @ W1 + b1)
    return ad.mean(ad.sum((h @ W2 + b2) ** 2, axis=1))


def test_mlp_graph_has_one_node_per_layer_operation_with_shapes():
    rng = np.random.default_rng(0)
    args = (rng.normal(size=(4, 3)), rng.normal(size=(3, 5)), np.zeros(5),
            rng.normal(size=(5, 2)), np.array([0.5, -0.5]))
    t = ad.trace(mlp, *args)
    g = draw(t, mode="adjoint", partials=True)
    src = g.source
    node_lines = [ln for ln in src.splitlines() if re.match(r'^\s*"?v-?\d+"? \[label=', ln)]
    # 5 inputs and 8 operations: not one node per matrix entry
    assert len(node_lines) == len(t.nodes) == 13
    assert "f64[4, 3]" in node_line(src, "v-4")   # x
    assert "f64[3, 5]" in node_line(src, "v-3")   # W1
    assert "matmul(v-4, v-3)" in node_line(src, "v1")
    assert "f64[4, 5]" in node_line(src, "v1")
    assert "[0.5, -0.5]" in node_line(src, "v0")  # small arrays show their values
    # array edges: shapes only, no Jacobians of matrices
    assert "∂v1/∂v-4: [4, 3]→[4, 5]" in edge_lines(src, "v-4", "v1")[0]
    last = t.nodes[-1].name
    assert "value " + fmt.compact(t.value) in node_line(src, last)
    assert "adjoint 1<" in node_line(src, last)
    assert g.svg().startswith("<svg")


# ---------------------------------------------------------------------------------
# Display
# ---------------------------------------------------------------------------------

def test_svg_renders_and_displays(t):
    g = draw(t, mode="adjoint", partials=True, highlight="v1")
    svg = g.svg()
    assert svg.startswith("<svg") and "</svg>" in svg
    assert "v&#45;1" in svg and "2.58385" in svg  # SVG escapes the minus sign
    bundle = g._repr_mimebundle_()
    assert bundle["image/svg+xml"] == svg
    assert g._repr_svg_() == svg
    assert "<svg" in g.to_html()


def test_ipython_display_picks_the_svg(t):
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(draw(t))
    assert data["image/svg+xml"].startswith("<svg")
    # JupyterLab prefers the HTML: the same SVG inline, where CSS can size and colour it
    assert 'class="adlab-graph-svg"' in data["text/html"] and "<svg" in data["text/html"]


def test_html_fits_the_column_and_follows_the_theme(t):
    g = draw(t, mode="tangent", partials=True)
    page = g.to_html()
    width = float(re.search(r'<svg width="([\d.]+)pt"', g.svg()).group(1))
    # scaled down to the column's width (height follows), but never below 60 %
    style = re.search(r'<svg style="([^"]*)"', page).group(1)
    assert "max-width:100%" in style and "height:auto" in style
    assert f"min-width:{width * 0.6:.0f}pt" in style
    # the text and lines drawn on the page take JupyterLab's theme colours; the bare
    # SVG (an <img>, a file) falls back to dark ink on white
    assert "--adlab-graph-ink:var(--jp-content-font-color1" in page
    assert "--adlab-graph-bg:transparent" in page
    assert "var(--adlab-graph-ink,#222222)" in g.svg()
    assert "var(--adlab-graph-bg,#ffffff)" in g.svg()
    # and every node is filled, so its dark text reads on a dark page as well
    for node in t.nodes:
        assert "filled" in node_line(g.source, node.name)


def _assert_fallback(g: Graph, bundle: dict) -> None:
    text = bundle["text/plain"]
    page = bundle["text/html"]
    assert "image/svg+xml" not in bundle
    for hint in ("apt-get install graphviz", "make lab", "https://graphviz.org/download/"):
        assert hint in text and hint in page
    assert g.source in text
    assert "digraph adlab {" in page and "mul(v-1, v0)" in page  # the DOT source
    assert "&lt;TABLE" in page  # escaped: shown as text, not interpreted


def test_missing_dot_on_path_shows_source_and_install_hint(t, monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no `dot` anywhere
    g = draw(t, mode="adjoint", partials=True)
    with pytest.raises(graphviz.ExecutableNotFound):
        g.pipe(format="svg")  # the condition really is simulated
    _assert_fallback(g, g._repr_mimebundle_())
    assert g._repr_svg_() is None
    assert "apt-get install graphviz" in g.to_html()
    from IPython.core.formatters import DisplayFormatter

    data, _ = DisplayFormatter().format(g)  # what display(g) does: no traceback
    assert "apt-get install graphviz" in data["text/html"]


def test_missing_dot_via_a_failing_renderer(t, monkeypatch):
    def missing(*args, **kwargs):
        raise graphviz.ExecutableNotFound(("dot", "-Tsvg"))

    monkeypatch.setattr(graphviz.Digraph, "pipe", missing)
    g = draw(t)
    _assert_fallback(g, g._repr_mimebundle_())
    assert INSTALL_HINT in g.fallback_text()


def test_dot_that_fails_shows_its_error_not_a_traceback(t, monkeypatch):
    def broken(*args, **kwargs):
        raise graphviz.CalledProcessError(1, ["dot"], stderr=b"syntax error in line 3")

    monkeypatch.setattr(graphviz.Digraph, "pipe", broken)
    g = draw(t)
    bundle = g._repr_mimebundle_()
    assert "syntax error in line 3" in bundle["text/html"]
    assert "digraph adlab {" in bundle["text/plain"]
    assert "syntax error" in g.to_html()


def test_huge_traces_are_refused_with_advice():
    def loop(x):
        for _ in range(50):
            x = ad.sin(x)
        return x

    t = ad.trace(loop, 1.0)
    with pytest.raises(ValueError, match="max_nodes"):
        draw(t, max_nodes=20)
    assert len(draw(t).source) > 0  # 51 nodes: within the default limit
