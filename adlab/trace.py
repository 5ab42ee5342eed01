r"""Evaluation traces: one run of a program, recorded as data.

``trace(f, *args)`` runs ``f`` once and keeps every elementary operation it performed,
in order, as a list of nodes. Following the AD literature (Griewank and Walther), the
:math:`n` inputs are named :math:`v_{1-n}, \dots, v_0` and the intermediate results
:math:`v_1, v_2, \dots` in evaluation order. For ``z = x1 * x2 + sin(x1)``::

    v-1 = x1          = 2
    v0  = x2          = 3
    v1  = v-1 * v0    = 6
    v2  = sin(v-1)    = 0.909297
    v3  = v1 + v2     = 6.9093

The trace is a directed acyclic graph (``v-1`` is used twice) that records what the
program did on this run. Forward mode, reverse mode and the list of stored values are
computed from it with the same primitive rules that ``jvp`` and ``grad`` use.

A trace is also a static graph (define-and-run, :mod:`adlab.static`): ``t(*new_args)``
replays it, ``t.gradient()`` is the trace of its gradient, ``t.to_code()`` its source,
and ``t.guards`` the branches of Python control flow it recorded.
"""

from __future__ import annotations

import html
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from adlab import fmt, guards, static
from adlab.conversions import check_outputs
from adlab.core import AdlabError, gc_paused, method, raw, running
from adlab.draw import draw
from adlab.guards import Expr, Guard, GuardError, _Ref
from adlab.reverse import Tape, Var, backward_sweep, reverse_order, vjp
from adlab.table import table
from adlab.transforms import _argnums, _fix_others
from adlab.tree import as_float

__all__ = ["trace", "Trace", "Node", "Tangents", "Adjoints", "Contribution", "Guard",
           "GuardError"]


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
    #: arguments that are comparisons of traced values (a where's condition), by position
    conditions: dict[int, Expr] = field(default_factory=dict, repr=False)

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
        parts = [str(self.conditions[i]) if i in self.conditions else
                 str(a) if isinstance(a, _Ref) else _short(a) for i, a in enumerate(self.args)]
        parts += [f"{k}={v!r}" for k, v in self.params.items()]
        return f"{self.op}({', '.join(parts)})"


