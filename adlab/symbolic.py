r"""Symbolic differentiation: derivatives as formulas, and why they swell.

A symbolic differentiator works on *expressions*, not numbers. It applies the textbook
rules (sum, product, quotient, chain rule) to a formula and returns another formula,
valid for every input:

>>> x = Symbol("x")
>>> e = 4 * x * (1 - x)
>>> print(diff(e, x))
(0*x + 4*1)*(1 - x) + 4*x*(0 - 1)
>>> print(simplify(diff(e, x)))
4*(1 - x) - 4*x

The raw result shows the catch. The product rule :math:`(uv)' = u'v + uv'` copies
:math:`u` and :math:`v` into the result, so a formula in which a subexpression is used
twice (:math:`l_{n+1} = 4 l_n (1 - l_n)`) gets a derivative about twice as big at every
level: **expression swell**. Written as a tree the derivative grows exponentially with
:math:`n`; with shared subexpressions (a DAG, :func:`dag_size`) it stays small, and
that shared form is exactly what an AD trace records (:func:`expression_swell`).

Expressions are immutable trees of :class:`Symbol`, :class:`Const` and :class:`Op`
nodes built with ``+ - * / **`` and :func:`sin` :func:`cos` :func:`exp` :func:`log`
:func:`tanh`. They compare structurally (``x * x == x * x``). Every walk over an
expression is iterative and visits each distinct node object once, so deep or heavily
shared expressions cost neither recursion depth nor exponential time.
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from adlab import fmt
from adlab import ops as _ops
from adlab.core import method
from adlab.draw import COLORS, Graph
from adlab.trace import trace

__all__ = ["Expr", "Symbol", "Const", "Op", "sin", "cos", "exp", "log", "tanh", "diff",
           "simplify", "evaluate", "to_function", "to_latex", "tree_size", "dag_size",
           "draw", "SwellRecord", "MAPS", "expression_swell", "plot_swell"]

# name: (number of arguments, NumPy evaluation, adlab evaluation)
OPS: dict[str, tuple[int, Callable, Callable]] = {
    "add": (2, np.add, _ops.add), "sub": (2, np.subtract, _ops.sub),
    "mul": (2, np.multiply, _ops.mul), "div": (2, np.divide, _ops.div),
    "pow": (2, np.power, _ops.pow), "neg": (1, np.negative, _ops.neg),
    "sin": (1, np.sin, _ops.sin), "cos": (1, np.cos, _ops.cos),
    "exp": (1, np.exp, _ops.exp), "log": (1, np.log, _ops.log),
    "tanh": (1, np.tanh, _ops.tanh),
}


class Expr:
    """An immutable expression node. ``op`` names it, ``args`` holds its operands."""

    __slots__ = ("op", "args", "symbols", "_hash")
    __array_ufunc__ = None  # np.float64(2) * x calls x.__rmul__, not NumPy's loop

    def _init(self, op: str, args: tuple, symbols: frozenset) -> None:
        for name, value in (("op", op), ("args", args), ("symbols", symbols),
                            ("_hash", hash((op, *(hash(a) for a in args))))):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("expressions are immutable: build a new one instead")

    @property
    def children(self) -> tuple[Expr, ...]:
        """The operand expressions (none for a symbol or a constant)."""
        return self.args if isinstance(self, Op) else ()

    # structural equality: same operation on equal operands. Iterative, and each pair
    # of node objects is compared once, so shared subtrees cost nothing extra.
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Expr):
            return NotImplemented
        stack, seen = [(self, other)], set()
        while stack:
            a, b = stack.pop()
            if a is b or (id(a), id(b)) in seen:
                continue
            if a._hash != b._hash or a.op != b.op or len(a.args) != len(b.args):
                return False
            if not isinstance(a, Op):
                if a.args != b.args:
                    return False
                continue
            seen.add((id(a), id(b)))
            stack.extend(zip(a.args, b.args))
        return True

    def __hash__(self) -> int:
        return self._hash

    # arithmetic builds new nodes, and nothing else: no simplification on the way
    def __add__(self, o): return Op("add", self, o)
    def __radd__(self, o): return Op("add", o, self)
    def __sub__(self, o): return Op("sub", self, o)
    def __rsub__(self, o): return Op("sub", o, self)
    def __mul__(self, o): return Op("mul", self, o)
    def __rmul__(self, o): return Op("mul", o, self)
    def __truediv__(self, o): return Op("div", self, o)
    def __rtruediv__(self, o): return Op("div", o, self)
    def __pow__(self, o): return Op("pow", self, o)
    def __rpow__(self, o): return Op("pow", o, self)
    def __neg__(self): return Op("neg", self)
    def __pos__(self): return self

    def __str__(self) -> str:
        return _render(self, latex=False)

    def __repr__(self) -> str:
        if not isinstance(self, Op):
            return str(self)
        size = tree_size(self)  # written out, a swollen expression can outgrow memory
        return f"Expr({self})" if size <= 2000 else (
            f"Expr(<{self.op}: {size} nodes as a tree, {dag_size(self)} as a DAG>)")

    def latex(self) -> str:
        """The expression as LaTeX (without dollar signs)."""
        return _render(self, latex=True)

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"


class Symbol(Expr):
    """A named variable: ``x = Symbol("x")``."""

    __slots__ = ()

    def __init__(self, name: str):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"Symbol({name!r}): a symbol's name must be an identifier "
                             "such as 'x' or 'x1'")
        self._init("symbol", (name,), frozenset([name]))

    @property
    def name(self) -> str:
        return self.args[0]


class Const(Expr):
    """A number: ``Const(2.0)``. Python numbers in expressions become constants."""

    __slots__ = ()

    def __init__(self, value: float):
        self._init("const", (float(value),), frozenset())

    @property
    def value(self) -> float:
        return self.args[0]


class Op(Expr):
    """An operation on operands: ``Op("mul", a, b)``, ``Op("sin", a)``. See ``OPS``."""

    __slots__ = ()

    def __init__(self, op: str, *args: Expr | float):
        if op not in OPS:
            raise ValueError(f"Op({op!r}): unknown operation; known: {', '.join(OPS)}")
        if len(args) != OPS[op][0]:
            raise TypeError(f"Op({op!r}) takes {OPS[op][0]} operand(s), got {len(args)}")
        args = tuple(_as_expr(a) for a in args)
        self._init(op, args, frozenset().union(*(a.symbols for a in args)))


def _as_expr(a) -> Expr:
    if isinstance(a, Expr):
        return a
    if isinstance(a, (int, float, np.integer, np.floating)) and not isinstance(a, bool):
        return Const(a)
    raise TypeError(f"cannot put a {type(a).__name__} ({a!r}) into an expression: use "
                    "numbers, Symbols and expressions")


def _function(name: str):
    def apply(a):
        # expressions build nodes; anything else (numbers, adlab values) is evaluated, so
        # one program runs symbolically and under AD alike
        return Op(name, a) if isinstance(a, Expr) else OPS[name][2](a)
    apply.__name__ = name
    apply.__doc__ = f"{name}(a): an expression node for an expression, adlab's {name} otherwise."
    return apply


sin, cos, exp, log, tanh = (_function(n) for n in ("sin", "cos", "exp", "log", "tanh"))


# ---------------------------------------------------------------------------------
# Walking an expression: every distinct node object once, operands first
# ---------------------------------------------------------------------------------

def _postorder(expr: Expr) -> list[Expr]:
    order, done, stack = [], set(), [(expr, False)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if expanded:
            done.add(id(node))
            order.append(node)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node.children) if id(c) not in done)
    return order


def _fold(expr: Expr, combine: Callable[[Expr, list], Any]) -> Any:
    """``combine(node, [results of its operands])`` for every node, bottom-up."""
    results: dict[int, Any] = {}
    for node in _postorder(expr):
        results[id(node)] = combine(node, [results[id(c)] for c in node.children])
    return results[id(expr)]


def tree_size(expr: Expr) -> int:
    """Nodes of the expression written out as a tree (a repeated subexpression counts
    every time it appears). ``tree_size(x * x) == 3``."""
    return _fold(expr, lambda node, sizes: 1 + sum(sizes))


def dag_size(expr: Expr) -> int:
    """Distinct subexpressions (structurally equal subtrees counted once), the size of
    the expression as a DAG with sharing. ``dag_size(x * x) == 2``."""
    distinct: dict[tuple, int] = {}
    _fold(expr, lambda node, keys: distinct.setdefault(
        (node.op, *(keys or node.args)), len(distinct)))
    return len(distinct)


# ---------------------------------------------------------------------------------
# Differentiation: the textbook rules
# ---------------------------------------------------------------------------------

# d/dx op(a, b) from the operands a, b and their derivatives da, db
DERIVATIVES: dict[str, Callable[..., Expr]] = {
    "add": lambda a, b, da, db: da + db,
    "sub": lambda a, b, da, db: da - db,
    "mul": lambda a, b, da, db: da * b + a * db,                      # product rule
    "div": lambda a, b, da, db: (da * b - a * db) / b ** 2,           # quotient rule
    "pow": lambda a, b, da, db: b * a ** (b - 1) * da,                # b free of x
    "neg": lambda a, da: -da,
    "sin": lambda a, da: cos(a) * da,                                 # chain rule ...
    "cos": lambda a, da: -sin(a) * da,
    "exp": lambda a, da: exp(a) * da,
    "log": lambda a, da: da / a,
    "tanh": lambda a, da: (1 - tanh(a) ** 2) * da,
}


@method("sym.diff")
def diff(expr: Expr, x: Symbol | str) -> Expr:
    r"""The derivative :math:`\partial\,\mathrm{expr}/\partial x`, by the textbook rules.

    Nothing is simplified and nothing is shared: the product rule writes both factors
    into the result again, as a pencil-and-paper derivation does. Apply
    :func:`simplify` to tidy up, :func:`tree_size` to measure the swell.

    >>> x, y = Symbol("x"), Symbol("y")
    >>> print(diff(x * y + sin(x), x))
    1*y + x*0 + cos(x)*1
    """
    name = x.name if isinstance(x, Symbol) else x

    def rule(node: Expr, d: list[Expr]) -> Expr:
        if isinstance(node, Symbol):
            return Const(1.0 if node.name == name else 0.0)
        if isinstance(node, Const):
            return Const(0.0)
        if node.op == "pow":
            a, b = node.args
            if name in b.symbols:  # d(a^b) = a^b (b' log a + b a'/a)
                return node * (d[1] * log(a) + b * d[0] / a)
            if isinstance(b, Const):  # n a^(n-1) a': the n - 1 is part of the rule
                return b * a ** Const(b.value - 1) * d[0]
        return DERIVATIVES[node.op](*node.args, *d)

    return _fold(expr, rule)


# ---------------------------------------------------------------------------------
# Simplification: constant folding and the usual identities, bottom-up
# ---------------------------------------------------------------------------------

def _is(e: Expr, value: float) -> bool:
    return isinstance(e, Const) and e.value == value


def _make(op: str, *args: Expr) -> Expr:
    """``Op(op, *args)`` with constants folded and identities applied (args are simple)."""
    if all(isinstance(a, Const) for a in args):
        with np.errstate(all="ignore"):
            value = float(OPS[op][1](*(a.value for a in args)))
        # keep 0/0, log(-1) ... as written: no identity may turn them into numbers
        return Const(value) if math.isfinite(value) else Op(op, *args)
    out = _identity(op, *args)
    return Op(op, *args) if out is None else out


def _identity(op: str, a: Expr, b: Expr | None = None) -> Expr | None:
    """A simpler expression equal to ``op(a, b)``, or None when no rule applies."""
    neg_a, neg_b = a.op == "neg", b is not None and b.op == "neg"
    if op == "add":
        return (b if _is(a, 0) else a if _is(b, 0) else _make("mul", Const(2), a) if a == b
                else _make("sub", b, a.args[0]) if neg_a
                else _make("sub", a, b.args[0]) if neg_b else None)
    if op == "sub":
        return (a if _is(b, 0) else _make("neg", b) if _is(a, 0) else Const(0) if a == b
                else _make("add", a, b.args[0]) if neg_b else None)
    if op == "mul":
        if _is(a, 0) or _is(b, 0):
            return Const(0)
        if isinstance(a, Const) and b.op == "mul" and isinstance(b.args[0], Const):
            return _make("mul", Const(a.value * b.args[0].value), b.args[1])  # 2*(3*x)
        return (b if _is(a, 1) else a if _is(b, 1) else _make("neg", b) if _is(a, -1)
                else _make("neg", a) if _is(b, -1) else _make("pow", a, Const(2)) if a == b
                else _make("neg", _make("mul", a.args[0], b)) if neg_a
                else _make("neg", _make("mul", a, b.args[0])) if neg_b else None)
    if op == "div":
        return (Const(0) if _is(a, 0) else a if _is(b, 1) else Const(1) if a == b
                else _make("neg", _make("div", a.args[0], b)) if neg_a else None)
    if op == "pow":
        return Const(1) if _is(b, 0) or _is(a, 1) else a if _is(b, 1) else None
    if op == "neg":
        return a.args[0] if neg_a else None
    if op == "log":
        return a.args[0] if a.op == "exp" else None
    return None


def simplify(expr: Expr) -> Expr:
    """An equal, usually smaller expression: constants folded (``2*3`` → ``6``,
    ``sin(0)`` → ``0``) and identities applied bottom-up (``x + 0``, ``x*1``, ``x*0``,
    ``x**1``, ``x**0``, ``0/x``, ``x - x``, ``x/x``, ``x*x``, ``-(-x)``, ``log(exp(x))``,
    ``a + (-b)``, ``(-a)*b`` ...).

    ``x*0 → 0`` and ``x/x → 1`` hold wherever ``x`` is finite (and nonzero): the usual
    convention of computer algebra.

    >>> x = Symbol("x")
    >>> print(simplify((0*x + 4*1)*(1 - x) + 4*x*(0 - 1)))
    4*(1 - x) - 4*x
    """
    def tidy(node: Expr, args: list[Expr]) -> Expr:
        if not isinstance(node, Op):
            return node
        out = _make(node.op, *args)
        unchanged = out.op == node.op and all(a is b for a, b in zip(out.args, node.args))
        return node if unchanged else out  # an unchanged node stays the same object

    return _fold(expr, tidy)


# ---------------------------------------------------------------------------------
# Numbers from expressions
# ---------------------------------------------------------------------------------

def _evaluate(expr: Expr, env: Mapping[str, Any], column: int) -> Any:
    def value(node: Expr, args: list) -> Any:
        if isinstance(node, Const):
            return node.value
        if isinstance(node, Symbol):
            if node.name not in env:
                raise KeyError(f"evaluate: no value for the symbol {node.name!r}; got values "
                               f"for {sorted(env) or 'nothing'}")
            return env[node.name]
        return OPS[node.op][column](*args)

    return _fold(expr, value)


def evaluate(expr: Expr, values: Mapping[str | Symbol, Any]) -> Any:
    """The value of ``expr`` with NumPy, symbols taken from ``values`` (numbers, arrays,
    complex numbers all work): ``evaluate(x * y, {"x": 2.0, "y": np.arange(3)})``."""
    env = {k.name if isinstance(k, Symbol) else k: v for k, v in values.items()}
    return _evaluate(expr, env, 1)


def to_function(expr: Expr, symbols: Sequence[Symbol | str]) -> Callable:
    """A Python function of ``symbols`` (in that order) that computes ``expr`` with
    adlab's operations, so AD runs on it: ``ad.grad(to_function(e, [x]))(2.0)``."""
    names = [s.name if isinstance(s, Symbol) else s for s in symbols]
    missing = expr.symbols - set(names)
    if missing:
        raise ValueError(f"to_function: the expression uses {sorted(missing)} too; list "
                         "every symbol it contains")

    def f(*args):
        if len(args) != len(names):
            raise TypeError(f"this function takes {len(names)} argument(s) "
                            f"({', '.join(names)}), got {len(args)}")
        return _evaluate(expr, dict(zip(names, args)), 2)

    f.__name__ = "f"
    f.__signature__ = inspect.Signature(  # so traces and errors name the arguments
        [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])
    text = str(expr) if tree_size(expr) <= 200 else f"an expression of {tree_size(expr)} nodes"
    f.__doc__ = f"f({', '.join(names)}) = {text}, computed with adlab's operations"
    return f


