r"""Evaluation traces: one run of a program, recorded as data.

``trace(f, *args)`` runs ``f`` once and keeps every elementary operation it performed,
in order, as a list of nodes. Following the AD literature (Griewank and Walther), the
:math:`n` inputs are named :math:`v_{1-n}, \dots, v_0` and the intermediate results
:math:`v_1, v_2, \dots` in evaluation order. For ``z = x1 * x2 + sin(x1)``::

    v-1 = x1          = 2
    v0  = x2          = 3
    v1  = v-1 * v0    = 6
    v2  = sin(v-1)    = 0.909297
    v3  = v1 + v2     = 6.909297

The trace is a directed acyclic graph (``v-1`` is used twice) that records what the
program did on this run. Forward mode, reverse mode and the list of stored values are
computed from it with the same primitive rules that ``jvp`` and ``grad`` use.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from adlab.core import AdlabError, gc_paused, raw
from adlab.reverse import Tape, Var, backward_sweep, reverse_order
from adlab.tree import as_float


@dataclass(eq=False)
class Node:
    """One step of a trace: ``name = op(args...)`` with its value."""

    name: str
    op: str
    args: tuple  # input node names (str) and constants, in argument order
    value: Any
    params: dict = field(default_factory=dict)
    label: str | None = None  # the program's own name for an input (x1, x2, ...)
    var: Var | None = field(default=None, repr=False)

    @property
    def inputs(self) -> tuple[str, ...]:
        """Names of the nodes this one reads."""
        return tuple(a for a in self.args if isinstance(a, _Ref))

    @property
    def shape(self) -> tuple:
        return np.shape(self.value)

    def expression(self) -> str:
        """``mul(v-1, v0)``-style text of this step."""
        if self.op == "input":
            return self.label or self.name
        parts = [str(a) if isinstance(a, _Ref) else _short(a) for a in self.args]
        parts += [f"{k}={v!r}" for k, v in self.params.items()]
        return f"{self.op}({', '.join(parts)})"


_SHOW_AT_MOST = 200  # nodes a trace draws and tabulates by itself in a notebook


class _Ref(str):
    """A node name inside ``Node.args`` (a plain ``str`` could be a constant)."""


class Contribution(NamedTuple):
    """One term of an adjoint's sum: ``value`` arrived from node ``source``."""

    source: str
    value: Any


class Tangents(dict):
    """Node name → tangent, from :meth:`Trace.forward`. ``.seed`` is the seed used."""

    seed: tuple = ()


class Adjoints(dict):
    """Node name → adjoint, from :meth:`Trace.reverse`.

    ``.contributions[name]`` lists the separate terms that were summed into that
    adjoint, in the order the reverse sweep added them (the seed comes from
    ``"seed"``). A node used twice has two terms.
    """

    seed: Any = None
    contributions: dict[str, list[Contribution]]
    #: every term in the order the sweep added it: (source, argnum, target, value)
    sweep: list[tuple[str, int, str, Any]]


