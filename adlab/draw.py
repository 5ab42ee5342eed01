r"""Pictures of an evaluation trace: the computational graph, with numbers on it.

``draw(trace)`` turns a :class:`adlab.Trace` into a Graphviz graph: one node per step
``v_k = op(...)`` showing its value, and one edge per argument. Everything on the
picture is read from the trace, nothing is recomputed here:

* ``mode="tangent"``: each node's tangent :math:`\dot v_k` for an input seed, from
  ``trace.forward(seed)`` (forward mode);
* ``mode="adjoint"``: each node's adjoint :math:`\bar v_k = \partial y/\partial v_k`
  for an output seed, from ``trace.reverse(seed)`` (reverse mode);
* ``partials=True``: each edge :math:`v_i \to v_k` carries the local partial
  :math:`\partial v_k/\partial v_i`, from the primitive's own JVP rule with a unit
  tangent (array edges show shapes only: a Jacobian of a matrix product would not fit);
* nodes whose values reverse mode must keep (``trace.saved()``) are filled yellow and
  tagged "stored"; the others have a dashed border and say "not stored";
* below the graph, a caption says what the numbers are, and a legend explains the
  marks (below rather than beside it: the picture has to fit a notebook column).

In JupyterLab the picture shrinks to the width of its column and follows the theme:
nodes are light cards with dark text, and what is drawn on the page itself (caption,
legend, edges and their labels) takes the theme's text colour (see ``Graph.to_html``).

>>> import adlab as ad
>>> t = ad.trace(lambda x1, x2: x1 * x2 + ad.sin(x1), 2.0, 3.0)
>>> g = draw(t, mode="adjoint", partials=True)   # shows as SVG in JupyterLab
>>> "2.58385" in g.source                        # the adjoint of x1
True

Without Graphviz's ``dot`` program the graph still displays: as its DOT source and a
note on how to install Graphviz.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

import graphviz
import numpy as np

from adlab import fmt
from adlab.core import raw

__all__ = ["draw", "Graph", "node_expression", "local_partial", "COLORS", "INSTALL_HINT"]

# One palette for the graphs and the widgets (adlab.widgets reads it too). Node text
# sits on a light fill in every theme (white, or stored_fill), so these text colours
# keep a contrast of at least 4 to 1 against both fills.
COLORS = {
    "value": "#222222",
    "tangent": "#1c64b4",      # forward mode: blue
    "adjoint": "#c0392b",      # reverse mode: red
    "node_fill": "#ffffff",    # every node is a light card, readable on a dark page too
    "stored_fill": "#fff1b8",  # kept from the forward sweep for the reverse sweep
    "stored_border": "#8a6d00",
    "not_stored": "#707070",
    "input_border": "#2e7d32",
    "highlight": "#ef6c00",    # the current step
    "muted": "#757575",
    "edge": "#555555",
}

# The picture's own stylesheet, inside the SVG. Text drawn on the page itself (the
# caption, the legend, edge labels) and the edges take their colours from CSS custom
# properties: inside JupyterLab (see Graph.to_html) those follow the theme, so they are
# light on a dark page; anywhere else (an <img>, a file, another front end) the
# fallbacks draw dark ink on white. Node text has explicit colours on light fills.
_SVG_STYLE = (
    "<style>"
    "g.adlab-graph{fill:var(--adlab-graph-ink,#222222)}"
    "g.adlab-graph>polygon:first-of-type{fill:var(--adlab-graph-bg,#ffffff)}"
    "g.adlab-graph g.edge path{stroke:var(--adlab-graph-line,#555555)}"
    "g.adlab-graph g.edge polygon{fill:var(--adlab-graph-line,#555555);"
    "stroke:var(--adlab-graph-line,#555555)}"
    "</style>"
)

# How to_html() shows the SVG: scaled down to the width of its column (never below
# _MIN_SCALE of its natural size: past that, the box scrolls sideways instead, as text
# smaller than that is unreadable), with the theme's colours for what is drawn on the
# page. The variables fall back to light-theme values outside JupyterLab.
_MIN_SCALE = 0.6
_HTML_VARS = (
    "--adlab-graph-bg:transparent;"
    "--adlab-graph-ink:var(--jp-content-font-color1,#222222);"
    "--adlab-graph-line:var(--jp-content-font-color2,#555555)"
)

INSTALL_HINT = (
    "Graphviz's 'dot' program is not installed, so the graph is shown as its DOT source. "
    "Install it with 'sudo apt-get install graphviz' (Debian/Ubuntu; 'make lab' does it "
    "for you), or see https://graphviz.org/download/, then run the cell again."
)

_MODES = ("value", "tangent", "adjoint")
def _is_scalar(x) -> bool:
    return np.ndim(raw(x)) == 0


# ---------------------------------------------------------------------------------
# Local partials, read from the engine's JVP rules
# ---------------------------------------------------------------------------------

def local_partial(node, i: int) -> Any:
    r"""The local partial :math:`\partial v_k/\partial v_i` of ``node`` in argument ``i``.

    It is the primitive's JVP rule applied to a unit tangent: :math:`\dot v_k` when
    :math:`\dot v_i = 1` and every other tangent is 0. Only meaningful for scalar
    arguments of scalar nodes.
    """
    v = node.var
    return raw(v._prim.jvp_term(i, 1.0, v.value, v._args, v._params))


# ---------------------------------------------------------------------------------
# The graph object
# ---------------------------------------------------------------------------------

class Graph(graphviz.Digraph):
    """A ``graphviz.Digraph`` of a trace that displays itself in JupyterLab.

    It renders as inline SVG in HTML (``_repr_mimebundle_``: JupyterLab shows that one,
    scaled to the column and in the theme's colours) and as plain SVG (``image/svg+xml``,
    ``_repr_svg_``, for other front ends). Where Graphviz's ``dot`` program is missing
    it shows the DOT source and how to install Graphviz instead of raising. ``svg()``
    returns the SVG text (raises if ``dot`` is missing); ``to_html()`` always returns
    something to put in a page.
    """

    trace = None          # the Trace drawn
    mode = "value"        # "value", "tangent" or "adjoint"
    seed = None           # the seed used in tangent/adjoint mode
    saved = ()            # names marked "stored"
    highlight = None      # the highlighted node's name, if any

    _svg_cache: tuple[str, str] | None = None

    def svg(self) -> str:
        """The rendered SVG (without the XML prolog, ready to inline in HTML), with its
        stylesheet (light-theme colours unless the page defines the ``--adlab-graph-*``
        properties, as :meth:`to_html` does)."""
        source = self.source
        if self._svg_cache is None or self._svg_cache[0] != source:
            text = self.pipe(format="svg", encoding="utf-8")
            start = text.find("<svg")
            text = text[start:] if start >= 0 else text
            end = text.find(">") + 1  # after the opening <svg ...> tag
            if text.startswith("<svg") and end > 0:
                text = text[:end] + _SVG_STYLE + text[end:]
            self._svg_cache = (source, text)
        return self._svg_cache[1]

    def fallback_text(self, reason: str | None = None) -> str:
        """The install hint (or ``reason``) and the DOT source, as plain text."""
        return f"{reason or INSTALL_HINT}\n\n{self.source}"

    def fallback_html(self, reason: str | None = None) -> str:
        """The install hint (or ``reason``) and the DOT source, as HTML."""
        return (
            '<div class="adlab-graph-fallback">'
            f'<p style="color:{COLORS["adjoint"]}"><b>No picture:</b> '
            f"{html.escape(reason or INSTALL_HINT)}</p>"
            '<pre style="font-size:11px; max-height:24em; overflow:auto; padding:6px; '
            'background:var(--jp-layout-color2,#f6f6f6); '
            'color:var(--jp-content-font-color1,#222222)">'
            f"{html.escape(self.source)}</pre></div>"
        )

    def _render_or_reason(self) -> tuple[str | None, str | None]:
        """``(svg, None)``, or ``(None, why not)`` when ``dot`` is missing or fails."""
        try:
            return self.svg(), None
        except graphviz.ExecutableNotFound:
            return None, INSTALL_HINT
        except graphviz.CalledProcessError as e:  # dot ran but rejected the graph
            err = e.stderr.decode(errors="replace") if isinstance(e.stderr, bytes) \
                else str(e.stderr or e)
            return None, f"Graphviz's dot could not lay out this graph: {err.strip()[:400]}"

    def to_html(self) -> str:
        """Inline SVG when ``dot`` works, otherwise :meth:`fallback_html` (never raises).

        The SVG shrinks to the width of its column (``max-width: 100%``, down to 60 %
        of its natural size; a wider picture scrolls sideways inside its box) and takes
        the JupyterLab theme's colours for the text and lines drawn on the page.
        """
        svg, reason = self._render_or_reason()
        if svg is None:
            return self.fallback_html(reason)
        return (f'<div class="adlab-graph-svg" style="max-width:100%;overflow-x:auto;'
                f'{_HTML_VARS}">{_responsive(svg)}</div>')

    # rich display in Jupyter ------------------------------------------------------

    def _repr_mimebundle_(self, include=None, exclude=None, **_):
        svg, reason = self._render_or_reason()
        if svg is None:
            return {"text/html": self.fallback_html(reason),
                    "text/plain": self.fallback_text(reason)}
        # JupyterLab prefers the HTML (inline SVG: fits the column, follows the theme);
        # it shows image/svg+xml as an <img> at its natural width, which overflows a
        # narrow column. Other front ends and converters take the plain SVG.
        bundle = {"text/html": self.to_html(), "image/svg+xml": svg,
                  "text/plain": f"<adlab graph: {self.mode} mode>"}
        if include is not None:
            bundle = {k: v for k, v in bundle.items() if k in set(include)}
        if exclude is not None:
            bundle = {k: v for k, v in bundle.items() if k not in set(exclude)}
        return bundle

    def _repr_svg_(self):
        return self._render_or_reason()[0]

    def _repr_image_svg_xml(self) -> str:  # graphviz's own name for the same thing
        return self.svg()


def _responsive(svg: str) -> str:
    """``svg`` with an inline style that scales it down to its container's width."""
    m = re.match(r'<svg width="([\d.]+)pt"', svg)
    floor = f"min-width:{float(m.group(1)) * _MIN_SCALE:.0f}pt;" if m else ""
    return svg.replace("<svg", f'<svg style="max-width:100%;{floor}height:auto"', 1)


