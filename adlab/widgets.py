r"""Widgets for JupyterLab (ipywidgets 8): seeds, reverse sweeps, costs and training.

Each widget keeps its state in plain Python attributes, so a learner (or a test) can
drive it from code as well as with the mouse, and it redraws when they change:

* :class:`SeedExplorer` — choose the forward-mode seed; see every node's tangent and
  the output's derivative (a partial derivative for a one-hot seed, a directional
  derivative otherwise).
* :class:`ReverseStepper` — step through the forward sweep, then the reverse sweep,
  one node at a time, watching the adjoints accumulate contributions.
* :class:`CostExplorer` — measure what a full Jacobian of :math:`f:\mathbb{R}^n\to
  \mathbb{R}^m` costs in forward mode (:math:`n` JVPs) and reverse mode (one recording
  and :math:`m` VJPs).
* :class:`TrainingMonitor` — a live loss (and accuracy) plot with a progress bar.

All numbers come from the engine (``ad.trace``, ``Trace.forward``, ``Trace.reverse``,
``ad.jacfwd``, ``ad.jacrev``); the widgets only show them. ``display(w)`` shows a
widget; ``w.widget`` is its ipywidgets container. Browser tests can rely on the CSS
classes listed in each class's docstring (all start with ``adlab-``).
"""

from __future__ import annotations

import contextlib
import html
import io
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as W
import numpy as np

from adlab.core import AdlabError, raw
from adlab.draw import COLORS, Graph, draw, fmt, node_expression

__all__ = ["SeedExplorer", "ReverseStepper", "CostExplorer", "TrainingMonitor",
           "WidgetInputError", "count_work", "WorkCount", "widgets_with_class"]


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


# ---------------------------------------------------------------------------------
# SeedExplorer
# ---------------------------------------------------------------------------------

