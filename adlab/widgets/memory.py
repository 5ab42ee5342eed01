"""CheckpointExplorer: where checkpoints sit, and what that does to memory, measured."""

from __future__ import annotations

import math
import time
import tracemalloc
from typing import Any

import ipywidgets as W
import numpy as np

from adlab import fmt, ops
from adlab.counting import count_work
from adlab.draw import COLORS
from adlab.memory import checkpoint, checkpoint_peak, saved_memory, segment_lengths
from adlab.transforms import grad
from adlab.widgets._common import (
    WidgetInputError,
    _Displayable,
    _help,
    _with_class,
)

PLACEMENTS = ("input", "output")


def _layers(h, *Ws):
    for W_l in Ws:
        h = ops.tanh(ops.matmul(h, W_l))
    return h


class CheckpointExplorer(_Displayable):
    r"""Checkpoint part of a deep tanh chain and measure the gradient's memory and time.

    The chain is :math:`h_l = \tanh(h_{l-1} W_l)` for :math:`l = 1..L` with the loss
    :math:`\sum h_L^2`, on a seeded input of ``batch`` rows and ``width`` columns (one
    activation: ``activation_bytes = 8 * batch * width``). ``m`` of its layers are
    checkpointed in segments of ``k`` (the last one shorter if ``k`` does not divide
    ``m``), at the ``"input"`` end or the ``"output"`` end (``placement``). For each plan
    it measures, with ``ad.grad`` by the input:

    * ``stored_bytes``: what the forward sweep keeps for the rules (``ad.saved_memory``);
    * ``peak_bytes``: the most memory allocated at once during ``ad.grad`` (tracemalloc);
    * ``seconds``: the best time of a gradient over ``repeats`` runs, and
      ``plain_seconds``, the same without checkpoints;
    * ``operations``: elementary operations evaluated (``ad.count_work``), and
      ``plain_operations`` without checkpoints: the difference is the recomputation;
    * ``identical``: whether the gradient equals the plain one bit for bit;

    next to the model :func:`adlab.memory.checkpoint_peak`: ``model_peak`` in
    activations, for adlab's recording of two activations a layer (``tanh`` and the
    product ``h @ W``), ``model_peak_bytes``, and ``model_values``, the peak of an engine
    that keeps one value a layer. All of it is in the dict ``result``.

    Set ``.m``, ``.k`` or ``.placement`` (or use the controls) to measure again;
    ``set(m=..., k=..., placement=...)`` changes several at once. A value that does not
    make sense raises :class:`WidgetInputError` from code and shows the same message in
    the widget when it comes from a control.

    CSS classes: ``adlab-checkpoint-explorer`` (container), ``adlab-m`` and ``adlab-k``
    (IntSliders), ``adlab-placement`` (ToggleButtons), ``adlab-message``,
    ``adlab-chain`` (the layers, coloured by plan), ``adlab-memory`` (measured against
    the model, with bars).
    """

    def __init__(self, L: int = 32, m: int = 32, k: int = 6, placement: str = "input",
                 batch: int = 64, width: int = 32, seed: int = 0, repeats: int = 3,
                 max_layers: int = 96):
        self.max_layers = int(max_layers)
        self.L = self._whole(L, "L", 1, self.max_layers)
        self.batch = self._whole(batch, "batch", 1, 4096)
        self.width = self._whole(width, "width", 1, 1024)
        self.repeats = max(1, int(repeats))
        self.activation_bytes = 8 * self.batch * self.width
        rng = np.random.default_rng([seed, self.L, self.batch, self.width])
        self.x = rng.standard_normal((self.batch, self.width))
        self.weights = [rng.standard_normal((self.width, self.width)) / math.sqrt(self.width)
                        for _ in range(self.L)]
        self._segment = checkpoint(_layers)
        self._m, self._k, self._placement = self._validated(m, k, placement)
        self._plain = self._plain_reference()
        self._syncing = False
        self._build()
        self._measure()

    # -- the plan ----------------------------------------------------------------------

    @staticmethod
    def _whole(v: Any, name: str, low: int, high: int) -> int:
        try:
            n = int(v)
        except (TypeError, ValueError):
            raise WidgetInputError(f"{name} must be a whole number, not {v!r}.") from None
        if n != v or not low <= n <= high:
            raise WidgetInputError(f"{name} must be a whole number from {low} to {high}, "
                                   f"not {v!r}.")
        return n

    def _validated(self, m: Any, k: Any, placement: Any) -> tuple[int, int, str]:
        m = self._whole(m, "m (the checkpointed layers)", 0, self.L)
        if m == 0:
            k = 1
        k = self._whole(k, "k (the segment length)", 1, max(m, 1))
        if placement not in PLACEMENTS:
            raise WidgetInputError(f"placement must be 'input' or 'output', not "
                                   f"{placement!r}.")
        return m, k, placement

    def set(self, m: Any = None, k: Any = None, placement: Any = None) -> None:
        """Change several parts of the plan at once, then measure (``None``: keep)."""
        m = self._m if m is None else m
        k = self._k if k is None else k
        self._m, self._k, self._placement = self._validated(
            m, k, self._placement if placement is None else placement)
        self._measure()

    @property
    def m(self) -> int:
        """Checkpointed layers (0: none)."""
        return self._m

    @m.setter
    def m(self, value: Any) -> None:
        value = self._whole(value, "m (the checkpointed layers)", 0, self.L)
        self.set(m=value, k=min(self._k, max(value, 1)))

    @property
    def k(self) -> int:
        """Segment length."""
        return self._k

    @k.setter
    def k(self, value: Any) -> None:
        self.set(k=value)

    @property
    def placement(self) -> str:
        """``"input"`` (layers 1..m checkpointed) or ``"output"`` (layers L-m+1..L)."""
        return self._placement

    @placement.setter
    def placement(self, value: Any) -> None:
        self.set(placement=value)

    def loss(self, m: int | None = None, k: int | None = None,
             placement: str | None = None):
        """The loss of a plan (this widget's plan by default), as a function of x."""
        m = self._m if m is None else m
        k = self._k if k is None else k
        placement = placement or self._placement
        Ws, segment, L = self.weights, self._segment, self.L
        start = 0 if placement == "input" else L - m

        def loss(x):
            h = _layers(x, *Ws[:start])
            for i in range(start, start + m, k):
                h = segment(h, *Ws[i:min(i + k, start + m)])
            return ops.sum(_layers(h, *Ws[start + m:]) ** 2)

        return loss

    # -- measuring -----------------------------------------------------------------------

    def _plain_reference(self) -> dict:
        g = grad(self.loss(0, 1, "input"))
        with count_work() as work:
            gradient = g(self.x)
        return {"gradient": gradient, "operations": work.operations,
                "seconds": self._best_time(g)}

    def _best_time(self, g) -> float:
        best = math.inf
        for _ in range(self.repeats):
            t0 = time.perf_counter()
            g(self.x)
            best = min(best, time.perf_counter() - t0)
        return best

    def _peak(self, g) -> int:
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            g(self.x)
            return tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()

    def _measure(self) -> None:
        m, k, placement, L, A = self._m, self._k, self._placement, self.L, self.activation_bytes
        f = self.loss()
        g = grad(f)
        with count_work() as work:
            gradient = g(self.x)
        peak = self._peak(g)
        model = checkpoint_peak(L, m, k, placement, per_layer=2)
        self.result = {
            "L": L, "m": m, "k": k, "placement": placement,
            "segments": segment_lengths(m, k) if m else [],
            "activation_bytes": A,
            "stored_bytes": saved_memory(f, self.x).nbytes,
            "peak_bytes": peak, "peak_activations": peak / A,
            "model_peak": model, "model_peak_bytes": model * A,
            "model_values": checkpoint_peak(L, m, k, placement, per_layer=1),
            "plain_model_peak": 2 * L,
            "seconds": self._best_time(g), "plain_seconds": self._plain["seconds"],
            "operations": work.operations, "plain_operations": self._plain["operations"],
            "recomputed_layers": m,
            "identical": bool(np.array_equal(gradient, self._plain["gradient"])),
        }
        self._refresh()

    # -- widgets -----------------------------------------------------------------------

    def _build(self) -> None:
        style = {"description_width": "9em"}
        self.m_slider = _with_class(W.IntSlider(
            value=self._m, min=0, max=self.L, description="checkpointed m",
            continuous_update=False, style=style), "adlab-m")
        self.k_slider = _with_class(W.IntSlider(
            value=self._k, min=1, max=max(self._m, 1), description="segment length k",
            continuous_update=False, style=style), "adlab-k")
        self.placement_buttons = _with_class(W.ToggleButtons(
            options=[("input end", "input"), ("output end", "output")],
            value=self._placement, description="segments at", style=style),
            "adlab-placement")
        self.m_slider.observe(lambda c: self._from_control("m", c["new"]), names="value")
        self.k_slider.observe(lambda c: self._from_control("k", c["new"]), names="value")
        self.placement_buttons.observe(lambda c: self._from_control("placement", c["new"]),
                                       names="value")
        self.message = _with_class(W.HTML(), "adlab-message")
        self.chain_html = _with_class(W.HTML(), "adlab-chain")
        self.memory_html = _with_class(W.HTML(), "adlab-memory")
        helptext = (
            f"A chain of L = {self.L} layers h<sub>l</sub> = tanh(h<sub>l-1</sub> "
            f"W<sub>l</sub>) on a batch of {self.batch} × {self.width} (one activation: "
            f"{fmt.count(self.activation_bytes)} bytes). Checkpoint m layers in segments of "
            "k, at the input end or at the output end, and compare the memory "
            "<code>ad.grad</code> needs with the model. At the input end the plain layers "
            "are swept and freed before any segment is recomputed; at the output end they "
            "are all still alive then."
        )
        self.widget = _with_class(W.VBox([
            _help(helptext), W.HBox([self.m_slider, self.k_slider]),
            self.placement_buttons, self.message, self.chain_html, self.memory_html,
        ]), "adlab-checkpoint-explorer")

    def _refresh(self) -> None:
        self._syncing = True
        try:
            self.m_slider.value = self._m
            self.k_slider.max = max(self._m, 1)
            self.k_slider.value = self._k
            self.k_slider.disabled = self._m == 0
            self.placement_buttons.value = self._placement
        finally:
            self._syncing = False
        self.message.value = ""
        self.chain_html.value = self._chain_picture()
        self.memory_html.value = self._memory_table()

    def _chain_picture(self) -> str:
        r = self.result
        start = 0 if r["placement"] == "input" else r["L"] - r["m"]
        colours, segment_of = [], {}
        position = start
        for n, length in enumerate(r["segments"]):
            for i in range(position, position + length):
                segment_of[i] = n
            position += length
        for i in range(r["L"]):
            if i in segment_of:
                shade = COLORS["tangent"] if segment_of[i] % 2 == 0 else COLORS["input_border"]
                colours.append(f'<span title="layer {i + 1}: segment {segment_of[i] + 1}" '
                               f'style="display:inline-block; width:8px; height:14px; '
                               f'margin-right:1px; background:{shade}"></span>')
            else:
                colours.append(f'<span title="layer {i + 1}: recorded" style="display:'
                               f'inline-block; width:8px; height:14px; margin-right:1px; '
                               f'background:{COLORS["muted"]}"></span>')
        plan = ("no checkpoints" if not r["m"] else
                f"{len(r['segments'])} segment(s) of {r['k']} at the {r['placement']} end "
                f"(lengths {', '.join(map(str, r['segments']))})")
        return (f"<p>input → {''.join(colours)} → loss<br><small>grey: recorded as usual; "
                f"coloured: checkpointed ({plan})</small></p>")

    def _memory_table(self) -> str:
        r = self.result
        A = r["activation_bytes"]
        top = max(r["peak_bytes"], r["model_peak_bytes"], r["plain_model_peak"] * A, 1)

        def bar(nbytes: float, colour: str) -> str:
            width = max(2, round(260 * nbytes / top))
            return (f'<div style="background:{colour}; width:{width}px; height:12px; '
                    'display:inline-block"></div>')

        def row(label: str, nbytes: float, colour: str) -> str:
            return (f"<tr><td>{label}</td><td style='text-align:right'>{fmt.count(int(nbytes))}"
                    f" B</td><td style='text-align:right'>{nbytes / A:.1f}</td>"
                    f"<td>{bar(nbytes, colour)}</td></tr>")

        rows = (row("model peak (adlab: 2 activations a recorded layer)",
                    r["model_peak_bytes"], COLORS["input_border"])
                + row("measured peak during ad.grad (tracemalloc)", r["peak_bytes"],
                      COLORS["adjoint"])
                + row("kept by the forward sweep (ad.saved_memory)", r["stored_bytes"],
                      COLORS["tangent"])
                + row("model peak without checkpoints", r["plain_model_peak"] * A,
                      COLORS["muted"]))
        extra = r["operations"] - r["plain_operations"]
        same = "identical to" if r["identical"] else "DIFFERENT from"
        return (
            '<div class="adlab-scroll-x"><table class="adlab-table"><tr><th></th>'
            f"<th>bytes</th><th>activations</th><th></th></tr>{rows}</table></div>"
            f"<p>An engine keeping one value a layer would peak at {r['model_values']} "
            f"activations. Work: {r['operations']} operations against "
            f"{r['plain_operations']} without checkpoints ({extra:+d}: the {r['m']} "
            f"recomputed layers); time {fmt.number(r['seconds'] * 1e3, 3)} ms against "
            f"{fmt.number(r['plain_seconds'] * 1e3, 3)} ms (best of {self.repeats}). "
            f"The gradient is {same} the one without checkpoints.</p>")