# ---------------------------------------------------------------------------------
# draw()
# ---------------------------------------------------------------------------------

def draw(trace, mode: str = "value", seed: Any = None, partials: bool = False,
         highlight: str | None = None, show_saved: bool = True, rankdir: str = "LR", *,
         computed: Collection[str] | None = None,
         adjoints: Mapping[str, Any] | None = None,
         final: Collection[str] | None = None, max_nodes: int | None = 400) -> Graph:
    r"""Draw an evaluation trace as a graph with its numbers.

    Parameters
    ----------
    trace:
        A :class:`adlab.Trace` (``ad.trace(f, *args)``).
    mode:
        ``"value"`` (each node: name, operation, value), ``"tangent"`` (also the
        tangent :math:`\dot v_k` for the input ``seed``, default one-hot on the first
        input, from ``trace.forward``) or ``"adjoint"`` (also the adjoint
        :math:`\bar v_k` for the output ``seed``, default 1, from ``trace.reverse``).
    seed:
        The seed for the tangent or adjoint mode (see above).
    partials:
        Label each edge :math:`v_i\to v_k` with the local partial
        :math:`\partial v_k/\partial v_i` (array-valued edges: the shapes only).
    highlight:
        Name of one node to outline (the widgets use it for the current step).
    show_saved:
        Mark the values reverse mode stores (filled, "stored") and the others (dashed,
        "not stored"), with a legend.
    rankdir:
        Graphviz layout direction: ``"LR"`` (inputs left) or ``"TB"`` (inputs on top).
    computed, adjoints, final:
        For step-by-step pictures (:class:`adlab.widgets.ReverseStepper`): only the
        nodes in ``computed`` show a value; in adjoint mode ``adjoints`` replaces the
        complete adjoints of ``trace.reverse`` with the sums accumulated so far, and
        nodes missing from ``final`` are tagged "so far".

    Example
    -------
    >>> t = ad.trace(lambda x1, x2: x1 * x2 + ad.sin(x1), 2.0, 3.0)  # doctest: +SKIP
    >>> draw(t, mode="tangent", seed=(1, 0))  # dz/dx1 = 2.58385 at v3  # doctest: +SKIP
    """
    if mode not in _MODES:
        raise ValueError(f"draw(): mode must be one of {', '.join(map(repr, _MODES))}, "
                         f"not {mode!r}.")
    names = [node.name for node in trace.nodes]
    if max_nodes is not None and len(names) > max_nodes:
        raise ValueError(
            f"draw(): this trace has {len(names)} nodes, more than max_nodes={max_nodes}; "
            "the picture would be unreadable and slow to lay out. Trace a smaller run "
            "(fewer loop iterations, arrays instead of scalar loops), print the trace as "
            "text, or pass max_nodes=None."
        )
    if highlight is not None and highlight not in names:
        raise ValueError(f"draw(): highlight={highlight!r} is not a node of this trace; "
                         f"its nodes are {', '.join(names)}.")

    tangents = None
    shown_adjoints: Mapping[str, Any] | None = None
    if mode == "tangent":
        if seed is None:
            seed = tuple(1.0 if k == 0 else 0.0 for k in range(len(trace.inputs)))
        tangents = trace.forward(seed)
        seed = tangents.seed
    elif mode == "adjoint":
        if seed is None and trace.output is not None:
            shape = np.shape(trace[trace.output].value)
            seed = 1.0 if shape == () else np.ones(shape)
        if adjoints is None:
            shown_adjoints = trace.reverse(1.0 if seed is None else seed)
        else:
            shown_adjoints = adjoints

    saved = set(trace.saved()) if show_saved else set()
    computed = None if computed is None else set(computed)
    final = None if final is None else set(final)

    # the caption and the legend sit below the graph (the graph label), where they
    # make the picture taller rather than wider: it has to fit a notebook column
    g = Graph(name="adlab", graph_attr={
        "rankdir": rankdir, "fontname": "Helvetica", "fontsize": "12", "labelloc": "b",
        "labeljust": "l", "nodesep": "0.25", "ranksep": "0.45", "bgcolor": "white",
        "class": "adlab-graph",
    }, node_attr={"shape": "box", "fontname": "Helvetica", "fontsize": "11",
                  "margin": "0.08,0.04", "fontcolor": COLORS["value"]},
        edge_attr={"fontname": "Helvetica", "fontsize": "10", "color": COLORS["edge"],
                   "arrowsize": "0.7"})
    g.trace, g.mode, g.seed, g.highlight = trace, mode, seed, highlight
    g.saved = tuple(n for n in names if n in saved)

    for node in trace.nodes:
        rows = [_head_row(node)]
        known = computed is None or node.name in computed
        if known:
            rows += _value_rows("value", node.value, COLORS["value"])
        else:
            rows.append(_cell("value: not computed yet", COLORS["muted"], italic=True))
        if tangents is not None and known:
            rows += _value_rows("tangent", tangents.get(node.name), COLORS["tangent"])
        if shown_adjoints is not None:
            if node.name in shown_adjoints:
                label = "adjoint" if final is None or node.name in final else "adjoint so far"
                rows += _value_rows(label, shown_adjoints[node.name], COLORS["adjoint"])
            else:
                rows.append(_cell("adjoint: nothing yet", COLORS["muted"], italic=True))
        attrs = {"style": "rounded,filled", "fillcolor": COLORS["node_fill"],
                 "color": COLORS["value"], "penwidth": "1"}
        if node.op == "input":
            attrs["color"] = COLORS["input_border"]
        if show_saved:
            if node.name in saved:
                rows.append(_cell("stored", COLORS["stored_border"], small=True, bold=True))
                attrs["fillcolor"] = COLORS["stored_fill"]
            else:
                rows.append(_cell("not stored", COLORS["not_stored"], small=True))
                attrs["style"] = "rounded,filled,dashed"
        if node.name == trace.output:
            attrs["penwidth"] = "2"
        if node.name == highlight:
            attrs["color"] = COLORS["highlight"]
            attrs["penwidth"] = "3"
        attrs["tooltip"] = _tooltip(node, node.name in saved, show_saved)
        g.node(node.name, _table(rows), **attrs)

    for node in trace.nodes:
        inputs = set(node.inputs)
        for i, a in enumerate(node.args):
            if not (isinstance(a, str) and a in inputs):
                continue
            attrs = {}
            if partials:
                attrs["label"] = _partial_label(trace, node, i, a)
            g.edge(a, node.name, **attrs)

    # inputs in their own column, in order (x1 above x2): the layout stays put from
    # one picture to the next (the widgets redraw at every step)
    if len(trace.inputs) > 1:
        with g.subgraph(name="inputs") as s:
            s.attr(rank="same")
            for a, b in zip(trace.inputs, trace.inputs[1:]):
                s.edge(a, b, style="invis")

    g.graph_attr["label"] = _label(_caption(trace, mode, seed),
                                   _legend(mode, show_saved, partials, highlight))
    return g


