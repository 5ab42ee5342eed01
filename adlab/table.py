r"""Evaluation-trace tables in the style of the AD literature.

For ``z = x1 * x2 + sin(x1)`` at (2, 3) the three columns begin::

    forward primal trace     forward tangent trace, seed (1, 0)
    v-1 =  x1       = 2      v-1_dot =  x1_dot (seed)               = 1
    v1  =  v-1 * v0 = 6      v1_dot  =  v-1_dot * v0 + v-1 * v0_dot = 3

    reverse adjoint trace, seed 1
    v3_bar  =  seed              = 1
    v-1_bar += v2_bar * cos(v-1) = -0.416147

Nothing here is written by hand per operation. Each formula comes from running the
primitive's own rule (its evaluation, its JVP rule or its VJP rule, from
:mod:`adlab.ops`) on *symbols* instead of numbers: a :class:`Sym` is a box that
carries a piece of text (``"v2_bar"``) and the real value, and every operation on it
writes down what it did. So the table shows exactly the arithmetic the engine does,
and the numbers beside the formulas come from :meth:`Trace.forward` and
:meth:`Trace.reverse`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any

import numpy as np

from adlab import fmt
from adlab.core import Box, Level, raw
from adlab.ops import Primitive

# ---------------------------------------------------------------------------------
# Symbols: boxes that write down what is done to them
# ---------------------------------------------------------------------------------

ATOM, POWER, UNARY, PRODUCT, SUM = 5, 4, 3, 2, 1  # precedence, tightest first
_INFIX = {"add": ("+", SUM), "sub": ("-", SUM), "mul": ("*", PRODUCT),
          "div": ("/", PRODUCT), "matmul": ("@", PRODUCT), "pow": ("**", POWER)}


class SymbolicLevel(Level):
    """Runs primitives on :class:`Sym` arguments, producing formulas (and values)."""

    __slots__ = ()

    def process(self, prim: Primitive, args: tuple, params: dict) -> Any:
        values = tuple(a.value if isinstance(a, Sym) and a._level is self else a for a in args)
        value = prim(*values, **params)
        text, prec = _render(prim, args, params, self)
        if text is None:  # the formula simplified to a plain constant
            return value
        return Sym(value, text, prec, self)


class Sym(Box):
    """A named value whose operations are recorded as text."""

    __slots__ = ("text", "prec")

    def __init__(self, value: Any, text: str, prec: int, level: SymbolicLevel):
        self.value, self.text, self.prec, self._level = value, text, prec, level

    def __repr__(self) -> str:
        return self.text


def _const_kind(x) -> str | None:
    """"zero" / "one" / "minus_one" for constants that simplify away, else None."""
    if isinstance(x, Sym):
        return None
    a = np.asarray(raw(x))
    if a.dtype == bool:
        a = a.astype(float)
    if a.size == 0 or a.dtype.kind not in "biuf":
        return None
    if np.all(a == 0):
        return "zero"
    if a.size == 1 and a.item() == 1:
        return "one"
    if a.size == 1 and a.item() == -1:
        return "minus_one"
    return None


def _term(x, level) -> tuple[str, int]:
    if isinstance(x, Sym) and x._level is level:
        return x.text, x.prec
    x = raw(x)
    if np.ndim(x) == 0:
        if np.asarray(x).dtype == bool:
            x = float(x)  # a condition in arithmetic is 0 or 1
        return fmt.number(x), (ATOM if float(x) >= 0 else UNARY)
    a = np.asarray(x)
    if a.dtype == bool:
        return "[0/1 mask]", ATOM
    return f"c{list(a.shape)}", ATOM  # an array constant: shown by its shape


def _wrap(text: str, prec: int, need: int) -> str:
    return f"({text})" if prec < need else text


def _render(prim: Primitive, args: tuple, params: dict, level) -> tuple[str | None, int]:
    name = prim.name
    terms = [_term(a, level) for a in args]
    kinds = [_const_kind(a) for a in args]
    if name in _INFIX:
        (ta, pa), (tb, pb) = terms
        ka, kb = kinds
        if name == "add":
            if ka == "zero":
                return tb, pb
            if kb == "zero":
                return ta, pa
            if pb == UNARY and tb.startswith("-"):  # a + -b is a - b
                return f"{_wrap(ta, pa, SUM)} - {_wrap(tb[1:], ATOM, SUM + 1)}", SUM
        if name == "sub":
            if kb == "zero":
                return ta, pa
            if ka == "zero":
                return "-" + _wrap(tb, pb, UNARY + 1), UNARY
        if name == "mul":
            if "zero" in (ka, kb):
                return None, ATOM
            if ka == "one":
                return tb, pb
            if kb == "one":
                return ta, pa
            if ka == "minus_one":
                return "-" + _wrap(tb, pb, UNARY + 1), UNARY
        if name == "div" and kb == "one":
            return ta, pa
        if name == "pow" and kb == "one":
            return ta, pa
        symbol, prec = _INFIX[name]
        if name == "pow":  # right-associative
            return f"{_wrap(ta, pa, prec + 1)} ** {_wrap(tb, pb, prec)}", prec
        right_need = prec if name in ("add", "mul") else prec + 1
        return f"{_wrap(ta, pa, prec)} {symbol} {_wrap(tb, pb, right_need)}", prec
    (tx, px) = terms[0]
    if name == "neg":
        if px == UNARY and tx.startswith("-"):  # -(-x) is x
            return tx[1:], ATOM
        return "-" + _wrap(tx, px, UNARY + 1), UNARY
    if name == "broadcast_to":  # broadcasting is implicit in the formulas
        return tx, px
    if name == "reshape" and _squeezed(np.shape(raw(args[0]))) == _squeezed(params["shape"]):
        return tx, px  # only axes of length 1 added or removed: implicit too
    if name == "transpose":
        axes = params.get("axes")
        n = np.ndim(raw(args[0]))
        if axes is None and n == 2 or axes is not None and n >= 2 and \
                tuple(a % n for a in axes) == tuple(range(n - 2)) + (n - 1, n - 2):
            return _wrap(tx, px, ATOM) + "ᵀ", ATOM
    if name == "getitem":
        return f"{_wrap(tx, px, ATOM)}[{_fmt_index(params.get('idx'))}]", ATOM
    if name == "abs":
        return f"|{tx}|", ATOM
    shown = [t for t, _ in terms]
    for key, value in params.items():
        if value is None or value is False or key == "idx":
            continue
        shown.append(f"{key}={value!r}")
    return f"{name}({', '.join(shown)})", ATOM


def _squeezed(shape) -> tuple:
    shape = (shape,) if isinstance(shape, int) else tuple(shape)
    return tuple(n for n in shape if n != 1)


def _fmt_index(idx) -> str:
    parts = idx if isinstance(idx, tuple) else (idx,)
    out = []
    for p in parts:
        if isinstance(p, slice):
            out.append(":".join("" if v is None else str(v) for v in (p.start, p.stop, p.step))
                       .rstrip(":") or ":")
        elif p is Ellipsis:
            out.append("...")
        elif p is None:
            out.append("None")
        elif isinstance(p, np.ndarray):
            out.append(fmt.array(p))
        else:
            out.append(str(p))
    return ", ".join(out)


def _text(x) -> str:
    """A rule's result as text (a Sym, or a constant when everything simplified away)."""
    if isinstance(x, Sym):
        return x.text
    return _term(x, None)[0]


