r"""Static graphs (define-and-run): a trace replayed, differentiated and written as code.

Define-by-run (PyTorch, Autograd, adlab's ``grad``) records a new tape on every call, so
Python's ``if`` and ``while`` simply happen: each run records the branch it takes.
Define-and-run (TensorFlow 1, Theano) builds the graph once and then runs it on new
inputs. ``t = ad.trace(f, *args)`` is such a graph:

* ``t(*new_args)`` replays it on inputs of the same shapes, like a compiled graph;
* ``t.gradient()`` is a new trace that computes the gradient: the backward pass
  written as more nodes of a graph (source to source, as ``tf.gradients`` did);
* ``t.to_code()`` writes it as a Python function; ``t.compile()`` runs that code.

A graph records one run, so it cannot follow control flow that depends on its values.
When ``if`` or ``while`` asks a comparison of traced values for its truth, the trace
records a *guard*: what was compared and the outcome it saw. A replay checks every
guard and raises :class:`GuardError` when the inputs would take another branch. Loops
come out unrolled, one guard per test of the loop condition. ``ad.where(cond, a, b)``
puts both branches into the graph instead, so one graph serves every input.
"""

from __future__ import annotations

import builtins
import inspect
import itertools
import keyword
import linecache
import re
from typing import Any

import numpy as np

from adlab import core, fmt, ops
from adlab.core import AdlabError, Box, raw
from adlab.guards import (
    Expr,
    GuardError,
    _plain,
    _recording_tape,
    _Ref,
    _show_outcome,
    _value,
)
from adlab.ops import Primitive
from adlab.table import _INFIX
from adlab.tree import as_float

__all__ = ["GuardError", "replay", "to_code", "compile_trace", "seed"]


# ---------------------------------------------------------------------------------
# Replay
# ---------------------------------------------------------------------------------

def graph_call(prim: Primitive, *args, **params):
    """``prim(*args)``, recorded on a tracing tape even when its only traced argument is
    a Condition or Mask: run on plain values, the result would be frozen into the graph."""
    if not any(isinstance(a, Box) for a in args):
        tapes = [t for t in map(_recording_tape, args) if t is not None]
        if tapes:
            return builtins.max(tapes, key=lambda t: t.number).process(prim, args, params)
    return prim(*args, **params)


def replay(trace, args: tuple) -> Any:
    """Run the nodes of ``trace`` on new inputs, checking its guards on the way."""
    n = len(trace.inputs)
    labels = [trace[name].label or name for name in trace.inputs]
    if len(args) != n:
        raise AdlabError(f"this trace of {trace.fname} takes {n} input(s) "
                         f"({', '.join(labels)}), but {len(args)} "
                         f"{'was' if len(args) == 1 else 'were'} given.")
    env: dict[str, Any] = {}
    for name, label, a in zip(trace.inputs, labels, args):
        a = as_float(a, f"input {label}")
        shape, traced = np.shape(raw(a)), trace[name].shape
        if shape != traced:
            raise core.ShapeError(
                f"input {label} ({name}) has shape {shape}, but the trace was recorded with "
                f"shape {traced}. A static graph is specialised to the shapes it was traced "
                "with: its broadcasts, reductions and matrix products were fixed for them. "
                f"Re-trace with inputs of the new shape: {trace.retrace}.")
        env[name] = a
    checks = trace._guards_at  # by the number of operations done when each is due
    for g in checks.get(0, ()):
        g.check(env, trace)
    for k, (name, prim, specs, params) in enumerate(trace._program, start=1):
        env[name] = graph_call(prim, *[_value(s, env) for s in specs], **params)
        for g in checks.get(k, ()):
            g.check(env, trace)
    outs = [_value(o, env) for o in trace._output_specs]
    return outs[0] if trace._container is None else trace._container(outs)


#: The seed of a gradient graph, :math:`\bar z = \partial z/\partial z = 1`, as a node
#: of the graph (TensorFlow 1 wrote it as a ``Fill`` of ones), so that every adjoint
#: is a graph value and nothing of the backward pass is computed on plain numbers.
seed = Primitive("seed", lambda y: np.ones_like(y, dtype=float)[()], "y",
                 jvp=(lambda t, ans, y: np.zeros_like(raw(ans)),),
                 vjp=(lambda g, ans, y: np.zeros_like(raw(y), dtype=float)[()],),
                 doc="ones of y's shape: the seed of a reverse sweep")


# ---------------------------------------------------------------------------------
# The graph as Python code
# ---------------------------------------------------------------------------------

_counter = itertools.count()


def _ident(name: str) -> str:
    return name.replace("-", "_m")  # v-1 -> v_m1


def _atom(text: str) -> str:
    return text if re.fullmatch(r"[\w.]+", text) and not text[0] == "-" else f"({text})"


def _defaults(p: Primitive) -> dict:
    try:
        sig = inspect.signature(p.impl)
    except (TypeError, ValueError):
        return {}
    return {k: v.default for k, v in sig.parameters.items() if v.default is not v.empty}


def _function(p: Primitive) -> str:
    name = p.name
    if p is seed:
        return "ad.static.seed"
    original = ops.REGISTRY.get(name)
    if original is not p:
        raise AdlabError(
            f"to_code(): the operation {name!r} is not in adlab's registry (adlab.REGISTRY), "
            "so generated code cannot call it. Register it with adlab.ops.defprim.")
    if getattr(ops, name, None) is original:  # adlab exports ops.__all__ as ad.<name>
        return f"ad.{name}" if name in ops.__all__ else f"ad.ops.{name}"
    return f"ad.REGISTRY[{name!r}]"