def _caption(trace, mode: str, seed) -> str:
    what = {
        "value": "values (forward sweep)",
        "tangent": f"tangents for the input seed {_seed_text(seed)}",
        "adjoint": f"adjoints for the output seed {_seed_text(seed)}",
    }[mode]
    name = trace.fname if len(trace.fname) <= 90 else trace.fname[:87] + "..."
    return f"{name}: {what}"


def _seed_text(seed) -> str:
    if seed is None:
        return "1"
    if isinstance(seed, (tuple, list)):
        inner = ", ".join(fmt.compact(s) for s in seed)
        return f"({inner})" if len(seed) != 1 else inner
    return fmt.compact(seed)


def node_expression(node) -> str:
    """``mul(v-1, v0)``: the operation with its arguments (constants inline)."""
    if node.op == "input":
        return node.label or node.name
    inputs = set(node.inputs)
    parts = []
    conditions = getattr(node, "conditions", {})
    for i, a in enumerate(node.args):
        if i in conditions:  # a comparison of traced values, as the trace writes it
            parts.append(str(conditions[i]))
        elif isinstance(a, str) and a in inputs:
            parts.append(str(a))
        elif _is_scalar(a):
            parts.append(fmt.number(a))
        else:
            parts.append(f"const {fmt.compact(a, small=3)}")
    for k, v in (node.params or {}).items():
        text = repr(v)
        parts.append(f"{k}={text if len(text) <= 24 else text[:21] + '...'}")
    return f"{node.op}({', '.join(parts)})"