# ---------------------------------------------------------------------------------
# Formulas of one node
# ---------------------------------------------------------------------------------

def _symbols(node, level, suffix: str = ""):
    """Each argument of ``node``: a Sym named after its input node, or the constant."""
    out = []
    for a, p in zip(node.args, node.var.parents):
        if p is not None:
            out.append(Sym(raw(p.value), f"{a}{suffix}", ATOM, level))
        else:
            out.append(a)
    return out


def primal_formula(node) -> str:
    """``v1 = v-1 * v0``: the operation of one trace node, written with node names."""
    if node.op == "input":
        return node.label or node.name
    level = SymbolicLevel()
    result = node.var._prim(*_symbols(node, level), **node.params)
    return _text(result)


def tangent_formula(node) -> str:
    """``v-1_dot * v0 + v-1 * v0_dot``: the node's JVP rule applied to symbolic tangents."""
    if node.op == "input":
        return f"{node.label or node.name}_dot (seed)"
    level = SymbolicLevel()
    var = node.var
    args = _symbols(node, level)
    tangents = [Sym(np.zeros_like(raw(a.value), dtype=float), f"{a.text}_dot", ATOM, level)
                if isinstance(a, Sym) else None for a in args]
    ans = Sym(raw(var.value), node.name, ATOM, level)
    t = var._prim.jvp(tangents, ans, tuple(args), node.params)
    return "0" if t is None else _text(t)