class SeedExplorer(_Displayable):
    r"""Forward mode, seed by seed: what the seed does to every tangent.

    ``SeedExplorer(f, *args)`` records ``trace = ad.trace(f, *args)`` and shows its graph
    in tangent mode. The seed :math:`(\dot x_1, \dots, \dot x_n)` is the inputs' tangent:
    a one-hot seed (1 on :math:`x_j`, 0 elsewhere) makes the output's tangent the partial
    derivative :math:`\partial f/\partial x_j`; any other seed gives the directional
    derivative :math:`\nabla f\cdot\dot x` (for an array output, :math:`J\dot x`).

    Only scalar inputs get seed boxes: for an array input the constructor raises
    :class:`WidgetInputError` saying how to explore it instead (wrap ``f`` so that it
    takes scalars, or use ``ad.trace(f, ...).forward(seed)``). The output may be an array.

    Attributes: ``trace``, ``seed`` (a tuple, one float per input; setting it redraws),
    ``tangents`` (node name → tangent, from ``trace.forward(seed)``), ``derivative`` (the
    output's tangent), ``kind`` (``"partial"``, ``"directional"`` or ``"zero"``),
    ``graph`` (the last :class:`adlab.draw.Graph`), ``widget``.

    CSS classes: ``adlab-seed-explorer`` (the container), ``adlab-seed`` (one FloatText
    per input, ``description`` = the input's label), ``adlab-preset`` (buttons
    "seed x1", "seed x2", ...), ``adlab-derivative`` (the derivative and what it is),
    ``adlab-graph`` (the graph), ``adlab-message`` (complaints about odd input).

    >>> s = SeedExplorer(lambda x1, x2: x1 * x2 + ad.sin(x1), 2.0, 3.0)  # doctest: +SKIP
    >>> s.seed = (0, 1); s.derivative                                       # doctest: +SKIP
    2.0
    """

    def __init__(self, f: Callable, *args: Any, partials: bool = True,
                 output_label: str = "f", rankdir: str = "LR"):
        from adlab.trace import trace

        self.trace = trace(f, *args)
        self.partials, self.rankdir, self.output_label = partials, rankdir, output_label
        inputs = [self.trace[name] for name in self.trace.inputs]
        arrays = [node for node in inputs if np.ndim(node.value) != 0]
        if arrays:
            node = arrays[0]
            raise WidgetInputError(
                f"SeedExplorer shows one seed box per scalar input, but input "
                f"{node.label or node.name} has shape {np.shape(node.value)}. Explore it by "
                f"wrapping f so that the inputs you vary are scalars (e.g. "
                f"lambda a, b: f(ad.stack([a, b]))), or call "
                f"ad.trace(f, ...).forward(seed) with an array seed."
            )
        if not inputs:
            raise WidgetInputError("SeedExplorer needs a function of at least one input.")
        self.labels = [node.label or node.name for node in inputs]
        self._syncing = False
        self.graph: Graph | None = None
        self._build()
        self.seed = tuple(1.0 if k == 0 else 0.0 for k in range(len(inputs)))

    # -- state -------------------------------------------------------------------------

    @property
    def seed(self) -> tuple:
        """The input tangents, one float per input. Setting it redraws everything."""
        return self._seed

    @seed.setter
    def seed(self, value: Any) -> None:
        seed = self._check_seed(value)
        tangents = self.trace.forward(seed)
        self._seed, self._tangents = seed, tangents
        self._sync_boxes()
        self._refresh()

    @property
    def tangents(self) -> dict:
        """Node name → tangent for the current seed (``trace.forward(seed)``)."""
        return self._tangents

    @property
    def derivative(self) -> Any:
        """The output's tangent: :math:`J\\,\\dot x` for the current seed."""
        out = self.trace.output
        if out is None:  # the output does not depend on the inputs
            return np.zeros_like(self.trace.value, dtype=float)[()]
        return self._tangents[out]

    @property
    def kind(self) -> str:
        """``"partial"`` (one-hot seed), ``"zero"`` (zero seed) or ``"directional"``."""
        nonzero = [k for k, s in enumerate(self._seed) if s != 0]
        if not nonzero:
            return "zero"
        if len(nonzero) == 1 and self._seed[nonzero[0]] == 1:
            return "partial"
        return "directional"

    def _check_seed(self, value: Any) -> tuple:
        n = len(self.labels)
        if isinstance(value, (str, bytes)):
            raise WidgetInputError(f"the seed must be numbers, not the text {value!r}.")
        if np.ndim(value) == 0 and n == 1:
            value = (value,)
        try:
            items = list(value)
        except TypeError:
            raise WidgetInputError(
                f"the seed needs one number per input ({', '.join(self.labels)}), "
                f"not {value!r}.") from None
        if len(items) != n:
            raise WidgetInputError(
                f"the seed needs one number per input ({', '.join(self.labels)}): got "
                f"{len(items)} numbers instead of {n}.")
        seed = []
        for label, s in zip(self.labels, items):
            try:
                s = float(raw(s))
            except (TypeError, ValueError):
                raise WidgetInputError(
                    f"the seed for {label} must be a number, not {s!r}.") from None
            if not math.isfinite(s):
                raise WidgetInputError(f"the seed for {label} is {s}; use a finite number.")
            seed.append(s)
        return tuple(seed)

    # -- text --------------------------------------------------------------------------

    def derivative_text(self) -> str:
        """What the output's tangent is for this seed, in words (HTML)."""
        f, d = html.escape(self.output_label), fmt(self.derivative)
        seed = "(" + ", ".join(fmt(s) for s in self._seed) + ")"
        kind = self.kind
        if kind == "partial":
            j = next(k for k, s in enumerate(self._seed) if s != 0)
            x = html.escape(self.labels[j])
            return (f"Seed <b>{seed}</b> is one-hot on {x}, so the output's tangent is the "
                    f"<b>partial derivative ∂{f}/∂{x} = {d}</b>.")
        if kind == "zero":
            return (f"Seed <b>{seed}</b> is zero: no input moves, so the output's tangent "
                    f"is <b>{d}</b>.")
        terms = " + ".join(f"{fmt(s)}·∂{f}/∂{html.escape(x)}"
                           for s, x in zip(self._seed, self.labels) if s != 0)
        grad = "∇" + f if np.ndim(self.derivative) == 0 else "J"
        return (f"Seed <b>{seed}</b> is not one-hot, so the output's tangent is the "
                f"<b>directional derivative {grad}·{seed} = {terms} = {d}</b> "
                f"(the rate of change of {f} along the seed, not normalised).")

    # -- widgets -----------------------------------------------------------------------

    def _build(self) -> None:
        self.boxes = []
        for label in self.labels:
            box = W.FloatText(value=0.0, description=label, step=0.1,
                              layout=W.Layout(width="11em"),
                              style={"description_width": "3em"})
            _with_class(box, "adlab-seed")
            box.observe(self._on_box, names="value")
            self.boxes.append(box)
        self.presets = []
        for k, label in enumerate(self.labels):
            b = _with_class(W.Button(description=f"seed {label}",
                                     tooltip=f"one-hot seed: 1 on {label}, 0 elsewhere",
                                     layout=W.Layout(width="auto")), "adlab-preset")
            b.on_click(lambda _b, k=k: self._preset(k))
            self.presets.append(b)
        self.derivative_html = _with_class(W.HTML(), "adlab-derivative")
        self.message = _with_class(W.HTML(), "adlab-message")
        self.graph_html = _with_class(W.HTML(), "adlab-graph")
        n = len(self.labels)
        first = self.labels[0]
        one_hot = ", ".join("1" if k == 0 else "0" for k in range(n))
        helptext = (
            "The <b>seed</b> is the tangent of the inputs: how fast each input moves. "
            f"Forward mode carries it through every operation (blue numbers). Seed "
            f"({one_hot}) gives ∂{html.escape(self.output_label)}/∂{html.escape(first)}; "
            "any other seed gives a directional derivative. One seed costs one forward "
            f"sweep, so the whole gradient of a function of {n} input(s) takes {n} sweeps."
        )
        self.widget = _with_class(W.VBox([
            _help(helptext),
            W.HBox(self.boxes + self.presets),
            self.derivative_html,
            self.message,
            self.graph_html,
        ]), "adlab-seed-explorer")

    def _preset(self, k: int) -> None:
        self.seed = tuple(1.0 if j == k else 0.0 for j in range(len(self.labels)))

    def _on_box(self, _change) -> None:
        if self._syncing:
            return
        try:
            self.seed = tuple(box.value for box in self.boxes)
        except Exception as e:  # never raise inside a front-end callback
            self.message.value = _message(str(e))

    def _sync_boxes(self) -> None:
        self._syncing = True
        try:
            for box, s in zip(self.boxes, self._seed):
                if box.value != s:
                    box.value = s
        finally:
            self._syncing = False

    def _refresh(self) -> None:
        self.message.value = ""
        self.derivative_html.value = self.derivative_text()
        self.graph = draw(self.trace, mode="tangent", seed=self._seed,
                          partials=self.partials, rankdir=self.rankdir)
        self.graph_html.value = _graph_html(self.graph)