class Trace:
    """The evaluation trace of one run of a function (see :func:`trace`).

    Attributes
    ----------
    nodes:
        The steps in evaluation order, inputs first.
    inputs:
        Names of the input nodes.
    output:
        Name of the output node (``None`` if the output does not depend on the inputs).
    """

    def __init__(self, fname: str, leaves: list[Var], recorded: list[Var], out: Any,
                 labels: list[str]):
        self.fname = fname
        n = len(leaves)
        names: dict[int, _Ref] = {}
        self.nodes: list[Node] = []
        for i, (v, label) in enumerate(zip(leaves, labels)):
            names[id(v)] = _Ref(f"v{i + 1 - n}")
            self.nodes.append(Node(names[id(v)], "input", (), raw(v.value), {}, label, v))
        for k, v in enumerate(recorded, start=1):
            names[id(v)] = _Ref(f"v{k}")
            args = tuple(names[id(p)] if p is not None else _const(a)
                         for p, a in zip(v.parents, v.args))
            self.nodes.append(Node(names[id(v)], v._prim.name, args, raw(v.value),
                                   dict(v._params), None, v))
        self._names = names
        self._by_name = {node.name: node for node in self.nodes}
        self.inputs = [node.name for node in self.nodes[:n]]
        self._out = out if isinstance(out, Var) and id(out) in names else None
        self.output = names[id(self._out)] if self._out is not None else None
        self.value = raw(out.value if isinstance(out, Var) else out)

    def __getitem__(self, name: str) -> Node:
        return self._by_name[name]

    def __len__(self) -> int:
        return len(self.nodes)

    def __iter__(self):
        return iter(self.nodes)

    # -- forward mode --------------------------------------------------------------

    def forward(self, seed: Any) -> Tangents:
        r"""Forward mode over the trace: every node's tangent for the input ``seed``.

        ``seed`` has one entry per input (the input tangents :math:`\dot v_{1-n},
        \dots, \dot v_0`). Each node's tangent comes from its primitive's JVP rule,
        :math:`\dot v_k = \sum_i \frac{\partial v_k}{\partial v_i}\dot v_i`, in evaluation
        order. Seed (1, 0, ...) gives the partial derivatives with respect to the first
        input; any other seed gives a directional derivative.
        """
        seed = self._seed_tuple(seed)
        tangents = Tangents()
        tangents.seed = seed
        by_id: dict[int, Any] = {}
        for node, s in zip(self.nodes, seed):
            by_id[id(node.var)] = tangents[node.name] = s
        for node in self.nodes[len(self.inputs):]:
            v = node.var
            ts = [by_id[id(p)] if p is not None else None for p in v.parents]
            t = v._prim.jvp(ts, v.value, v.args, v._params)
            t = np.zeros_like(node.value, dtype=float)[()] if t is None else t
            by_id[id(v)] = tangents[node.name] = raw(t)
        return tangents

    def _seed_tuple(self, seed) -> tuple:
        n = len(self.inputs)
        if n == 1 and (np.ndim(seed) == 0 or np.shape(seed) == self.nodes[0].shape) \
                and not isinstance(seed, (tuple, list)):
            seed = (seed,)
        seed = tuple(seed)
        if len(seed) != n:
            raise AdlabError(
                f"forward() needs one seed entry per input: this trace has {n} inputs "
                f"({', '.join(self.inputs)}) but the seed has {len(seed)} entries. Seed "
                "(1, 0, ...) picks the derivative with respect to the first input."
            )
        out = []
        for node, s in zip(self.nodes, seed):
            s = as_float(s, f"the seed for {node.name}")
            if np.shape(s) != node.shape:
                s = np.broadcast_to(s, node.shape).astype(float) if np.ndim(s) == 0 else s
            if np.shape(s) != node.shape:
                raise AdlabError(f"the seed for input {node.name} has shape {np.shape(s)} "
                                 f"but the input has shape {node.shape}")
            out.append(s)
        return tuple(out)

    # -- reverse mode --------------------------------------------------------------

    def reverse(self, seed: Any = 1.0) -> Adjoints:
        r"""Reverse mode over the trace: every node's adjoint for the output ``seed``.

        The sweep visits the nodes from last to first; each pushes
        :math:`\bar v_k\,\partial v_k/\partial v_i` into the adjoint of each input
        :math:`v_i`. The terms are kept: ``result.contributions["v-1"]`` lists them.
        """
        adjoints = Adjoints()
        adjoints.contributions = {node.name: [] for node in self.nodes}
        adjoints.sweep = []
        if self._out is None:
            for node in self.nodes:
                adjoints[node.name] = np.zeros_like(node.value, dtype=float)[()]
            return adjoints
        shape = self[self.output].shape
        seed = as_float(seed, "the reverse seed")
        if np.shape(seed) != shape:
            raise AdlabError(
                f"reverse(): the seed is the output's adjoint and must have the output's "
                f"shape {shape}, not {np.shape(seed)}."
            )
        adjoints.seed = seed
        names = self._names
        adjoints.contributions[self.output].append(Contribution("seed", seed))
        found: dict[int, Any] = {}

        def visit(node, adjoint):
            found[id(node)] = raw(adjoint)

        def contribute(node, i, parent, value):
            source, target, value = names[id(node)], names[id(parent)], raw(value)
            adjoints.contributions[target].append(Contribution(source, value))
            adjoints.sweep.append((source, i, target, value))

        backward_sweep([n.var for n in reversed(self.nodes)], [(self._out, seed)],
                       visit=visit, contribute=contribute)
        for node in self.nodes:
            a = found.get(id(node.var))
            adjoints[node.name] = np.zeros_like(node.value, dtype=float)[()] if a is None else a
        return adjoints

    # -- what reverse mode stores ----------------------------------------------------

    def saved(self) -> list[str]:
        """Names of the nodes whose values some local partial of the reverse sweep reads.

        Reverse mode must keep exactly these values from the forward sweep until the
        reverse sweep uses them. The partials of ``+`` and ``-`` are constants, so a sum
        that only feeds ``+``/``-`` is never read; ``x * y`` reads both factors;
        ``exp`` and ``tanh`` read their own output.
        """
        if self._out is None:
            return []
        needed = set()
        for v in reverse_order([self._out]):
            prim = v._prim
            if prim is None:
                continue
            parents = v.parents
            for i, parent in enumerate(parents):
                if parent is None:
                    continue
                for r in prim.reads_of(i):
                    if r == "ans":
                        needed.add(id(v))
                    elif prim.variadic:  # the name stands for all the arguments
                        needed.update(id(p) for p in parents if p is not None)
                    else:
                        p = parents[prim.argnames.index(r)]
                        if p is not None:
                            needed.add(id(p))
        return [node.name for node in self.nodes if id(node.var) in needed]

    def saved_bytes(self) -> int:
        """Bytes of the values :meth:`saved` lists (8 per float64 number)."""
        return int(sum(np.asarray(self[name].value).nbytes for name in self.saved()))

    # -- views -----------------------------------------------------------------------

    def table(self, seed: Any = None, out_seed: Any = 1.0, tangent: bool = True,
              adjoint: bool = True):
        """The primal, tangent and adjoint traces side by side (:mod:`adlab.table`)."""
        from adlab.table import table

        return table(self, seed=seed, out_seed=out_seed, tangent=tangent, adjoint=adjoint)

    def graph(self, mode: str = "value", seed: Any = None, partials: bool = False,
              highlight: str | None = None, show_saved: bool = True, rankdir: str = "LR"):
        """The computation as a graphviz drawing (:func:`adlab.draw.draw`).

        ``mode`` is ``"value"``, ``"tangent"`` (tangents for the input ``seed``) or
        ``"adjoint"`` (adjoints for the output ``seed``); ``partials`` labels the edges
        with the local partial derivatives; stored values are marked.
        """
        from adlab.draw import draw

        return draw(self, mode=mode, seed=seed, partials=partials, highlight=highlight,
                    show_saved=show_saved, rankdir=rankdir)

    def _repr_html_(self) -> str:
        # in a notebook a trace shows its graph (or, without graphviz, how to get it)
        # above its table; a long trace shows its size and how to look inside
        if len(self.nodes) > _SHOW_AT_MOST:
            return (f"<pre>{html.escape(repr(self).splitlines()[0])}</pre><p>Too long to "
                    f"draw or tabulate here ({len(self.nodes)} nodes, at most "
                    f"{_SHOW_AT_MOST}): print(trace) lists every step.</p>")
        return self.graph().to_html() + self.table()._repr_html_()

    # -- text ------------------------------------------------------------------------

    def __repr__(self) -> str:
        head = (f"Trace of {self.fname}: {len(self.inputs)} input(s), "
                f"{len(self.nodes) - len(self.inputs)} operation(s), output "
                f"{self.output or '(constant)'}")
        exprs = [f"{n.name} = {n.expression()}" for n in self.nodes]
        width = max((len(e) for e in exprs), default=0)
        rows = [f"  {e:<{width}}   {_show(n.value)}" for e, n in zip(exprs, self.nodes)]
        return "\n".join([head, *rows])