_SHOW_AT_MOST = 200  # nodes a trace draws and tabulates by itself in a notebook


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
        Name of the output node (``None`` if the output does not depend on the inputs,
        or if there are several outputs).
    outputs:
        One entry per output (a function may return a tuple or list): the node's name,
        or the value itself when that output does not depend on the inputs.
    guards:
        The choices of Python control flow made on traced values (:class:`Guard`); a
        replay checks each of them.

    A trace is a static graph: calling it, ``t(*new_args)``, replays it on new inputs
    of the same shapes (see :meth:`__call__`).
    """

    def __init__(self, fname: str, leaves: list[Var], recorded: list[Var], out: Any,
                 labels: list[str], recording=None, name: str = "f"):
        self.fname, self.name, self.__name__ = fname, name, name
        self.retrace = f"ad.trace({name}, *new_args)"  # how to record it for other inputs
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
        tape = recording.tape if recording is not None else None
        # a replay runs each node's primitive on what its specs give: node names,
        # constants, and conditions (Expr) that are computed again from node values
        self._program, used = [], []
        for node in self.nodes[n:]:
            specs = node.args
            if any(isinstance(a, (guards.Condition, guards.Mask)) for a in specs):
                used += specs
                specs = tuple(guards.resolve(a, names, tape) for a in specs)
                node.conditions = {i: s for i, s in enumerate(specs) if isinstance(s, Expr)}
            self._program.append((node.name, node.var._prim, specs,
                                  node.params))
        outs = self._set_outputs(out, tape)
        in_graph = guards.conditions_in(used + outs)
        self.guards: list[Guard] = guards.collect_guards(
            recording, in_graph, [node.name for node in self.nodes[n:]], tape, names)
        self._guards_at: dict[int, list[Guard]] = {}
        for g in self.guards:
            self._guards_at.setdefault(g.position, []).append(g)

    def _set_outputs(self, out: Any, tape) -> list:
        names = self._names
        self._container = tuple if isinstance(out, tuple) else \
            list if isinstance(out, list) else None
        outs = list(out) if self._container else [out]
        self._outs = [o if isinstance(o, Var) and id(o) in names else None for o in outs]
        self._output_specs = [guards.resolve(o, names, tape) for o in outs]
        values = [raw(guards._plain(o.value if isinstance(o, Var) else o)) for o in outs]
        self.outputs = [s if isinstance(s, _Ref) else v
                        for s, v in zip(self._output_specs, values)]
        self.value = values[0] if self._container is None else self._container(values)
        self._out = self._outs[0] if self._container is None else None
        self.output = names[id(self._out)] if self._out is not None else None
        return outs

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
        A trace with several outputs needs a tuple of seeds, one per output.
        """
        adjoints = Adjoints()
        adjoints.contributions = {node.name: [] for node in self.nodes}
        adjoints.sweep = []
        if all(o is None for o in self._outs):
            for node in self.nodes:
                adjoints[node.name] = np.zeros_like(node.value, dtype=float)[()]
            return adjoints
        seeds = self._seeds(seed)
        adjoints.seed = seeds[0] if self._container is None else tuple(seeds)
        names = self._names
        pairs = [(v, s) for v, s in zip(self._outs, seeds) if v is not None]
        for v, s in pairs:
            adjoints.contributions[names[id(v)]].append(Contribution("seed", s))
        found: dict[int, Any] = {}

        def visit(node, adjoint):
            found[id(node)] = raw(adjoint)

        def contribute(node, i, parent, value):
            source, target, value = names[id(node)], names[id(parent)], raw(value)
            adjoints.contributions[target].append(Contribution(source, value))
            adjoints.sweep.append((source, i, target, value))

        backward_sweep([n.var for n in reversed(self.nodes)], pairs,
                       visit=visit, contribute=contribute)
        for node in self.nodes:
            a = found.get(id(node.var))
            adjoints[node.name] = np.zeros_like(node.value, dtype=float)[()] if a is None else a
        return adjoints

    def _seeds(self, seed) -> list:
        outputs = [str(o) if isinstance(o, _Ref) else "a constant" for o in self.outputs]
        if self._container is None:
            seed = [seed]
        elif not isinstance(seed, (tuple, list)) or len(seed) != len(outputs):
            example = ", ".join(["1.0"] + ["0.0"] * (len(outputs) - 1))
            raise AdlabError(
                f"reverse(): this trace has {len(outputs)} outputs ({', '.join(outputs)}), so "
                f"the seed is a tuple of their adjoints, one per output: e.g. "
                f"reverse(({example})) when they are scalars, for the first one's adjoints.")
        values = [self.value] if self._container is None else self.value
        out = []
        for s, v, name in zip(seed, values, outputs):
            s, shape = as_float(s, "the reverse seed"), np.shape(v)
            if np.shape(s) != shape:
                raise AdlabError(
                    f"reverse(): the seed is the output's adjoint and must have the output's "
                    f"shape {shape}, not {np.shape(s)} (output {name}).")
            out.append(s)
        return out

    # -- what reverse mode stores ----------------------------------------------------

    def saved(self) -> list[str]:
        """Names of the nodes whose values some local partial of the reverse sweep reads.

        Reverse mode must keep exactly these values from the forward sweep until the
        reverse sweep uses them. The partials of ``+`` and ``-`` are constants, so a sum
        that only feeds ``+``/``-`` is never read; ``x * y`` reads both factors;
        ``exp`` and ``tanh`` read their own output. :meth:`readers` says which rule
        reads each of them.
        """
        return list(self.readers())

    def readers(self) -> dict[str, list[str]]:
        """For each stored node (see :meth:`saved`), the operations whose reverse rules
        read its value: ``{"v-1": ["v1"], "v3": ["v4"]}`` for ``(x1 x2 - (x3 + x4))^2``
        (the product reads its factors, the square reads its operand)."""
        outs = [o for o in self._outs if o is not None]
        if not outs:
            return {}
        name_of = {id(node.var): node.name for node in self.nodes}
        found: dict[int, list[str]] = {}
        for v in reverse_order(outs):
            prim = v._prim
            if prim is None:
                continue
            parents = v.parents
            for i, parent in enumerate(parents):
                if parent is None:
                    continue
                for r in prim.reads_of(i):
                    if r == "ans":
                        read = [v]
                    elif prim.variadic:  # the name stands for all the arguments
                        read = [p for p in parents if p is not None]
                    else:
                        read = [p for p in (parents[prim.argnames.index(r)],) if p is not None]
                    for target in read:
                        names = found.setdefault(id(target), [])
                        if name_of[id(v)] not in names:
                            names.append(name_of[id(v)])
        order = {node.name: k for k, node in enumerate(self.nodes)}
        return {node.name: sorted(found[id(node.var)], key=order.__getitem__)
                for node in self.nodes if id(node.var) in found}

    def saved_bytes(self) -> int:
        """Bytes of the values :meth:`saved` lists (8 per float64 number)."""
        return int(sum(np.asarray(self[name].value).nbytes for name in self.saved()))

    # -- a static graph: replay, gradient graph, code ------------------------------

    def __call__(self, *args: Any) -> Any:
        """Replay the graph on new inputs of the traced shapes (define-and-run).

        Each node's primitive runs on the new values, in the recorded order, so the
        replay is itself differentiable: ``ad.grad(t)(x)`` works, and a trace is a
        function again. Every guard is checked as soon as the program had made its
        choice; an input that would take another branch raises :class:`GuardError`.

        >>> t = trace(lambda x1, x2: x1 * x2 + sin(x1), 2.0, 3.0)   # doctest: +SKIP
        >>> t(1.0, 5.0)                                            # doctest: +SKIP
        5.841470984807897
        """
        return static.replay(self, args)

    def gradient(self, argnums: int | tuple[int, ...] | None = None) -> Trace:
        r"""A new trace that computes the gradient of this (scalar) trace: source to source.

        It is the trace of ``ad.grad(self, argnums)`` at the traced inputs. Every VJP
        rule is written with adlab's operations, so the reverse sweep shows up as more
        nodes: the forward pass, then the backward pass (as TensorFlow 1 and Theano
        build gradient graphs). ``argnums`` as in :func:`adlab.grad`; by default all
        inputs (one output per input, a tuple when there are several).

        >>> g = trace(lambda x1, x2: x1 * x2 + sin(x1), 2.0, 3.0).gradient()  # doctest: +SKIP
        >>> g.value, g(0.0, 1.0)                                            # doctest: +SKIP
        ((2.5838531634528574, 2.0), (2.0, 0.0))
        """
        n = len(self.inputs)
        if self._container is not None or np.shape(self.value) != ():
            what = (f"{len(self.outputs)} outputs" if self._container is not None
                    else f"an output of shape {np.shape(self.value)}")
            raise AdlabError(
                f"gradient() needs a trace with one scalar output; this trace of {self.fname} "
                f"has {what}. A gradient belongs to a scalar function: reduce the output to a "
                "scalar first (e.g. ad.sum), or, as a trace is a function, use ad.vjp(trace, "
                "...) or ad.jacrev(trace)(...) for vector-Jacobian products and Jacobians.")
        if n == 0:
            raise AdlabError("gradient(): this trace has no inputs to differentiate by.")
        given, argnums = argnums, argnums if argnums is not None else \
            (0 if n == 1 else tuple(range(n)))

        def grad_of_trace(*args):  # ad.grad(self, argnums), with the seed as a graph node
            nums = _argnums(argnums, len(args), self.name)
            out, pullback = vjp(_fix_others(self, args, nums), *[args[k] for k in nums])
            grads = pullback(static.seed(out))
            return grads[0] if isinstance(argnums, int) else grads

        labels = [self[name].label or name for name in self.inputs]
        g = record(grad_of_trace, [self[name].value for name in self.inputs], labels,
                   f"{self.name}_grad", f"grad({self.name})")
        g.retrace = f"{self.retrace}.gradient({'' if given is None else repr(given)})"
        return g

    def to_code(self, name: str | None = None, constants: dict | None = None) -> str:
        """The graph as the source of a Python function, one line per node.

        ``v-1`` is written ``v_m1``; operations call adlab (``ad.sin(v_m1)``, ``v1 * v2``,
        ``ad.sum(v3, axis=0)``); guards become ``if ...: raise GuardError(...)``. Array
        constants are referred to by name (``c0``, ``c1``, ...): pass a dict as
        ``constants`` to receive them (:meth:`compile` does that for you).
        """
        return static.to_code(self, name, constants)

    def compile(self, name: str | None = None) -> Callable:
        """The function that :meth:`to_code` writes, ready to call (its ``.source`` is
        the code); it computes what the replay ``self(*args)`` computes."""
        return static.compile_trace(self, name)

    # -- views -----------------------------------------------------------------------

    def table(self, seed: Any = None, out_seed: Any = 1.0, tangent: bool = True,
              adjoint: bool = True):
        """The primal, tangent and adjoint traces side by side (:mod:`adlab.table`)."""
        return table(self, seed=seed, out_seed=out_seed, tangent=tangent, adjoint=adjoint)

    def graph(self, mode: str = "value", seed: Any = None, partials: bool = False,
              highlight: str | None = None, show_saved: bool = True, rankdir: str = "LR"):
        """The computation as a graphviz drawing (:func:`adlab.draw.draw`).

        ``mode`` is ``"value"``, ``"tangent"`` (tangents for the input ``seed``) or
        ``"adjoint"`` (adjoints for the output ``seed``); ``partials`` labels the edges
        with the local partial derivatives; stored values are marked.
        """
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
        guards = f", {len(self.guards)} guard(s)" if self.guards else ""
        if self._container is None:
            outputs = f"output {self.output or '(constant)'}"
        else:
            outputs = "outputs " + ", ".join(str(o) if isinstance(o, _Ref) else fmt.compact(o)
                                             for o in self.outputs)
        head = (f"Trace of {self.fname}: {len(self.inputs)} input(s), "
                f"{len(self.nodes) - len(self.inputs)} operation(s){guards}, {outputs}")
        exprs = [f"{n.name} = {n.expression()}" for n in self.nodes]
        width = max((len(e) for e in exprs), default=0)
        rows = [] if self.inputs else [f"  {g!r}" for g in self._guards_at.get(0, ())]
        for k, (e, n) in enumerate(zip(exprs, self.nodes)):
            rows.append(f"  {e:<{width}}   {fmt.compact(n.value)}")
            position = k + 1 - len(self.inputs)  # the guards checked right after this node
            if position >= 0:
                rows += [f"  {g!r}" for g in self._guards_at.get(position, ())]
        return "\n".join([head, *rows])