# ---------------------------------------------------------------------------------
# ReverseStepper
# ---------------------------------------------------------------------------------

class ReverseStepper(_Displayable):
    r"""Reverse mode, one node at a time: the forward sweep, then the reverse sweep.

    ``ReverseStepper(f, *args, seed=1.0)`` records ``trace = ad.trace(f, *args)`` and
    the complete reverse sweep ``trace.reverse(seed)`` once; the steps only reveal it.
    With :math:`N` nodes there are ``n_steps = 2N + 1`` steps:

    * positions 1 .. N (``phase == "forward"``): node ``k`` is evaluated; values that a
      local partial will read are stored;
    * positions N+1 .. 2N (``"reverse"``): nodes in reverse order; the current node's
      adjoint is final (every use has contributed) and it pushes
      :math:`\bar v_k\,\partial v_k/\partial v_i` to each input :math:`v_i`;
    * position 2N+1 (``"done"``): the inputs' adjoints are the gradient.

    Position 0 is the start (``phase == "forward"``, nothing computed yet).

    Attributes: ``position`` (0 .. ``n_steps``; setting it redraws), ``phase``,
    ``current`` (the node processed at this position, or None), ``adjoints`` (name →
    list of the contributions added so far, each ``(source, value)``, a prefix of
    ``trace.reverse(seed).contributions``), ``adjoint_sums`` (name → sum of those, for
    nodes with at least one), ``final`` (names whose adjoint is complete), ``computed``,
    ``saved`` (list of ``(name, nbytes)`` from ``trace.saved()``), ``saved_count``,
    ``saved_bytes``, ``not_stored``, ``graph``, ``widget``. Methods ``step()``,
    ``back()``, ``reset()``.

    CSS classes: ``adlab-reverse-stepper`` (container), buttons "Prev", "Next" and
    "Reset" (``adlab-prev``, ``adlab-next``, ``adlab-reset``), ``adlab-play`` (an
    ``ipywidgets.Play``), ``adlab-step-slider``, ``adlab-status`` (phase, "step k of n",
    the current node), ``adlab-adjoints`` (each node's contributions and their sum),
    ``adlab-saved`` (stored and not stored values), ``adlab-graph``.
    """

    def __init__(self, f: Callable, *args: Any, seed: Any = 1.0, rankdir: str = "LR",
                 partials: bool = True, interval: int = 900):
        from adlab.trace import trace

        self.trace = trace(f, *args)
        self.names = [node.name for node in self.trace.nodes]
        self.N = len(self.names)
        self.n_steps = 2 * self.N + 1
        out = self.trace.output
        if out is not None and np.ndim(seed) == 0 and np.shape(self.trace[out].value) != ():
            seed = np.full(np.shape(self.trace[out].value), float(seed))
        self.seed = seed
        self._reverse = self.trace.reverse(seed)  # the whole sweep, recorded once
        self.rankdir, self.partials = rankdir, partials
        saved = self.trace.saved()
        self.saved = [(name, int(np.asarray(self.trace[name].value).nbytes)) for name in saved]
        self.saved_count = len(saved)
        self.saved_bytes = self.trace.saved_bytes()
        self.not_stored = [name for name in self.names if name not in set(saved)]
        self.graph: Graph | None = None
        self._syncing = False
        self._build(interval)
        self._position = 0
        self._refresh()

    # -- state -------------------------------------------------------------------------

    @property
    def position(self) -> int:
        return self._position

    @position.setter
    def position(self, value: Any) -> None:
        try:
            p = int(value)
        except (TypeError, ValueError):
            raise WidgetInputError(f"position must be a whole number, not {value!r}") from None
        if p != value:
            raise WidgetInputError(f"position must be a whole number, not {value!r}")
        if not 0 <= p <= self.n_steps:
            raise WidgetInputError(f"position must be between 0 and {self.n_steps}, not {p}.")
        self._position = p
        self._refresh()

    def step(self) -> int:
        """One step forward (no-op at the end). Returns the new position."""
        if self._position < self.n_steps:
            self.position = self._position + 1
        return self._position

    def back(self) -> int:
        """One step back (no-op at the start). Returns the new position."""
        if self._position > 0:
            self.position = self._position - 1
        return self._position

    def reset(self) -> None:
        """Back to the start: nothing computed."""
        self.position = 0

    @property
    def phase(self) -> str:
        if self._position <= self.N:
            return "forward"
        return "reverse" if self._position <= 2 * self.N else "done"

    @property
    def current(self) -> str | None:
        p, N = self._position, self.N
        if 1 <= p <= N:
            return self.names[p - 1]
        if N < p <= 2 * N:
            return self.names[2 * N - p]  # names in reverse order
        return None

    @property
    def computed(self) -> list[str]:
        """Nodes whose value the forward sweep has computed so far."""
        return self.names[:min(self._position, self.N)]

    @property
    def final(self) -> list[str]:
        """Nodes the reverse sweep has processed: their adjoints are complete."""
        k = max(0, min(self._position - self.N, self.N))
        return self.names[::-1][:k]

    @property
    def adjoints(self) -> dict[str, list]:
        """Name → contributions ``(source, value)`` added so far, in sweep order."""
        if self.phase == "forward":
            return {name: [] for name in self.names}
        done = set(self.final) | {"seed"}
        contributions = self._reverse.contributions
        return {name: [c for c in contributions[name] if c.source in done]
                for name in self.names}

    @property
    def adjoint_sums(self) -> dict[str, Any]:
        """Name → the sum of its contributions so far (only nodes that have some)."""
        sums = {}
        for name, terms in self.adjoints.items():
            if terms:
                total = terms[0].value
                for c in terms[1:]:  # the order the sweep adds them in
                    total = total + c.value
                sums[name] = total
        return sums

    # -- widgets -----------------------------------------------------------------------

    def _build(self, interval: int) -> None:
        self.prev_button = _with_class(W.Button(description="Prev", icon="step-backward",
                                                tooltip="one step back"), "adlab-prev")
        self.next_button = _with_class(W.Button(description="Next", icon="step-forward",
                                                tooltip="one step on"), "adlab-next")
        self.reset_button = _with_class(W.Button(description="Reset", tooltip="start again"),
                                        "adlab-reset")
        self.play = _with_class(W.Play(value=0, min=0, max=self.n_steps, step=1,
                                       interval=interval, description="Play",
                                       tooltip="play the sweeps"), "adlab-play")
        self.slider = _with_class(W.IntSlider(value=0, min=0, max=self.n_steps,
                                              description="step", readout=True),
                                  "adlab-step-slider")
        self.prev_button.on_click(lambda _b: self._safely(self.back))
        self.next_button.on_click(lambda _b: self._safely(self.step))
        self.reset_button.on_click(lambda _b: self._safely(self.reset))
        self.play.observe(self._on_control, names="value")
        self.slider.observe(self._on_control, names="value")
        self.status = _with_class(W.HTML(), "adlab-status")
        self.adjoints_html = _with_class(W.HTML(), "adlab-adjoints")
        self.saved_html = _with_class(W.HTML(), "adlab-saved")
        self.message = _with_class(W.HTML(), "adlab-message")
        self.graph_html = _with_class(W.HTML(), "adlab-graph")
        helptext = (
            "First the <b>forward sweep</b> computes every value and keeps the ones a local "
            "partial will need. Then the <b>reverse sweep</b> starts from the output's "
            "seed (v̄ = 1 for a scalar) and visits the nodes in reverse order: each node's "
            "adjoint is final when its turn comes, and it pushes "
            "v̄<sub>k</sub>·∂v<sub>k</sub>/∂v<sub>i</sub> to each input v<sub>i</sub>. "
            "A value used twice receives two contributions, which add up."
        )
        self.widget = _with_class(W.VBox([
            _help(helptext),
            W.HBox([self.reset_button, self.prev_button, self.next_button, self.play,
                    self.slider]),
            self.status,
            self.message,
            self.graph_html,
            W.HBox([self.adjoints_html, self.saved_html]),
        ]), "adlab-reverse-stepper")

    def _safely(self, action: Callable) -> None:
        try:
            action()
        except Exception as e:  # never raise inside a front-end callback
            self.message.value = _message(f"{type(e).__name__}: {e}")

    def _on_control(self, change) -> None:
        if self._syncing:
            return
        self._safely(lambda: setattr(self, "position", change["new"]))

    def _sync_controls(self) -> None:
        self._syncing = True
        try:
            for w in (self.play, self.slider):
                if w.value != self._position:
                    w.value = self._position
            self.prev_button.disabled = self._position == 0
            self.next_button.disabled = self._position == self.n_steps
        finally:
            self._syncing = False

    def _refresh(self) -> None:
        self.message.value = ""
        self._sync_controls()
        self.status.value = self.status_text()
        self.adjoints_html.value = self.adjoints_table()
        self.saved_html.value = self.saved_text()
        current = self.current
        if self.phase == "forward":
            self.graph = draw(self.trace, mode="value", highlight=current,
                              rankdir=self.rankdir, computed=self.computed)
        else:
            self.graph = draw(self.trace, mode="adjoint", seed=self.seed,
                              partials=self.partials, highlight=current,
                              rankdir=self.rankdir, adjoints=self.adjoint_sums,
                              final=self.final)
        self.graph_html.value = _graph_html(self.graph)

    # -- text --------------------------------------------------------------------------

    def _describe(self, name: str) -> str:
        return f"{name} = {node_expression(self.trace[name])}"

    def status_text(self) -> str:
        """Phase, "step k of n" and what happens at the current node (HTML)."""
        p, n, phase, cur = self._position, self.n_steps, self.phase, self.current
        head = f"<b>{phase}</b> · step {p} of {n}"
        if p == 0:
            what = "Nothing computed yet. Press Next to start the forward sweep."
        elif phase == "forward":
            node = self.trace[cur]
            what = (f"current node <b>{html.escape(cur)}</b>: "
                    f"{html.escape(self._describe(cur))} = {html.escape(fmt(node.value))}.")
            if cur in dict(self.saved):
                what += " Stored: a local partial of the reverse sweep will read it."
            else:
                what += " Not stored: no local partial reads it."
        elif phase == "reverse":
            total = self.adjoint_sums.get(cur)
            what = (f"current node <b>{html.escape(cur)}</b>: "
                    f"{html.escape(self._describe(cur))}. ")
            if total is None:
                what += "It does not influence the output: its adjoint is 0, nothing to push."
            else:
                what += (f"Its adjoint ∂f/∂{html.escape(cur)} = {html.escape(fmt(total))} "
                         "is final. ")
                pushed = [(target, c.value) for target, terms in self.adjoints.items()
                          for c in terms if c.source == cur]
                if pushed:
                    what += "It pushes " + ", ".join(
                        f"{html.escape(fmt(v))} to {html.escape(t)}" for t, v in pushed) + "."
                else:
                    label = self.trace[cur].label or cur
                    what += (f"It is an input: its adjoint is ∂f/∂{html.escape(label)}, "
                             "nothing to push.")
        else:
            grads = []
            sums = self.adjoint_sums
            for name in self.trace.inputs:
                label = self.trace[name].label or name
                value = sums.get(name, 0.0)
                grads.append(f"∂f/∂{html.escape(label)} = {html.escape(fmt(value))}")
            what = "Done. The inputs' adjoints are the gradient: " + ", ".join(grads) + "."
        return f'<div style="padding:2px 0">{head} — {what}</div>'

    def adjoints_table(self) -> str:
        """Each node's contributions so far and their sum (HTML)."""
        adjoints, sums, final = self.adjoints, self.adjoint_sums, set(self.final)
        rows = []
        for name in self.names:
            terms = adjoints[name]
            parts = " + ".join(f"{html.escape(fmt(c.value))} <small>(from "
                               f"{html.escape(c.source)})</small>" for c in terms) or "—"
            total = html.escape(fmt(sums[name])) if name in sums else "—"
            state = ("final" if name in final else
                     "accumulating" if terms else "")
            style = (f' style="outline:2px solid {COLORS["highlight"]}"'
                     if name == self.current else "")
            label = self.trace[name].label
            shown = html.escape(name) + (f" ({html.escape(label)})" if label else "")
            rows.append(f"<tr{style}><td><b>{shown}</b></td><td>{parts}</td>"
                        f'<td style="color:{COLORS["adjoint"]}"><b>{total}</b></td>'
                        f"<td><small>{state}</small></td></tr>")
        return ('<table style="border-collapse:collapse; font-size:90%">'
                "<tr><th>node</th><th>contributions so far</th><th>adjoint (sum)</th>"
                "<th></th></tr>" + "".join(rows) + "</table>")

    def saved_text(self) -> str:
        """What reverse mode stores, and what it does not (HTML)."""
        computed = set(self.computed)
        items = "".join(
            f"<li>{html.escape(name)}{self._label(name)}: {nbytes} bytes"
            + ("" if name in computed else " <small>(not computed yet)</small>") + "</li>"
            for name, nbytes in self.saved)
        not_stored = ", ".join(html.escape(n) + self._label(n) for n in self.not_stored) or "—"
        return (f'<div style="margin-left:2em; font-size:90%">'
                f"<b>Stored for the reverse sweep</b> ({self.saved_count} values, "
                f"{self.saved_bytes} bytes):<ul>{items or '<li>nothing</li>'}</ul>"
                f"<b>Not stored</b> (no local partial reads them): {not_stored}</div>")

    def _label(self, name: str) -> str:
        label = self.trace[name].label
        return f" ({html.escape(label)})" if label else ""