def _const(a):
    return raw(a)


def _short(x) -> str:
    x = raw(x)
    if np.ndim(x) == 0:
        return f"{float(x):g}"
    return f"<const {np.asarray(x).dtype}{list(np.shape(x))}>"


def _show(x) -> str:
    x = raw(x)
    if np.ndim(x) == 0:
        return f"{float(x):.6g}"
    a = np.asarray(x)
    text = f"{a.dtype}{list(a.shape)}"
    if a.size <= 6:
        text += " " + np.array2string(a.ravel(), precision=4, separator=", ")
    return text


def trace(f: Callable, *args: Any) -> Trace:
    """Run ``f(*args)`` once and return its evaluation trace.

    >>> t = trace(lambda x1, x2: x1 * x2 + sin(x1), 2.0, 3.0)   # doctest: +SKIP
    >>> t.forward((1, 0))["v3"]     # dz/dx1                    # doctest: +SKIP
    2.5838531634528574
    >>> t.reverse()["v-1"]          # the same, by reverse mode # doctest: +SKIP
    2.5838531634528574
    >>> t.saved()                   # what reverse mode stores  # doctest: +SKIP
    ['v-1', 'v0']
    """
    tape = Tape(record=True)
    leaves = [Var._leaf(as_float(a, f"argument {i}"), tape) for i, a in enumerate(args)]
    labels = _labels(f, len(args))
    with gc_paused():
        out = f(*leaves)
    if isinstance(out, (tuple, list, dict)):
        raise AdlabError(
            "trace() records functions with one output (a number or an array); "
            f"{getattr(f, '__name__', 'f')} returned a {type(out).__name__}. Return one "
            "value, or stack the outputs into an array with ad.stack."
        )
    return Trace(_call_text(f, labels, args), leaves, tape.stop_recording(), out, labels)


def _labels(f: Callable, n: int) -> list[str]:
    try:
        params = [p for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[:n]]
    return names + [f"x{i + 1}" for i in range(len(names), n)]


def _call_text(f: Callable, labels: list[str], args: tuple) -> str:
    fname = getattr(f, "__name__", "f")
    fname = "f" if fname == "<lambda>" else fname
    shown = ", ".join(f"{label}={_show(as_float(a))}" for label, a in zip(labels, args))
    return f"{fname}({shown})"