# ---------------------------------------------------------------------------------
# Text and LaTeX, with the fewest parentheses
# ---------------------------------------------------------------------------------

_ADD, _MUL, _NEG, _POW, _ATOM = range(1, 6)  # binding strength, loosest first
_PREC = {"add": _ADD, "sub": _ADD, "mul": _MUL, "div": _MUL, "neg": _NEG, "pow": _POW}
_TEXT = {"add": " + ", "sub": " - ", "mul": "*", "div": "/", "pow": "**"}
_TEX = {"add": " + ", "sub": " - ", "mul": r" \cdot "}


def _number(v: float, latex: bool) -> str:
    text = fmt.number(v)
    if latex and "e" in text:
        mantissa, power = text.split("e")
        return rf"{mantissa} \cdot 10^{{{int(power)}}}"
    return text


def _render(expr: Expr, latex: bool) -> str:
    paren = (lambda s: rf"\left({s}\right)") if latex else (lambda s: f"({s})")

    def show(node: Expr, parts: list[tuple[str, int]]) -> tuple[str, int]:
        if isinstance(node, Symbol):
            m = re.fullmatch(r"([A-Za-z]+)_?(\d+)", node.name)
            return (f"{m[1]}_{{{m[2]}}}" if latex and m else node.name), _ATOM
        if isinstance(node, Const):
            return _number(node.value, latex), _NEG if node.value < 0 else _ATOM
        op = node.op
        if len(parts) == 1:
            (a, pa), = parts
            if op == "neg":
                return "-" + (paren(a) if pa <= _NEG else a), _NEG
            name = rf"\{op}" if latex else op
            return name + paren(a), _ATOM
        (a, pa), (b, pb) = parts
        prec = _PREC[op]
        if latex and op == "div":
            return rf"\frac{{{a}}}{{{b}}}", _POW
        if op == "pow":
            a = paren(a) if pa <= _POW else a
            return (f"{{{a}}}^{{{b}}}" if latex else a + "**" + (paren(b) if pb <= _POW
                                                                  else b)), _POW
        a = paren(a) if pa < prec else a
        # a - (b + c), a/(b*c), a*(-b): the right operand binds on its own
        b = paren(b) if pb < prec or (pb == prec and op in ("sub", "div")) or pb == _NEG else b
        return a + (_TEX if latex else _TEXT)[op] + b, prec

    return _fold(expr, show)[0]