def adjoint_formula(node, i: int) -> str:
    """``v2_bar * v-1``: what the node's VJP rule adds to its ``i``-th input's adjoint."""
    level = SymbolicLevel()
    var = node.var
    args = _symbols(node, level)
    g = Sym(np.ones_like(raw(var.value), dtype=float), f"{node.name}_bar", ATOM, level)
    ans = Sym(raw(var.value), node.name, ATOM, level)
    return _text(var._prim.vjp(i, g, ans, tuple(args), node.params))


def partial_formula(node, i: int) -> str:
    """The local partial ∂node/∂(input i) as text, e.g. ``cos(v-1)`` for a sine.

    This is the VJP rule with the adjoint replaced by 1 (exact for elementwise
    operations; for others it is the rule's action on a unit adjoint).
    """
    level = SymbolicLevel()
    var = node.var
    args = _symbols(node, level)
    ans = Sym(raw(var.value), node.name, ATOM, level)
    one = np.ones_like(raw(var.value), dtype=float)[()]
    return _text(var._prim.vjp(i, one, ans, tuple(args), node.params))


# ---------------------------------------------------------------------------------
# The table
# ---------------------------------------------------------------------------------

@dataclass
class Row:
    """One line of a trace table: ``lhs op formula = value``.

    In the adjoint trace ``value`` is what the line adds (its increment) and ``total``
    the adjoint after the line: the last line of an adjoint shows its final value.
    """

    lhs: str
    op: str  # "=" or "+="
    formula: str
    value: Any
    total: Any = None

    def text(self) -> str:
        return f"{self.lhs} {self.op} {self.formula}"