def to_code(trace, name: str | None = None, constants: dict | None = None) -> str:
    """Python source of a function that computes ``trace`` (see :meth:`Trace.to_code`)."""
    consts = {} if constants is None else constants
    known: dict[int, str] = {}
    idents = {node.name: _ident(node.name) for node in trace.nodes}
    taken = set(idents.values()) | {"np", "ad", "GuardError"}

    def literal(v) -> str:
        if isinstance(v, _Ref):
            return idents[v]
        if isinstance(v, Expr):
            return v.text(literal, code=True)
        v = _plain(raw(v))
        if isinstance(v, np.ndarray) and v.ndim == 0 and v.dtype.kind in "bif":
            v = v[()]  # a 0-d array is written as its number
        if v is None or v is Ellipsis or isinstance(v, (bool, int, str)):
            return "..." if v is Ellipsis else repr(v)
        if isinstance(v, (float, np.float64)):
            return repr(float(v)) if np.isfinite(v) else f"float('{float(v)}')"
        if isinstance(v, np.bool_):
            return repr(bool(v))
        if isinstance(v, np.integer):
            return repr(int(v))
        if isinstance(v, (tuple, list)):
            inner = ", ".join(map(literal, v)) + ("," if len(v) == 1 and isinstance(v, tuple)
                                                  else "")
            return f"({inner})" if isinstance(v, tuple) else f"[{inner}]"
        if isinstance(v, slice):
            return f"slice({literal(v.start)}, {literal(v.stop)}, {literal(v.step)})"
        if id(v) not in known:  # arrays and other numpy values: passed in by name
            known[id(v)] = f"c{len(known)}"
            consts[known[id(v)]] = v
        return known[id(v)]

    def index(idx) -> str:
        parts = []
        for p in idx if isinstance(idx, tuple) else (idx,):
            if isinstance(p, slice):
                ends = ["" if e is None else literal(e) for e in (p.start, p.stop)]
                parts.append(":".join(ends + ([] if p.step is None else [literal(p.step)])))
            else:
                parts.append(literal(p))
        return ", ".join(parts)

    def call(prim: Primitive, specs, params) -> str:
        args = [literal(s) for s in specs]
        if prim.name in _INFIX and not params:
            return f"{_atom(args[0])} {_INFIX[prim.name][0]} {_atom(args[1])}"
        if prim.name == "neg":
            return f"-{_atom(args[0])}"
        if prim.name == "getitem":
            return f"{_atom(args[0])}[{index(params['idx'])}]"
        if prim.name in ("stack", "concatenate"):
            args = [f"[{', '.join(args)}]"]
        defaults = _defaults(prim)
        args += [f"{k}={literal(v)}" for k, v in params.items()
                 if not (k in defaults and _same(defaults[k], v))]
        fn = f"ad.{prim.name}" if prim.name in ("where", "stack", "concatenate") \
            else _function(prim)
        return f"{fn}({', '.join(args)})"

    fname = _identifier(name or trace.name, "f")
    labels = []
    for i, node in enumerate(trace.nodes[:len(trace.inputs)]):
        label = _identifier(node.label or "", f"x{i + 1}")
        labels.append(label if label not in taken and label not in labels else f"x_{i + 1}")
    doc = trace.fname.replace('"', "'").replace("\\", "/")
    body = [f'"""{doc}, as traced; generated by adlab."""']
    body += [f"{idents[node]} = {label}" for node, label in zip(trace.inputs, labels)]
    outs = [literal(o) for o in trace._output_specs]  # constants get c0, c1, ... first

    def guards(k: int) -> list[str]:
        lines = []
        for g in trace._guards_at.get(k, ()):
            cond = g.condition.text(literal, code=True)
            if np.ndim(g.outcome) == 0:
                test = f"not ({cond})" if g.outcome else cond
            else:
                test = f"not np.array_equal({cond}, {literal(g.outcome)})"
            message = (f"guard {g.text} was {_show_outcome(g.outcome)} when {trace.fname} "
                       f"was traced, and is not now: a static graph follows one path. "
                       f"Re-trace with {trace.retrace}, or write the choice with "
                       "ad.where(cond, a, b).")
            lines += [f"if {test}:", f"    raise GuardError({message!r})"]
        return lines

    body += guards(0)
    for k, (node, prim, specs, params) in enumerate(trace._program, start=1):
        body.append(f"{idents[node]} = {call(prim, specs, params)}")
        body += guards(k)
    if trace._container is None:
        body.append(f"return {outs[0]}")
    else:
        wrapped = ", ".join(outs) + ("," if len(outs) == 1 else "")
        body.append(f"return {f'[{wrapped}]' if trace._container is list else wrapped}")
    head = ["import numpy as np", "", "import adlab as ad", "from adlab.guards import GuardError"]
    if consts:
        head += ["", "# constants of the trace, passed in by Trace.compile() (to_code(constants="
                 "d) fills the dict d):"]
        head += [f"# {k}: {fmt.compact(v)}" for k, v in consts.items()]
    return "\n".join(head + ["", "", f"def {fname}({', '.join(labels)}):"]
                     + [f"    {line}" for line in body]) + "\n"


def _same(a, b) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError):
        return False


def _identifier(text: str, fallback: str) -> str:
    text = re.sub(r"\W", "_", text)
    return text if text.isidentifier() and not keyword.iskeyword(text) else fallback


def compile_trace(trace, name: str | None = None):
    """Execute :func:`to_code`'s source and return the function it defines."""
    constants: dict = {}
    source = to_code(trace, name, constants)
    fname = re.search(r"^def (\w+)\(", source, re.M).group(1)
    filename = f"<adlab code {next(_counter)}: {trace.fname}>"
    namespace = {"__name__": "adlab.generated", **constants}
    exec(builtins.compile(source, filename, "exec"), namespace)  # noqa: S102 - our own code
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    fn = namespace[fname]
    fn.source = source
    return fn