def to_latex(expr: Expr) -> str:
    r"""The expression as LaTeX: ``to_latex(x / (1 + x**2))`` is ``\frac{x}{1 + {x}^{2}}``."""
    return expr.latex()


# ---------------------------------------------------------------------------------
# Pictures
# ---------------------------------------------------------------------------------

_LABEL = {"add": "+", "sub": "−", "mul": "×", "div": "÷", "pow": "^", "neg": "− (negate)"}


def draw(expr: Expr, as_dag: bool = False, max_nodes: int | None = 300, rankdir: str = "BT"):
    """The expression as a graphviz picture, operands flowing into their operation.

    As a tree (default) a repeated subexpression is drawn every time it occurs; with
    ``as_dag=True`` structurally equal subtrees are drawn once and feed every use,
    as in a computational graph. Shows as SVG in JupyterLab (or its DOT source when
    Graphviz is missing).
    """
    size = dag_size(expr) if as_dag else tree_size(expr)
    if max_nodes is not None and size > max_nodes:
        raise ValueError(
            f"draw(): this expression has {size} nodes as a {'DAG' if as_dag else 'tree'}, "
            f"more than max_nodes={max_nodes}. Simplify it, draw it with as_dag=True, or "
            "pass max_nodes=None.")
    what = (f"DAG: {size} distinct subexpressions (as a tree: {tree_size(expr)})" if as_dag
            else f"tree: {size} nodes (as a DAG: {dag_size(expr)})")
    g = Graph(name="expression", graph_attr={
        "rankdir": rankdir, "ordering": "in", "label": what, "labelloc": "t",
        "fontname": "Helvetica", "fontsize": "12", "bgcolor": "white"},
        node_attr={"fontname": "Helvetica", "fontsize": "11", "shape": "box",
                   "style": "rounded", "margin": "0.08,0.04", "color": COLORS["value"]},
        edge_attr={"color": COLORS["edge"], "arrowsize": "0.7"})
    g.mode = "dag" if as_dag else "tree"

    def add_node(name: str, node: Expr) -> None:
        if isinstance(node, Symbol):
            g.node(name, node.name, color=COLORS["input_border"], penwidth="2")
        elif isinstance(node, Const):
            g.node(name, _number(node.value, False), color=COLORS["muted"],
                   fontcolor=COLORS["muted"])
        else:
            g.node(name, _LABEL.get(node.op, node.op), shape="ellipse")

    if as_dag:
        ids: dict[Expr, str] = {}
        for node in _postorder(expr):
            if node not in ids:
                ids[node] = f"e{len(ids)}"
                add_node(ids[node], node)
                for child in node.children:
                    g.edge(ids[child], ids[node])
    else:  # every occurrence gets its own node
        stack, count = [(expr, None)], 0
        while stack:
            node, parent = stack.pop()
            name, count = f"t{count}", count + 1
            add_node(name, node)
            if parent is not None:
                g.edge(name, parent)
            stack.extend((c, name) for c in reversed(node.children))
    return g