# ---------------------------------------------------------------------------------
# Counting work: CostExplorer's instrument
# ---------------------------------------------------------------------------------

class WorkCount:
    """What :func:`count_work` counted."""

    def __init__(self):
        self.primitive_calls = 0   # primitive evaluations on numbers (impl calls)
        self.forward_sweeps = 0    # JVPs (adlab.forward.jvp calls)
        self.recordings = 0        # recorded forward runs (adlab.reverse.vjp calls)
        self.reverse_sweeps = 0    # VJPs (adlab.reverse.backward_sweep calls)

    def __repr__(self) -> str:
        return (f"WorkCount(primitive_calls={self.primitive_calls}, forward_sweeps="
                f"{self.forward_sweeps}, recordings={self.recordings}, "
                f"reverse_sweeps={self.reverse_sweeps})")


@contextlib.contextmanager
def count_work() -> Iterator[WorkCount]:
    """Count primitive evaluations and sweeps while the ``with`` block runs.

    It wraps every registered primitive's ``impl`` (each evaluation of an elementary
    operation on numbers, whether in a plain run, a JVP rule or a VJP rule) and the
    functions that start sweeps (``adlab.forward.jvp``, ``adlab.reverse.vjp``,
    ``adlab.reverse.backward_sweep``), and restores them all on exit. Outside the block
    nothing is wrapped: the instrument costs nothing when unused.

    >>> with count_work() as work:                              # doctest: +SKIP
    ...     ad.jacfwd(f)(x)
    >>> work.forward_sweeps                                     # doctest: +SKIP
    3
    """
    from adlab import forward, ops, reverse

    counts = WorkCount()
    restore: list[tuple[Any, str, Any]] = []

    def wrap(owner, attr: str, counter: str) -> None:
        original = getattr(owner, attr)

        def counted(*args, **kwargs):
            setattr(counts, counter, getattr(counts, counter) + 1)
            return original(*args, **kwargs)

        restore.append((owner, attr, original))
        setattr(owner, attr, counted)

    try:
        for prim in ops.REGISTRY.values():
            wrap(prim, "impl", "primitive_calls")
        wrap(forward, "jvp", "forward_sweeps")
        wrap(reverse, "vjp", "recordings")
        wrap(reverse, "backward_sweep", "reverse_sweeps")
        yield counts
    finally:
        for owner, attr, original in reversed(restore):
            setattr(owner, attr, original)