def _head_row(node) -> str:
    name = html.escape(node.name)
    expr = html.escape(node_expression(node))
    return f"<TR><TD><B>{name}</B> = {expr}</TD></TR>"


def _cell(text: str, color: str, *, small: bool = False, bold: bool = False,
          italic: bool = False) -> str:
    body = html.escape(text)
    if bold:
        body = f"<B>{body}</B>"
    if italic:
        body = f"<I>{body}</I>"
    size = ' POINT-SIZE="9"' if small else ""
    return f'<TR><TD><FONT COLOR="{color}"{size}>{body}</FONT></TD></TR>'


def _value_rows(label: str, x, color: str) -> list[str]:
    x = raw(x)
    if x is None:
        return [_cell(f"{label}: ?", color)]
    if _is_scalar(x):
        return [_cell(f"{label} {fmt.number(x)}", color)]
    shape = fmt.shape(x)  # a row for the shape, and one for the entries of a small array
    rows = [_cell(f"{label} {shape}", color)]
    entries = fmt.compact(x).removeprefix(shape).strip()
    return rows + [_cell(entries, color)] if entries else rows


def _table(rows: Iterable[str]) -> str:
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">'
            + "".join(rows) + "</TABLE>>")


def _tooltip(node, saved: bool, show_saved: bool) -> str:
    text = f"{node.name} = {node_expression(node)} = {fmt.compact(node.value)}"
    if show_saved:
        text += ("; stored: a local partial of the reverse sweep reads this value" if saved
                 else "; not stored: no local partial reads this value")
    return text