def _const(a):
    return raw(a)


def _short(x) -> str:
    return fmt.number(x) if np.ndim(raw(x)) == 0 else f"<const {fmt.shape(x)}>"


@method("ad.trace")
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
    name = getattr(f, "__name__", "f")
    return record(f, args, _labels(f, len(args)), "f" if name == "<lambda>" else name)


def record(f: Callable, args, labels: list[str], name: str, shown: str | None = None) -> Trace:
    """Trace ``f(*args)`` with the inputs called ``labels``; ``name`` names the trace."""
    tape = Tape(record=True)
    leaves = [Var._leaf(as_float(a, f"argument {i}"), tape) for i, a in enumerate(args)]
    with guards.recording(tape) as rec, gc_paused(), running(tape):
        out = f(*leaves)
    nodes = tape.stop_recording()
    outs = out if isinstance(out, (tuple, list)) else [out]
    if isinstance(out, dict) or any(isinstance(o, (tuple, list, dict)) for o in outs):
        raise AdlabError(
            "trace() records functions whose output is a number, an array, or a flat "
            f"tuple or list of them; {name} returned a {type(out).__name__}"
            f"{' with containers inside' if not isinstance(out, dict) else ''}. Return "
            "the values as a flat tuple, or stack them into an array with ad.stack.")
    check_outputs(list(outs), "trace")
    text = _call_text(shown or name, labels, args)
    return Trace(text, leaves, nodes, out, labels, rec, name)


def _labels(f: Callable, n: int) -> list[str]:
    if isinstance(f, Trace):  # a replay: the inputs keep their names
        labels = [f[name].label or name for name in f.inputs][:n]
        return labels + [f"x{i + 1}" for i in range(len(labels), n)]
    try:
        params = [p for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    names = [p.name for p in params[:n]]
    return names + [f"x{i + 1}" for i in range(len(names), n)]


def _call_text(fname: str, labels: list[str], args: tuple) -> str:
    shown = ", ".join(f"{label}={fmt.compact(as_float(a))}" for label, a in zip(labels, args))
    return f"{fname}({shown})"
