"""SeedExplorer: forward-mode seeds, tangents and directional derivatives."""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np

from adlab import fmt
from adlab.draw import Graph, draw
from adlab.trace import trace
from adlab.widgets._common import (
    WidgetInputError,
    _graph_html,
    _help,
    _row,
    _SeedBoxes,
    _with_class,
    parse_seed,
    seed_kind,
)

# ---------------------------------------------------------------------------------
# SeedExplorer
# ---------------------------------------------------------------------------------

class SeedExplorer(_SeedBoxes):
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
        kind = seed_kind(self._seed, "partial")
        return "directional" if kind == "combination" else kind

    def _check_seed(self, value: Any) -> tuple:
        return parse_seed(value, self.labels, "input")

    # -- text --------------------------------------------------------------------------

    def derivative_text(self) -> str:
        """What the output's tangent is for this seed, in words (HTML)."""
        f, d = html.escape(self.output_label), fmt.compact(self.derivative)
        seed = "(" + ", ".join(fmt.compact(s) for s in self._seed) + ")"
        kind = self.kind
        if kind == "partial":
            j = next(k for k, s in enumerate(self._seed) if s != 0)
            x = html.escape(self.labels[j])
            return (f"Seed <b>{seed}</b> is one-hot on {x}, so the output's tangent is the "
                    f"<b>partial derivative ∂{f}/∂{x} = {d}</b>.")
        if kind == "zero":
            return (f"Seed <b>{seed}</b> is zero: no input moves, so the output's tangent "
                    f"is <b>{d}</b>.")
        terms = " + ".join(f"{fmt.compact(s)}·∂{f}/∂{html.escape(x)}"
                           for s, x in zip(self._seed, self.labels) if s != 0)
        grad = "∇" + f if np.ndim(self.derivative) == 0 else "J"
        return (f"Seed <b>{seed}</b> is not one-hot, so the output's tangent is the "
                f"<b>directional derivative {grad}·{seed} = {terms} = {d}</b> "
                f"(the rate of change of {f} along the seed, not normalised).")

    # -- widgets -----------------------------------------------------------------------

    def _build(self) -> None:
        controls = self._seed_controls(self.labels, self.labels, "adlab-seed")
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
            _row(controls),  # wraps in a narrow column
            self.derivative_html,
            self.message,
            self.graph_html,
        ]), "adlab-seed-explorer")

    def _refresh(self) -> None:
        self.message.value = ""
        self.derivative_html.value = self.derivative_text()
        self.graph = draw(self.trace, mode="tangent", seed=self._seed,
                          partials=self.partials, rankdir=self.rankdir)
        self.graph_html.value = _graph_html(self.graph)