def _partial_label(trace, node, i: int, source: str) -> str:
    src = trace[source]
    head = f"∂{node.name}/∂{source}"
    if _is_scalar(node.value) and _is_scalar(src.value):
        try:
            return f"{head} = {fmt.number(local_partial(node, i))}"
        except Exception:  # an argument without a derivative (e.g. where's condition)
            return f"{head}: none"
    return f"{head}: {_short_shape(src.value)}→{_short_shape(node.value)}"


def _short_shape(x) -> str:
    shape = np.shape(raw(x))
    return "scalar" if shape == () else "[" + ", ".join(map(str, shape)) + "]"


def _label(caption: str, legend: list[str]) -> str:
    """The graph label: the caption, then the legend's rows (an HTML-like table)."""
    head = (f'<TR><TD COLSPAN="2" ALIGN="LEFT" CELLPADDING="3">{html.escape(caption)}'
            "</TD></TR>")
    return ('<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="2">'
            + head + "".join(legend) + "</TABLE>>")


def _legend(mode: str, show_saved: bool, partials: bool,
            highlight: str | None) -> list[str]:
    """Rows that explain the marks used in this picture: a sample, drawn like a node
    (a light card, so that its colours read on a dark page too), and what it means."""
    rows = []

    def sample(text: str, color: str, body: str, *, fill: str = COLORS["node_fill"],
               style: str = "rounded", border: int = 1,
               border_color: str = COLORS["value"]) -> None:
        rows.append(f'<TR><TD BORDER="{border}" STYLE="{style}" BGCOLOR="{fill}" CELLPADDING="3" '
                    f'COLOR="{border_color}"><FONT COLOR="{color}" POINT-SIZE="10">{body}'
                    f'</FONT></TD><TD ALIGN="LEFT"><FONT POINT-SIZE="10">'
                    f"{html.escape(text)}</FONT></TD></TR>")

    if show_saved:
        sample("value kept for the reverse sweep (a local partial reads it)",
               COLORS["stored_border"], "<B>stored</B>", fill=COLORS["stored_fill"])
        sample("no local partial reads it: free after use", COLORS["not_stored"],
               "not stored", style="dashed")
    if mode == "tangent":
        sample("forward mode: d(node) in the seed's direction", COLORS["tangent"], "tangent")
    elif mode == "adjoint":
        sample("reverse mode: d(output)/d(node)", COLORS["adjoint"], "adjoint")
    if partials:
        sample("edge label: the local partial of the operation", COLORS["value"],
               "∂v<SUB>k</SUB>/∂v<SUB>i</SUB>")
    if highlight is not None:
        sample("the current step", COLORS["value"], html.escape(highlight), border=3,
               border_color=COLORS["highlight"])
    return rows
