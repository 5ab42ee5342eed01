"""What the widgets share: CSS-class helpers, the stylesheet, messages, display."""

from __future__ import annotations

import html
import math
from typing import Any

import ipywidgets as W
import numpy as np

from adlab.core import AdlabError, raw
from adlab.draw import COLORS, Graph


class WidgetInputError(AdlabError, ValueError):
    """A value given to a widget does not make sense (the message says why)."""


# ---------------------------------------------------------------------------------
# The stylesheet
# ---------------------------------------------------------------------------------

# Every widget must fit a notebook column (no sideways overflow) and read in
# JupyterLab's light and dark themes: colours come from JupyterLab's CSS variables
# (with light-theme fallbacks elsewhere), never hard-coded black or white; rows of
# controls wrap; tables have gaps between columns and right-aligned numbers. The
# sheet rides along with the help text (_help), which every widget shows first (a
# widget without one puts STYLESHEET in another HTML child). A <style> applies to the whole
# page, so every rule is scoped to an adlab-* class. An HTML widget's content box is
# a flex item, which never shrinks below its content: min-width 0 lets it, so that a
# wide graph scrolls inside its own box instead of pushing the widget past the column.
STYLESHEET = """<style>
.jupyter-widgets.widget-html[class*="adlab-"] > .widget-html-content {
  line-height: 1.45; padding: 2px 0; min-width: 0;
}
.adlab-help-text { color: var(--jp-content-font-color2, #555555); font-size: 90%;
  max-width: 60em; }
.adlab-flow { flex-wrap: wrap; gap: 2px 12px; max-width: 100%; }
.adlab-scroll-x { max-width: 100%; overflow-x: auto; }
table.adlab-table { border-collapse: collapse; color: inherit; margin: 4px 0; }
table.adlab-table th, table.adlab-table td { padding: 3px 10px 3px 0; text-align: left;
  vertical-align: baseline; white-space: nowrap; }
table.adlab-table th { font-weight: bold; }
table.adlab-table tr:first-child th {
  border-bottom: 1px solid var(--jp-border-color1, #bdbdbd); }
table.adlab-table .adlab-num { text-align: right; font-variant-numeric: tabular-nums; }
table.adlab-table td.adlab-wrap { white-space: normal; }
.adlab-tangent-text { color: #1c64b4; }
.adlab-adjoint-text { color: #c0392b; }
[data-jp-theme-light="false"] .adlab-tangent-text { color: #64b5f6; }
[data-jp-theme-light="false"] .adlab-adjoint-text { color: #f28b82; }
</style>"""

# Text colours for messages, by meaning (JupyterLab's variables, light fallbacks).
TEXT_COLORS = {
    "error": f"var(--jp-error-color1, {COLORS['adjoint']})",
    "info": "var(--jp-content-font-color2, #555555)",
    "ok": f"var(--jp-success-color1, {COLORS['input_border']})",
}


def _row(children: list[W.Widget], *classes: str) -> W.HBox:
    """A row of controls that wraps onto the next line when the column is narrow."""
    return _with_class(W.HBox(children, layout=W.Layout(flex_flow="row wrap")),
                       "adlab-flow", *classes)


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
        return (f'<p style="color:{TEXT_COLORS["error"]}">Graphviz could not draw this graph '
                f"({html.escape(type(e).__name__)}: {html.escape(str(e)[:300])}).</p>"
                + graph.fallback_html())


def _message(text: str, kind: str = "error") -> str:
    color = TEXT_COLORS["error"] if kind == "error" else TEXT_COLORS["info"]
    return f'<span style="color:{color}">{html.escape(text)}</span>' if text else ""


def _help(text: str) -> W.HTML:
    """The widget's help text (HTML), with the shared stylesheet."""
    return _with_class(W.HTML(f'{STYLESHEET}<div class="adlab-help-text">{text}</div>'),
                       "adlab-help")


class _Displayable:
    """``display(obj)`` shows ``obj.widget``; controls set attributes through
    :meth:`_from_control`, and a redraw that moves the controls itself sets
    ``_syncing`` so that their callbacks do not answer it."""

    widget: W.Widget
    message: W.HTML
    _syncing: bool = False

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _from_control(self, which: str, value: Any) -> None:
        """``self.<which> = value`` from a front-end control: a bad value becomes a
        message in the widget, never an exception in the callback."""
        if self._syncing:
            return
        try:
            setattr(self, which, value)
        except Exception as e:  # never raise inside a front-end callback
            self.message.value = _message(str(e))


def parse_seed(value: Any, labels: list[str], owner: str) -> tuple:
    """A seed as a tuple of finite floats, one per label (``owner``: "input" or
    "output", whose entries the seed belongs to); WidgetInputError says what is wrong."""
    n, names = len(labels), ", ".join(labels)
    if isinstance(value, (str, bytes)):
        raise WidgetInputError(f"the seed must be numbers, not the text {value!r}.")
    if np.ndim(value) == 0 and n == 1:
        value = (value,)
    try:
        items = list(np.ravel(value)) if isinstance(value, np.ndarray) else list(value)
    except TypeError:
        raise WidgetInputError(
            f"the seed needs one number per {owner} ({names}), not {value!r}.") from None
    if len(items) != n:
        other = "outputs" if owner == "input" else "inputs"
        raise WidgetInputError(
            f"the seed needs one number per {owner} ({names}): got {len(items)} numbers "
            f"instead of {n}. (This seed belongs to the {owner}s, not to the {other}.)")
    seed = []
    for label, s in zip(labels, items):
        try:
            s = float(raw(s))
        except (TypeError, ValueError):
            raise WidgetInputError(f"the seed for {label} must be a number, not {s!r}.") \
                from None
        if not math.isfinite(s):
            raise WidgetInputError(f"the seed for {label} is {s}; use a finite number.")
        seed.append(s)
    return tuple(seed)


def seed_kind(seed: tuple, one_hot: str) -> str:
    """``one_hot`` (a single 1, zeros elsewhere), ``"zero"`` or ``"combination"``."""
    nonzero = [k for k, s in enumerate(seed) if s != 0]
    if not nonzero:
        return "zero"
    if len(nonzero) == 1 and seed[nonzero[0]] == 1:
        return one_hot
    return "combination"


class _SeedBoxes(_Displayable):
    """One number box per entry of a seed and one "seed <label>" button per one-hot seed,
    kept in step with the ``seed`` attribute of the explorer that uses them."""

    seed: tuple

    def _seed_controls(self, labels: list[str], descriptions: list[str],
                       css: str) -> list[W.Widget]:
        self.boxes = []
        for description in descriptions:
            box = _with_class(W.FloatText(value=0.0, description=description, step=0.1,
                                          layout=W.Layout(width="11em"),
                                          style={"description_width": "3em"}), css)
            box.observe(lambda _change: self._from_control(
                "seed", tuple(b.value for b in self.boxes)), names="value")
            self.boxes.append(box)
        self.presets = []
        n = len(labels)
        for k, label in enumerate(labels):
            one_hot = tuple(1.0 if j == k else 0.0 for j in range(n))
            b = _with_class(W.Button(description=f"seed {label}",
                                     tooltip=f"one-hot seed: 1 on {label}, 0 elsewhere",
                                     layout=W.Layout(width="auto")), "adlab-preset")
            b.on_click(lambda _b, one_hot=one_hot: self._from_control("seed", one_hot))
            self.presets.append(b)
        return self.boxes + self.presets

    def _sync_boxes(self) -> None:
        self._syncing = True
        try:
            for box, s in zip(self.boxes, self.seed):
                if box.value != s:
                    box.value = s
        finally:
            self._syncing = False