# ---------------------------------------------------------------------------------
# CostExplorer
# ---------------------------------------------------------------------------------

def make_function(n: int, m: int, hidden: int = 8, seed: int = 0):
    r"""A seeded function :math:`f:\mathbb{R}^n\to\mathbb{R}^m` and a point ``x0``.

    Two dense tanh layers: :math:`f(x) = \tanh(W_2 \tanh(W_1 x + b_1) + b_2)`, with
    :math:`W_1` of shape (hidden, n) and :math:`W_2` of shape (m, hidden).
    """
    from adlab import ops

    rng = np.random.default_rng([seed, n, m, hidden])
    W1 = rng.normal(size=(hidden, n)) / math.sqrt(n)
    b1 = 0.1 * rng.normal(size=hidden)
    W2 = rng.normal(size=(m, hidden)) / math.sqrt(hidden)
    b2 = 0.1 * rng.normal(size=m)

    def f(x):
        return ops.tanh(W2 @ ops.tanh(W1 @ x + b1) + b2)

    f.__name__ = f"f_{n}_to_{m}"
    return f, rng.normal(size=n)


class CostExplorer(_Displayable):
    r"""Measure what a full Jacobian costs in forward and in reverse mode.

    For a generated :math:`f:\mathbb{R}^n\to\mathbb{R}^m` (:func:`make_function`), it
    runs ``ad.jacfwd(f)(x)`` (one JVP per input: :math:`n` forward sweeps) and
    ``ad.jacrev(f)(x)`` (one recorded run, then one VJP per output: :math:`m` reverse
    sweeps) under :func:`count_work`, times each (best of ``repeats``, without the
    instrument), and checks that the two Jacobians agree.

    ``result`` is a dict::

        {"n", "m", "f_ops": operations in one run of f (nodes of its trace),
         "forward": {"passes", "recordings", "ops", "time"},
         "reverse": {"passes", "recordings", "ops", "time"},
         "winner": "forward" | "reverse" | "tie"   (fewer primitive evaluations),
         "faster": "forward" | "reverse"            (less wall time),
         "agree": bool, "max_abs_diff": float}

    ``passes`` counts sweeps (forward: JVPs, reverse: VJPs); ``recordings`` the
    recorded forward runs reverse mode needs first (1). Set ``.n`` / ``.m`` (or move the
    sliders) to measure again.

    CSS classes: ``adlab-cost-explorer``, ``adlab-n`` and ``adlab-m`` (IntSliders),
    ``adlab-cost`` (the measurements), ``adlab-agree`` (the Jacobian check).
    """

    def __init__(self, n: int = 10, m: int = 2, hidden: int = 8, seed: int = 0,
                 repeats: int = 3, max_size: int = 30):
        self.hidden, self.fn_seed, self.repeats, self.max_size = hidden, seed, repeats, max_size
        self._n, self._m = self._check(n, "n"), self._check(m, "m")
        self._syncing = False
        self._build()
        self._measure()

    def _check(self, v: Any, name: str) -> int:
        try:
            k = int(v)
        except (TypeError, ValueError):
            raise WidgetInputError(f"{name} must be a whole number, not {v!r}.") from None
        if k != v or not 1 <= k <= self.max_size:
            raise WidgetInputError(f"{name} must be a whole number from 1 to "
                                   f"{self.max_size}, not {v!r}.")
        return k

    @property
    def n(self) -> int:
        """Number of inputs."""
        return self._n

    @n.setter
    def n(self, value: Any) -> None:
        self._n = self._check(value, "n")
        self._measure()

    @property
    def m(self) -> int:
        """Number of outputs."""
        return self._m

    @m.setter
    def m(self, value: Any) -> None:
        self._m = self._check(value, "m")
        self._measure()

    def _measure(self) -> None:
        from adlab.forward import jacfwd
        from adlab.reverse import jacrev

        n, m = self._n, self._m
        f, x = make_function(n, m, self.hidden, self.fn_seed)
        from adlab.trace import trace

        recorded = trace(f, x)  # one run of f, operation by operation
        f_ops = len(recorded.nodes) - len(recorded.inputs)
        with count_work() as fw:
            J_fwd = jacfwd(f)(x)
        with count_work() as rv:
            J_rev = jacrev(f)(x)
        times = {}
        for mode, jac in (("forward", jacfwd), ("reverse", jacrev)):
            best = math.inf
            for _ in range(max(1, self.repeats)):
                t0 = time.perf_counter()
                jac(f)(x)
                best = min(best, time.perf_counter() - t0)
            times[mode] = best
        J_fwd, J_rev = np.asarray(raw(J_fwd)), np.asarray(raw(J_rev))
        diff = float(np.max(np.abs(J_fwd - J_rev))) if J_fwd.size else 0.0
        ops_f, ops_r = fw.primitive_calls, rv.primitive_calls
        self.jacobians = (J_fwd, J_rev)
        self.result = {
            "n": n, "m": m, "f_ops": f_ops,
            "forward": {"passes": fw.forward_sweeps, "recordings": fw.recordings,
                        "reverse_sweeps": fw.reverse_sweeps, "ops": ops_f,
                        "time": times["forward"]},
            "reverse": {"passes": rv.reverse_sweeps, "recordings": rv.recordings,
                        "forward_sweeps": rv.forward_sweeps, "ops": ops_r,
                        "time": times["reverse"]},
            "winner": "tie" if ops_f == ops_r else "forward" if ops_f < ops_r else "reverse",
            "faster": "forward" if times["forward"] <= times["reverse"] else "reverse",
            "agree": bool(J_fwd.shape == J_rev.shape == (m, n)
                          and np.allclose(J_fwd, J_rev, rtol=1e-10, atol=1e-12)),
            "max_abs_diff": diff,
            "shape": J_fwd.shape,
        }
        self._refresh()

    # -- widgets -----------------------------------------------------------------------

    def _build(self) -> None:
        self.n_slider = _with_class(W.IntSlider(value=self._n, min=1, max=self.max_size,
                                                description="n inputs",
                                                continuous_update=False,
                                                style={"description_width": "5em"}),
                                    "adlab-n")
        self.m_slider = _with_class(W.IntSlider(value=self._m, min=1, max=self.max_size,
                                                description="m outputs",
                                                continuous_update=False,
                                                style={"description_width": "5em"}),
                                    "adlab-m")
        self.n_slider.observe(lambda c: self._on_slider("n", c), names="value")
        self.m_slider.observe(lambda c: self._on_slider("m", c), names="value")
        self.cost_html = _with_class(W.HTML(), "adlab-cost")
        self.agree_html = _with_class(W.HTML(), "adlab-agree")
        self.message = _with_class(W.HTML(), "adlab-message")
        helptext = (
            "A full Jacobian of f: ℝ<sup>n</sup> → ℝ<sup>m</sup> takes <b>n forward sweeps</b> "
            "(one JVP per input, one column each) or <b>one recording plus m reverse "
            "sweeps</b> (one VJP per output, one row each). Each sweep costs a small "
            "constant times one run of f, so forward mode wins when n &lt; m and reverse "
            "mode when m &lt; n. The counts below are measured, not predicted: every "
            "elementary operation the engine evaluated is counted."
        )
        self.widget = _with_class(W.VBox([
            _help(helptext), W.HBox([self.n_slider, self.m_slider]), self.message,
            self.cost_html, self.agree_html,
        ]), "adlab-cost-explorer")

    def _on_slider(self, which: str, change) -> None:
        if self._syncing:
            return
        try:
            setattr(self, which, change["new"])
        except Exception as e:  # never raise inside a front-end callback
            self.message.value = _message(str(e))

    def _refresh(self) -> None:
        self._syncing = True
        try:
            self.n_slider.value, self.m_slider.value = self._n, self._m
        finally:
            self._syncing = False
        self.message.value = ""
        r = self.result
        top = max(r["forward"]["ops"], r["reverse"]["ops"], 1)

        def row(mode: str, color: str, sweeps: str) -> str:
            d = r[mode]
            width = max(2, round(240 * d["ops"] / top))
            bar = (f'<div style="background:{color}; width:{width}px; height:12px; '
                   f'display:inline-block"></div>')
            win = " ✓" if r["winner"] == mode else ""
            return (f"<tr><td><b>{mode}</b>{win}</td><td>{sweeps}</td>"
                    f"<td>{d['ops']}</td><td>{bar}</td>"
                    f"<td>{d['time'] * 1e3:.3g} ms</td></tr>")

        fw, rv = r["forward"], r["reverse"]
        rows = (row("forward", COLORS["tangent"], f"{fw['passes']} JVPs")
                + row("reverse", COLORS["adjoint"],
                      f"{rv['recordings']} recording + {rv['passes']} VJPs"))
        if r["winner"] == "tie":
            verdict = "Both modes evaluated the same number of operations."
        else:
            verdict = (f"<b>{r['winner']} mode wins</b> for n = {r['n']}, m = {r['m']}: "
                       f"fewer operations evaluated.")
        if r["faster"] != r["winner"] and r["winner"] != "tie":
            verdict += (f" (Wall time favours {r['faster']} mode here: at this size "
                        "Python's overhead per call and timer noise matter more than the "
                        "operation count.)")
        self.cost_html.value = (
            f"<p>f: ℝ<sup>{r['n']}</sup> → ℝ<sup>{r['m']}</sup> = two dense tanh layers; one "
            f"run of f is {r['f_ops']} elementary operations (its trace).</p>"
            '<table style="border-collapse:collapse"><tr><th>mode</th><th>passes</th>'
            "<th>operations</th><th></th><th>time (best of "
            f"{max(1, self.repeats)})</th></tr>{rows}</table><p>{verdict}</p>")
        ok = r["agree"]
        self.agree_html.value = (
            f'<p style="color:{COLORS["input_border"] if ok else COLORS["adjoint"]}">'
            f"jacfwd and jacrev {'agree' if ok else 'DISAGREE'}: both Jacobians have shape "
            f"{r['shape']}, largest difference {r['max_abs_diff']:.3g}.</p>")


