"""ReverseStepper: the forward sweep, then the reverse sweep, one node at a time."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np

from adlab import fmt
from adlab.draw import COLORS, Graph, draw, node_expression
from adlab.trace import trace
from adlab.widgets._common import (
    WidgetInputError,
    _Displayable,
    _graph_html,
    _help,
    _message,
    _row,
    _with_class,
)

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
        self._readers = self.trace.readers()
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
        narrow = W.Layout(width="auto")  # as wide as the label, not a fixed 148 px
        self.prev_button = _with_class(W.Button(description="Prev", icon="step-backward",
                                                tooltip="one step back", layout=narrow),
                                       "adlab-prev")
        self.next_button = _with_class(W.Button(description="Next", icon="step-forward",
                                                tooltip="one step on", layout=narrow),
                                       "adlab-next")
        self.reset_button = _with_class(W.Button(description="Reset", tooltip="start again",
                                                 layout=narrow), "adlab-reset")
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
            _row([self.reset_button, self.prev_button, self.next_button, self.play,
                  self.slider]),
            self.status,
            self.message,
            self.graph_html,
            _row([self.adjoints_html, self.saved_html]),
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

    def _why_stored(self, name: str) -> str:
        """Why the forward sweep keeps ``name``'s value, or why it does not."""
        readers = self._readers.get(name)
        if readers:
            ops = ", ".join(f"{r} = {node_expression(self.trace[r])}" for r in readers)
            return f"Stored: the reverse rule of {ops} will read this value."
        users = [node for node in self.trace.nodes if name in node.inputs]
        if not users:
            return "Not stored: no operation uses it (it is the output)."
        reasons = []
        for user in users:
            prim = user.var._prim
            reads = {r for i in range(len(user.args)) for r in prim.reads_of(i)}
            why = ("its partials are constants, it reads no value" if not reads else
                   "it reads its own result instead" if reads == {"ans"} else
                   f"it reads {', '.join(sorted(reads))} only")
            reasons.append(f"{user.name} = {node_expression(user)}: {why}")
        return "Not stored: no reverse rule reads it (" + "; ".join(reasons) + ")."

    def status_text(self) -> str:
        """Phase, "step k of n" and what happens at the current node (HTML)."""
        p, n, phase, cur = self._position, self.n_steps, self.phase, self.current
        head = f"<b>{phase}</b> · step {p} of {n}"
        if p == 0:
            what = "Nothing computed yet. Press Next to start the forward sweep."
        elif phase == "forward":
            node = self.trace[cur]
            what = (f"current node <b>{html.escape(cur)}</b>: "
                    f"{html.escape(self._describe(cur))} = {html.escape(fmt.compact(node.value))}.")
            what += " " + self._why_stored(cur)
        elif phase == "reverse":
            total = self.adjoint_sums.get(cur)
            what = (f"current node <b>{html.escape(cur)}</b>: "
                    f"{html.escape(self._describe(cur))}. ")
            if total is None:
                what += "It does not influence the output: its adjoint is 0, nothing to push."
            else:
                what += (f"Its adjoint ∂f/∂{html.escape(cur)} = {html.escape(fmt.compact(total))} "
                         "is final. ")
                pushed = [(target, c.value) for target, terms in self.adjoints.items()
                          for c in terms if c.source == cur]
                if pushed:
                    what += "It pushes " + ", ".join(
                        f"{html.escape(fmt.compact(v))} to {html.escape(t)}"
                        for t, v in pushed) + "."
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
                grads.append(f"∂f/∂{html.escape(label)} = {html.escape(fmt.compact(value))}")
            what = "Done. The inputs' adjoints are the gradient: " + ", ".join(grads) + "."
        return f'<div style="padding:2px 0">{head} — {what}</div>'

    def adjoints_table(self) -> str:
        """Each node's contributions so far and their sum (HTML)."""
        adjoints, sums, final = self.adjoints, self.adjoint_sums, set(self.final)
        rows = []
        for name in self.names:
            terms = adjoints[name]
            parts = " + ".join(f"{html.escape(fmt.compact(c.value))} <small>(from "
                               f"{html.escape(c.source)})</small>" for c in terms) or "—"
            total = html.escape(fmt.compact(sums[name])) if name in sums else "—"
            state = ("final" if name in final else
                     "accumulating" if terms else "")
            style = (f' style="outline:2px solid {COLORS["highlight"]}"'
                     if name == self.current else "")
            label = self.trace[name].label
            shown = html.escape(name) + (f" ({html.escape(label)})" if label else "")
            rows.append(f"<tr{style}><td><b>{shown}</b></td>"
                        f'<td class="adlab-wrap">{parts}</td>'
                        f'<td class="adlab-num adlab-adjoint-text"><b>{total}</b></td>'
                        f"<td><small>{state}</small></td></tr>")
        return ('<div class="adlab-scroll-x"><table class="adlab-table" style="font-size:90%">'
                "<tr><th>node</th><th>contributions so far</th>"
                '<th class="adlab-num">adjoint (sum)</th>'
                "<th></th></tr>" + "".join(rows) + "</table></div>")

    def saved_text(self) -> str:
        """What reverse mode stores, and what it does not (HTML)."""
        computed = set(self.computed)
        items = "".join(
            f"<li>{html.escape(name)}{self._label(name)}: {nbytes} bytes"
            + ("" if name in computed else " <small>(not computed yet)</small>") + "</li>"
            for name, nbytes in self.saved)
        not_stored = ", ".join(html.escape(n) + self._label(n) for n in self.not_stored) or "—"
        return (f'<div style="font-size:90%; max-width:36em">'
                f"<b>Stored for the reverse sweep</b> ({self.saved_count} values, "
                f"{self.saved_bytes} bytes):<ul>{items or '<li>nothing</li>'}</ul>"
                f"<b>Not stored</b> (no local partial reads them): {not_stored}</div>")

    def _label(self, name: str) -> str:
        label = self.trace[name].label
        return f" ({html.escape(label)})" if label else ""