# ---------------------------------------------------------------------------------
# Expression swell, measured
# ---------------------------------------------------------------------------------

#: Iterated maps u -> map(u). Each is written once and runs on symbols and on adlab values.
MAPS: dict[str, Callable] = {
    "logistic": lambda u: 4 * u * (1 - u),   # l_{n+1} = 4 l_n (1 - l_n)
    "sine": lambda u: sin(u),                # u_{n+1} = sin(u_n): no product, little swell
}


@dataclass(frozen=True)
class SwellRecord:
    """Sizes after ``n`` steps of an iterated map (see :func:`expression_swell`)."""

    n: int
    expr_tree: int        # l_n itself, as a tree
    expr_dag: int         # l_n with shared subexpressions
    diff_tree: int        # dl_n/dx by the textbook rules, as a tree
    diff_dag: int         # the same derivative with shared subexpressions
    simplified_tree: int  # simplify(dl_n/dx), as a tree
    simplified_dag: int
    trace_nodes: int      # len(ad.trace(program, x0).nodes): inputs and operations
    reverse_terms: int    # adjoint contributions the reverse sweep adds up


def expression_swell(n_max: int = 8, map: str | Callable = "logistic",
                     x0: float = 0.3) -> list[SwellRecord]:
    r"""Sizes of :math:`l_n` and :math:`dl_n/dx` for :math:`l_0 = x`,
    :math:`l_{n+1} = \mathrm{map}(l_n)`, for n = 1 ... n_max, next to the AD trace of the
    same program run on ``x0``.

    For the logistic map the derivative written as a tree roughly doubles with every
    step (the product rule copies both factors); simplification shrinks it but keeps
    the exponential growth. Shared (as a DAG), and in the AD trace, the growth is linear:
    the trace adds three operations per step.
    """
    step = MAPS[map] if isinstance(map, str) else map
    x = Symbol("x")
    records, l_n = [], x
    for n in range(1, n_max + 1):
        l_n = step(l_n)
        d = diff(l_n, x)
        s = simplify(d)

        def program(u, n=n):
            for _ in range(n):
                u = step(u)
            return u

        t = trace(program, x0)
        records.append(SwellRecord(n, tree_size(l_n), dag_size(l_n), tree_size(d),
                                   dag_size(d), tree_size(s), dag_size(s), len(t.nodes),
                                   len(t.reverse().sweep)))
    return records


def plot_swell(records: Sequence[SwellRecord], title: str | None = None):
    """A matplotlib Figure: sizes against n on a log scale. A straight line there is
    exponential growth (the derivative as a tree); a flattening curve is linear growth
    (the DAG, the AD trace)."""
    from matplotlib.figure import Figure

    n = [r.n for r in records]
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.subplots()
    for key, label, style in [
        ("diff_tree", "symbolic derivative, as a tree", "o-"),
        ("simplified_tree", "symbolic derivative, simplified, as a tree", "s-"),
        ("diff_dag", "symbolic derivative, shared subexpressions (DAG)", "^--"),
        ("trace_nodes", "AD trace of the program (nodes)", "D-"),
        ("reverse_terms", "AD reverse sweep (adjoint terms)", "v:"),
    ]:
        ax.semilogy(n, [getattr(r, key) for r in records], style, label=label)
    ax.set_xlabel("n (steps of the map)")
    ax.set_ylabel("size (nodes, log scale)")
    ax.set_xticks(n)
    ax.set_title(title or "Expression swell: exponential as a tree, linear when shared")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    return fig