# ---------------------------------------------------------------------------------
# TrainingMonitor
# ---------------------------------------------------------------------------------

class TrainingMonitor(_Displayable):
    """A live loss (and accuracy) plot with a progress bar, for training loops.

    >>> mon = TrainingMonitor(total=100, title="MLP on digits")   # doctest: +SKIP
    >>> display(mon)                                              # doctest: +SKIP
    >>> for step in range(100):                                   # doctest: +SKIP
    ...     loss = train_step()
    ...     mon.update(step, loss)
    >>> mon.close()                                               # doctest: +SKIP

    The plot is redrawn at most every ``min_interval`` seconds (and every ``every``
    updates, if given), so drawing does not slow training; ``close()`` draws the final
    state. Steps may count from 0 (then step ``k`` means ``k + 1`` steps done) or from 1.
    It draws with matplotlib's Agg renderer into a PNG, so it needs no display.

    Attributes: ``history`` (list of ``{"step", "loss", "accuracy", "time"}``), ``total``,
    ``n_draws``, ``closed``, ``widget``.

    CSS classes: ``adlab-training-monitor``, ``adlab-progress`` (an ``IntProgress``),
    ``adlab-training-status``, ``adlab-plot`` (an ``Image``).
    """

    def __init__(self, total: int | None = None, title: str = "training",
                 min_interval: float = 0.2, every: int | None = None, logy: bool = False):
        if total is not None and (int(total) != total or total < 1):
            raise WidgetInputError(f"total must be a positive whole number, not {total!r}.")
        self.total = None if total is None else int(total)
        self.title, self.min_interval, self.every, self.logy = title, min_interval, every, logy
        self.history: list[dict] = []
        self.n_draws = 0
        self.closed = False
        self._t0 = time.perf_counter()
        self._last_draw = self._last_ui = -math.inf
        self._zero_based: bool | None = None
        self.progress = _with_class(W.IntProgress(value=0, min=0, max=self.total or 1,
                                                  description="steps",
                                                  bar_style="info"), "adlab-progress")
        self.status = _with_class(W.HTML("waiting for the first step"),
                                  "adlab-training-status")
        self.plot = _with_class(W.Image(format="png", layout=W.Layout(max_width="640px")),
                                "adlab-plot")
        self.widget = _with_class(W.VBox([
            W.HTML(f"<b>{html.escape(title)}</b>"), W.HBox([self.progress, self.status]),
            self.plot,
        ]), "adlab-training-monitor")

    @property
    def steps_done(self) -> int:
        if not self.history:
            return 0
        last = self.history[-1]["step"]
        return last + 1 if self._zero_based else last

    def update(self, step: int, loss: Any, accuracy: Any = None) -> None:
        """Record one step's loss (and accuracy); redraw if enough time has passed."""
        try:
            step = int(step)
            loss = float(raw(loss))
            accuracy = None if accuracy is None else float(raw(accuracy))
        except (TypeError, ValueError) as e:
            raise WidgetInputError(
                f"TrainingMonitor.update(step, loss, accuracy) takes numbers ({e}).") from None
        if self._zero_based is None:
            self._zero_based = step == 0
        self.history.append({"step": step, "loss": loss, "accuracy": accuracy,
                             "time": time.perf_counter() - self._t0})
        now = time.perf_counter()
        done = self.steps_done
        due = now - self._last_draw >= self.min_interval
        if self.every:
            due = due or len(self.history) % self.every == 0
        if self.total is not None and done >= self.total:
            due = True
        # the bar and the text are cheap but not free (each change is a message to the
        # browser): refresh them at most 20 times a second, and whenever the plot is
        if due or now - self._last_ui >= 0.05:
            self._refresh_ui()
        if due:
            self.redraw()

    def _refresh_ui(self) -> None:
        if not self.history:
            return
        done = self.steps_done
        if self.total is None:
            self.progress.max = max(done, 1)
        self.progress.value = min(done, self.progress.max)
        self.status.value = self._status_text()
        self._last_ui = time.perf_counter()

    def _status_text(self) -> str:
        h = self.history[-1]
        total = f" of {self.total}" if self.total else ""
        text = f"step {self.steps_done}{total} · loss {fmt(h['loss'])}"
        if h["accuracy"] is not None:
            text += f" · accuracy {h['accuracy']:.2%}" if h["accuracy"] <= 1 else \
                f" · accuracy {fmt(h['accuracy'])}"
        if not math.isfinite(h["loss"]):
            text += (f' <span style="color:{COLORS["adjoint"]}">the loss is '
                     f"{h['loss']}: training diverged; try a smaller learning rate</span>")
        return text

    def redraw(self) -> None:
        """Draw the plot now."""
        from matplotlib.figure import Figure

        steps = [h["step"] for h in self.history]
        accs = [(h["step"], h["accuracy"]) for h in self.history if h["accuracy"] is not None]
        fig = Figure(figsize=(7.5 if accs else 4.5, 2.8), dpi=80)
        ax = fig.add_subplot(1, 2 if accs else 1, 1)
        ax.plot(steps, [h["loss"] for h in self.history], color=COLORS["adjoint"], lw=1.5)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.set_title("loss", fontsize=10)
        if self.logy and all(h["loss"] > 0 for h in self.history):
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if accs:
            ax2 = fig.add_subplot(1, 2, 2)
            ax2.plot([s for s, _ in accs], [a for _, a in accs], color=COLORS["tangent"],
                     lw=1.5)
            ax2.set_xlabel("step")
            ax2.set_title("accuracy", fontsize=10)
            ax2.grid(alpha=0.3)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        self.plot.value = buf.getvalue()
        self.n_draws += 1
        self._last_draw = time.perf_counter()

    def close(self) -> None:
        """Final redraw; the bar turns green."""
        if self.history:
            self._refresh_ui()
            self.redraw()
        self.progress.bar_style = "success"
        self.closed = True

    def __enter__(self) -> TrainingMonitor:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

