r"""ReverseSeedExplorer: reverse-mode seeds, adjoints and rows of the Jacobian.

Forward mode's seed is the inputs' tangent :math:`\dot x` and gives a column
:math:`J\dot x`; reverse mode's seed is the outputs' adjoint (cotangent) :math:`\bar y` and
gives a row :math:`\bar y^\top J`. For :math:`f:\mathbb{R}^n\to\mathbb{R}^m` a one-hot
:math:`\bar y = e_i` picks row :math:`i` of the Jacobian, :math:`\nabla f_i`, in one
reverse sweep; any other :math:`\bar y` gives the weighted sum of rows
:math:`\sum_i \bar y_i \nabla f_i` (what backpropagation computes when a loss weighs the
outputs); the whole Jacobian takes :math:`m` sweeps, one per output.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import Any

import ipywidgets as W
import numpy as np

from adlab import fmt
from adlab.core import raw
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


class ReverseSeedExplorer(_SeedBoxes):
    r"""Reverse mode, seed by seed: choose the output seed :math:`\bar y`, see every
    node's adjoint and the row :math:`\bar y^\top J` it produces.

    ``ReverseSeedExplorer(f, *args)`` records ``trace = ad.trace(f, *args)`` for scalar
    inputs and a scalar or 1-D output (``ad.stack([...])`` for several outputs). The
    seed has one number per output. A one-hot seed (1 on :math:`y_i`) makes the inputs'
    adjoints row :math:`i` of the Jacobian; any other seed gives :math:`\bar y^\top J`.

    Attributes: ``trace``, ``seed`` (a tuple, one float per output; setting it redraws),
    ``adjoints`` (node name → adjoint, ``trace.reverse(seed)``), ``row`` (the inputs'
    adjoints, :math:`\bar y^\top J`), ``jacobian`` (the whole :math:`m\times n` Jacobian,
    from :math:`m` one-hot sweeps, for comparison), ``kind`` (``"row"``, ``"combination"``
    or ``"zero"``), ``graph``, ``widget``.

    CSS classes: ``adlab-reverse-seed-explorer`` (the container), ``adlab-out-seed`` (one
    FloatText per output), ``adlab-preset`` (buttons "seed y1", ...), ``adlab-row`` (the
    row and what it is), ``adlab-jacobian`` (the Jacobian, the rows in use marked),
    ``adlab-graph``, ``adlab-message``.

    >>> f = lambda x1, x2: ad.stack([x1 * x2, ad.sin(x1), x1 + x2 ** 2])  # doctest: +SKIP
    >>> r = ReverseSeedExplorer(f, 2.0, 3.0)                              # doctest: +SKIP
    >>> r.seed = (0, 0, 1); r.row                                         # doctest: +SKIP
    (1.0, 6.0)
    """

    def __init__(self, f: Callable, *args: Any, partials: bool = True,
                 output_labels: list[str] | None = None, rankdir: str = "LR"):
        self.trace = trace(f, *args)
        self.partials, self.rankdir = partials, rankdir
        inputs = [self.trace[name] for name in self.trace.inputs]
        if not inputs:
            raise WidgetInputError("ReverseSeedExplorer needs a function of at least one input.")
        arrays = [node for node in inputs if np.ndim(node.value) != 0]
        if arrays:
            node = arrays[0]
            raise WidgetInputError(
                f"ReverseSeedExplorer lists one adjoint per scalar input, but input "
                f"{node.label or node.name} has shape {np.shape(node.value)}. Wrap f so that "
                "it takes scalars (e.g. lambda a, b: f(ad.stack([a, b]))).")
        value = np.asarray(raw(self.trace.value))
        if value.ndim > 1:
            raise WidgetInputError(
                f"ReverseSeedExplorer needs a number or a 1-D array as output, not shape "
                f"{value.shape}: return ad.ravel(...) of it, or ad.stack([...]) of the "
                "outputs you want to seed.")
        self.labels = [node.label or node.name for node in inputs]
        m = 1 if value.ndim == 0 else value.shape[0]
        if output_labels is None:
            output_labels = ["y"] if m == 1 else [f"y{i + 1}" for i in range(m)]
        if len(output_labels) != m:
            raise WidgetInputError(
                f"output_labels needs one label per output: f has {m}, got "
                f"{len(output_labels)}.")
        self.output_labels = list(output_labels)
        self._scalar = value.ndim == 0
        self.jacobian = np.array([self._sweep(self._one_hot(i)) for i in range(m)])
        self._syncing = False
        self.graph: Graph | None = None
        self._build()
        self.seed = self._one_hot(0)

    # -- state -------------------------------------------------------------------------

    def _one_hot(self, i: int) -> tuple:
        return tuple(1.0 if k == i else 0.0 for k in range(len(self.output_labels)))

    def _as_out_seed(self, seed: tuple) -> Any:
        return seed[0] if self._scalar else np.array(seed, dtype=float)

    def _sweep(self, seed: tuple) -> tuple:
        adjoints = self.trace.reverse(self._as_out_seed(seed))
        return tuple(float(raw(adjoints[name])) for name in self.trace.inputs)

    @property
    def seed(self) -> tuple:
        """The output adjoint, one float per output. Setting it redraws everything."""
        return self._seed

    @seed.setter
    def seed(self, value: Any) -> None:
        seed = self._check_seed(value)
        self._adjoints = self.trace.reverse(self._as_out_seed(seed))
        self._seed = seed
        self._sync_boxes()
        self._refresh()

    @property
    def adjoints(self) -> dict:
        """Node name → adjoint for the current seed (``trace.reverse(seed)``)."""
        return self._adjoints

    @property
    def row(self) -> tuple:
        r"""The inputs' adjoints: :math:`\bar y^\top J` for the current seed."""
        return tuple(float(raw(self._adjoints[name])) for name in self.trace.inputs)

    @property
    def kind(self) -> str:
        """``"row"`` (one-hot seed), ``"zero"`` or ``"combination"``."""
        return seed_kind(self._seed, "row")

    def _check_seed(self, value: Any) -> tuple:
        return parse_seed(value, self.output_labels, "output")

    # -- text --------------------------------------------------------------------------

    def row_text(self) -> str:
        """What the inputs' adjoints are for this seed, in words (HTML)."""
        esc = html.escape
        seed = "(" + ", ".join(fmt.compact(s) for s in self._seed) + ")"
        row = "(" + ", ".join(fmt.compact(r) for r in self.row) + ")"
        bars = ", ".join(f"x̄{esc(x[1:]) if x.startswith('x') else '(' + esc(x) + ')'}"
                         for x in self.labels)
        kind = self.kind
        if kind == "row":
            i = next(k for k, s in enumerate(self._seed) if s != 0)
            y = esc(self.output_labels[i])
            what = "the gradient" if len(self._seed) == 1 else f"row {i + 1} of the Jacobian"
            return (f"Seed ȳ = <b>{seed}</b> is one-hot on {y}, so the inputs' adjoints "
                    f"({bars}) are <b>{what}, ∇{y} = {row}</b>: every ∂{y}/∂x from one "
                    "reverse sweep.")
        if kind == "zero":
            return (f"Seed ȳ = <b>{seed}</b> is zero: nothing flows back, every adjoint is "
                    f"0, row {row}.")
        terms = " + ".join(f"{fmt.compact(s)}·∇{esc(y)}"
                           for s, y in zip(self._seed, self.output_labels) if s != 0)
        return (f"Seed ȳ = <b>{seed}</b> is not one-hot, so the inputs' adjoints are "
                f"<b>ȳᵀJ = {terms} = {row}</b>: a weighted sum of the Jacobian's rows, the "
                "gradient of ȳ·y (what a loss that weighs the outputs sends back).")

    def jacobian_html(self) -> str:
        """The Jacobian as a table; the rows the seed uses are marked with their weights."""
        esc = html.escape
        head = "".join(f"<th>∂/∂{esc(x)}</th>" for x in self.labels)
        body = []
        for i, (label, row) in enumerate(zip(self.output_labels, self.jacobian)):
            weight = self._seed[i]
            style = ' style="font-weight:bold"' if weight != 0 else ""
            cells = "".join(f"<td>{esc(fmt.compact(v))}</td>" for v in row)
            note = f"× {esc(fmt.compact(weight))}" if weight != 0 else ""
            body.append(f"<tr{style}><th>∇{esc(label)}</th>{cells}<td>{note}</td></tr>")
        row = "".join(f"<td>{esc(fmt.compact(v))}</td>" for v in self.row)
        body.append(f'<tr style="border-top:1px solid var(--jp-border-color1, #888)">'
                    f"<th>ȳᵀJ</th>{row}<td></td></tr>")
        return (f'<div class="adlab-scroll-x"><table class="adlab-table adlab-jacobian-table" '
                f'style="font-family:monospace">'
                f"<thead><tr><th></th>{head}<th>seed</th></tr></thead>"
                f'<tbody>{"".join(body)}</tbody></table></div>')

    # -- widgets -----------------------------------------------------------------------

    def _build(self) -> None:
        bars = [label[:1] + "\u0304" + label[1:] for label in self.output_labels]  # ȳ1, ...
        controls = self._seed_controls(self.output_labels, bars, "adlab-out-seed")
        self.row_html = _with_class(W.HTML(), "adlab-row")
        self.jacobian_box = _with_class(W.HTML(), "adlab-jacobian")
        self.message = _with_class(W.HTML(), "adlab-message")
        self.graph_html = _with_class(W.HTML(), "adlab-graph")
        m, n = len(self.output_labels), len(self.labels)
        helptext = (
            "The reverse <b>seed</b> ȳ is the adjoint of the <b>outputs</b>: how much each "
            "output counts. Reverse mode pushes it back through every operation (red "
            "numbers, each node's adjoint) and the inputs receive ȳᵀJ. A one-hot seed picks "
            f"one row of the {m}×{n} Jacobian, all {n} partial derivatives of one output in "
            f"one sweep; the whole Jacobian takes {m} sweeps, one per output. (Forward "
            "mode's seed belongs to the inputs and gives a column.)")
        self.widget = _with_class(W.VBox([
            _help(helptext),
            _row(controls),  # wraps in a narrow column
            self.row_html,
            self.jacobian_box,
            self.message,
            self.graph_html,
        ]), "adlab-reverse-seed-explorer")

    def _refresh(self) -> None:
        self.message.value = ""
        self.row_html.value = self.row_text()
        self.jacobian_box.value = self.jacobian_html()
        self.graph = draw(self.trace, mode="adjoint", seed=self._as_out_seed(self._seed),
                          partials=self.partials, rankdir=self.rankdir)
        self.graph_html.value = _graph_html(self.graph)
