"""What the widgets share: CSS-class helpers, messages, display."""

from __future__ import annotations

import html

import ipywidgets as W

from adlab.core import AdlabError
from adlab.draw import COLORS, Graph


class WidgetInputError(AdlabError, ValueError):
    """A value given to a widget does not make sense (the message says why)."""


# ---------------------------------------------------------------------------------
# Shared pieces
# ---------------------------------------------------------------------------------

def widgets_with_class(root: W.Widget, css_class: str) -> list[W.Widget]:
    """Every widget under ``root`` (``root`` included) that carries ``css_class``."""
    found, stack = [], [root]
    while stack:
        w = stack.pop(0)
        if css_class in getattr(w, "_dom_classes", ()):
            found.append(w)
        stack.extend(getattr(w, "children", ()))
    return found


def _with_class(widget: W.Widget, *classes: str) -> W.Widget:
    for c in classes:
        widget.add_class(c)
    return widget


def _graph_html(graph: Graph) -> str:
    """The graph as inline SVG; its DOT source with an install hint when ``dot`` is missing."""
    try:
        return graph.to_html()
    except Exception as e:  # dot crashed on this graph: still show something useful
        return (f'<p style="color:{COLORS["adjoint"]}">Graphviz could not draw this graph '
                f"({html.escape(type(e).__name__)}: {html.escape(str(e)[:300])}).</p>"
                + graph.fallback_html())


def _message(text: str, kind: str = "error") -> str:
    color = COLORS["adjoint"] if kind == "error" else COLORS["muted"]
    return f'<span style="color:{color}">{html.escape(text)}</span>' if text else ""


def _help(text: str) -> W.HTML:
    return _with_class(W.HTML(f'<div style="color:#444; font-size:90%; max-width:60em">'
                              f"{text}</div>"), "adlab-help")


class _Displayable:
    """``display(obj)`` shows ``obj.widget``."""

    widget: W.Widget

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