class Table:
    """The forward primal, forward tangent and reverse adjoint traces, side by side.

    ``.primal``, ``.tangent`` and ``.adjoint`` are lists of :class:`Row`. The adjoint
    rows follow the reverse sweep: the seed first, then one ``+=`` row for every
    contribution, in the order the sweep adds them, read top-down like the other two
    columns. Each adjoint row shows its increment and the running total of that
    adjoint (:attr:`Row.total`), so an adjoint's last row holds its final value
    (Baydin et al.'s Table 3 prints the totals). Shown as HTML in a notebook and as
    aligned plain text in a terminal (``str(table)``).
    """

    def __init__(self, trace, seed=None, out_seed: Any = 1.0, tangent: bool = True,
                 adjoint: bool = True):
        self.trace = trace
        self.primal = [Row(n.name, "=", primal_formula(n), n.value) for n in trace.nodes]
        self.tangent: list[Row] = []
        self.adjoint: list[Row] = []
        self.seed = self.out_seed = None
        if tangent:
            if seed is None:
                seed = tuple(1.0 if k == 0 else 0.0 for k in range(len(trace.inputs)))
            tangents = trace.forward(seed)
            self.seed = tangents.seed
            self.tangent = [Row(f"{n.name}_dot", "=", tangent_formula(n), tangents[n.name])
                            for n in trace.nodes]
        if adjoint and trace.output is not None:
            adjoints = trace.reverse(out_seed)
            self.out_seed = adjoints.seed
            self.adjoint = self._adjoint_rows(adjoints)

    def _adjoint_rows(self, adjoints) -> list[Row]:
        trace = self.trace
        rows = [Row(f"{trace.output}_bar", "=", "seed", adjoints.seed, adjoints.seed)]
        totals: dict[str, Any] = {}
        for source, i, target, value in adjoints.sweep:  # in the order the sweep added them
            totals[target] = value if target not in totals else totals[target] + value
            rows.append(Row(f"{target}_bar", "+=", adjoint_formula(trace[source], i), value,
                            totals[target]))
        return rows

    # -- text ------------------------------------------------------------------------

    def columns(self) -> list[tuple[str, list[Row]]]:
        cols = [("forward primal trace", self.primal)]
        if self.tangent:
            seed = ", ".join(fmt.compact(s) for s in self.seed)
            cols.append((f"forward tangent trace, seed ({seed})", self.tangent))
        if self.adjoint:
            cols.append((f"reverse adjoint trace, seed {fmt.compact(self.out_seed)}",
                         self.adjoint))
        return cols

    def __str__(self) -> str:
        cols = self.columns()
        blocks = []
        for title, rows in cols:
            lhs_w = max((len(r.lhs) for r in rows), default=0)
            cells = [f"{r.lhs:<{lhs_w}} {r.op:<2} {r.formula}" for r in rows]
            width = max([len(c) for c in cells] + [1])
            lines = [f"{c:<{width}} = {fmt.compact(r.value)}" for c, r in zip(cells, rows)]
            if rows is self.adjoint:  # the increments, then each adjoint's running total
                value_w = max(len(line) for line in lines)
                lines = [f"{line:<{value_w}}   {r.lhs} = {fmt.compact(r.total)}"
                         for line, r in zip(lines, rows)]
                title = f"{title:<{value_w}}   adjoint so far"
            width = max([len(line) for line in lines] + [len(title)])
            blocks.append([title.ljust(width), "-" * width] + [ln.ljust(width) for ln in lines])
        height = max(len(b) for b in blocks)
        for b in blocks:
            b += [" " * len(b[0])] * (height - len(b))
        return "\n".join("   ".join(parts).rstrip() for parts in zip(*blocks))

    __repr__ = __str__

    def _repr_html_(self) -> str:
        cols = self.columns()
        height = max(len(rows) for _, rows in cols)
        esc = html.escape
        mono = "font-family:monospace"
        head = "".join(
            f'<th colspan="2" style="text-align:left">{esc(t)}</th>'
            + ('<th style="text-align:left;padding-left:1.5em">adjoint so far</th>'
               if rows is self.adjoint else "") for t, rows in cols)
        body = []
        for k in range(height):
            cells = []
            for _, rows in cols:
                total = rows is self.adjoint
                if k < len(rows):
                    r = rows[k]
                    cells.append(f'<td style="text-align:left;{mono}">{esc(r.text())}</td>'
                                 f'<td style="text-align:right;{mono}">'
                                 f'{esc(fmt.compact(r.value))}</td>')
                    if total:
                        cells.append(f'<td class="adlab-total" style="text-align:left;{mono};'
                                     f'padding-left:1.5em" title="the adjoint after this line">'
                                     f'{esc(r.lhs)} = {esc(fmt.compact(r.total))}</td>')
                else:
                    cells.append("<td></td><td></td>" + ("<td></td>" if total else ""))
            body.append("<tr>" + "".join(cells) + "</tr>")
        return (f'<table class="adlab-table"><thead><tr>{head}</tr></thead>'
                f'<tbody>{"".join(body)}</tbody></table>')


def table(trace, seed=None, out_seed: Any = 1.0, tangent: bool = True,
          adjoint: bool = True) -> Table:
    """The trace table of ``trace`` (see :class:`Table`); ``seed`` is the input tangent
    (default: 1 on the first input, 0 on the others), ``out_seed`` the output adjoint."""
    return Table(trace, seed=seed, out_seed=out_seed, tangent=tangent, adjoint=adjoint)
