r"""Reverse mode: tapes, vector-Jacobian products and ``backward()``.

Running a program on :class:`Var` values records a *tape*: every primitive call
becomes a node that remembers its operation, its inputs and the values its local
partial derivatives will need. The reverse sweep then starts from the output with a
*seed* :math:`\bar y` (for a scalar loss :math:`\bar y = \partial L/\partial L = 1`) and
visits the nodes from last to first, pushing adjoints to inputs with the chain rule

.. math:: \bar x_i \mathrel{+}= \bar y\,\frac{\partial y}{\partial x_i}.

A node used several times receives the sum of all its uses' contributions. One sweep
gives :math:`\bar y^\top J`, a vector-Jacobian product: the whole gradient of a scalar
function, however many inputs it has. The price is memory: the values that the
partials read must be kept from the forward sweep until the reverse sweep uses them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import numpy as np

from adlab import core, fmt, tapegc
from adlab.conversions import check_outputs
from adlab.core import SWEEPS, AdlabError, Box, Level, gc_paused, method, raw, running
from adlab.ops import Primitive, unbroadcast
from adlab.tree import (
    as_float,
    cast_like,
    flatten,
    float_dtype,
    shape_of,
    unflatten,
    zeros_like_float,
)


class Tape(Level):
    """A reverse-mode recording: each primitive call on its Vars becomes a node.

    With ``record=True`` the tape also keeps the list of nodes in evaluation order
    (that is what :func:`adlab.trace` reads).
    """

    __slots__ = ("nodes", "episode")

    def __init__(self, number: int | None = None, record: bool = False):
        super().__init__(number)
        self.nodes: list | None = [] if record else None
        self.episode = None  # the user tape's current tapegc.Episode (others have none)

    def process(self, prim: Primitive, args: tuple, params: dict) -> Var:
        if len(args) == 2:  # most calls: unrolled (a hot path)
            a, b = args
            if isinstance(a, Var) and a._level is self:
                a = a.value
            if isinstance(b, Var) and b._level is self:
                b = b.value
            primals = (a, b)
            nested = isinstance(a, Box) or isinstance(b, Box)
        else:
            nested = False
            primals = []
            for a in args:
                if isinstance(a, Var) and a._level is self:
                    a = a.value
                primals.append(a)
                nested = nested or isinstance(a, Box)
            primals = tuple(primals)
        # values may themselves be boxes of outer transformations: let them see the call
        if nested:
            ans = prim(*primals, **params)
        else:
            try:
                ans = prim.impl(*primals, **params)
            except ValueError as e:
                raise prim.shape_error(e, primals) from None
        if prim.constant and self.nodes is None:
            return ans  # nothing flows back through it; only a static graph keeps it
        v = Var.__new__(Var)
        v.value = ans  # (one store each: no tuple is built)
        v._level = self
        v.grad = v.name = None
        # The node keeps the call's own argument tuple (its Vars are the node's parents)
        # and the values the operation saw. Both tuples exist anyway for the call.
        v._prim = prim
        v._inputs = args
        v._args = primals
        v._params = params
        v._index = index = next(_clock)  # creation order: a topological order of the graph
        if self.nodes is not None:
            self.nodes.append(v)
        episode = self.episode
        if episode is not None:  # the user tape: count its live nodes (see adlab.tapegc)
            if index >= episode.end:
                self.episode = episode = tapegc.Episode(index)
            v._episode = episode
        return v

    def stop_recording(self) -> list:
        """Hand over the recorded nodes and forget them.

        Every node refers to its tape, so a tape that kept its list would form a
        reference cycle, and its arrays would wait for the cyclic garbage collector
        instead of being freed the moment the last reference goes.
        """
        nodes, self.nodes = self.nodes, None
        return nodes


_USER_TAPE = Tape(1)
_USER_TAPE.episode = tapegc.Episode(0)  # the user tape counts its live nodes
_clock = itertools.count()  # the tape of Vars that users create by hand


class Var(Box):
    """A value on a tape, for reverse-mode AD, used the way PyTorch tensors are.

    >>> x1, x2 = Var(2.0), Var(3.0)
    >>> z = x1 * x2 + sin(x1)           # doctest: +SKIP
    >>> z.backward()                    # doctest: +SKIP
    >>> x1.grad, x2.grad                # doctest: +SKIP
    (2.5838531634528574, 2.0)

    ``backward()`` *accumulates*: calling it twice adds the gradients twice, exactly
    as in PyTorch, because a variable's adjoint is the sum of the contributions of
    all its uses, and a second sweep is one more use. Call :meth:`zero_grad` between
    steps of a training loop. After ``backward()`` every Var the sweep reached, leaf
    or intermediate, holds its adjoint in ``.grad``.

    ``float(v)``, ``int(v)`` and ``np.asarray(v)`` give the plain value, as PyTorch's
    ``.item()`` does: a *detached* constant, with no derivative. So on hand-made Vars
    ``y = x * float(x)`` is differentiated as ``x`` times a number (``dy/dx`` is
    ``float(x)``, not ``2 x``), exactly as in PyTorch. Inside a transformation
    (``ad.grad``, ``ad.jacrev``, ``ad.trace`` ...) such a conversion of a value being
    differentiated raises :class:`adlab.ConversionError` instead (use ``ad.sin``, not
    ``math.sin``); ``.value`` reads the number on purpose anywhere.

    Integer values are cast to float.
    """

    __slots__ = ("grad", "name", "_prim", "_inputs", "_args", "_params", "_index", "_episode")

    def __init__(self, value: Any, name: str | None = None):
        self.value = as_float(value, "a Var's value")
        self._level, self.grad, self.name = _USER_TAPE, None, name
        self._prim, self._inputs, self._args, self._params = None, (), (), None
        self._index = next(_clock)

    @classmethod
    def _leaf(cls, value, level: Tape, name: str | None = None) -> Var:
        v = cls.__new__(cls)
        v.value, v._level, v.grad, v.name = value, level, None, name
        v._prim, v._inputs, v._args, v._params = None, (), (), None
        v._index = next(_clock)
        return v

    @property
    def parents(self) -> tuple:
        """For each argument of the operation, the Var on this tape it came from, or None."""
        level = self._level
        return tuple(a if isinstance(a, Var) and a._level is level else None
                     for a in self._inputs)

    @property
    def args(self) -> tuple:
        """The argument values the operation was evaluated on."""
        return self._args

    @property
    def op(self) -> str:
        """The name of the primitive that computed this value (``"input"`` for a leaf)."""
        return "input" if self._prim is None else self._prim.name

    def __repr__(self) -> str:
        grad = "None" if self.grad is None else fmt.array(self.grad)
        name = f", name={self.name!r}" if self.name else ""
        return f"Var({fmt.array(self.value)}, grad={grad}{name})"

    @method("Var.backward")
    def backward(self, seed: Any = None) -> None:
        r"""Run the reverse sweep from this value, adding adjoints into ``.grad``.

        ``seed`` is this output's adjoint :math:`\bar y`. A scalar needs none (it is
        1: :math:`\partial y/\partial y = 1`). For an array output, the sweep computes
        :math:`\bar y^\top J`, so the seed says which combination of outputs to
        differentiate; a one-hot seed gives one row of the Jacobian.
        """
        shape = np.shape(raw(self.value))
        if seed is None:
            if shape != ():
                raise AdlabError(
                    f"backward() on an output of shape {shape} needs a seed. Reverse mode "
                    f"computes seedᵀ·J, a vector-Jacobian product: the seed (or "
                    f"cotangent) is the adjoint of this output and must have shape "
                    f"{shape}. Use backward(seed=np.ones({shape})) for the gradient of "
                    f"the sum of the outputs, a one-hot seed for one row of the Jacobian, "
                    f"or reduce to a scalar loss first (e.g. y.sum().backward())."
                )
            seed = _one_like(raw(self.value))
        else:
            seed = cast_like(_check_seed(seed, shape, "backward()"), raw(self.value))

        with gc_paused():
            backward_sweep(reverse_order([self]), [(self, seed)], into_grad=True)

    def zero_grad(self) -> None:
        """Set ``.grad`` to zero (call it before the next ``backward()`` of a loop)."""
        value = raw(self.value)
        self.grad = 0.0 if type(value) is float else np.zeros_like(value, dtype=_dtype(value))[()]


def _dtype(value) -> np.dtype:
    """The floating dtype of a value (float32 stays float32; Python floats are float64)."""
    return float_dtype(value)


def _one_like(value):
    """The seed 1 in the value's own precision (a Python float for a Python float)."""
    return 1.0 if type(value) is float else np.ones((), dtype=_dtype(value))[()]


def _check_seed(seed, shape: tuple, where: str):
    if type(seed) is not float:
        seed = as_float(seed, f"the seed of {where}")
    if shape_of(seed) != shape:
        raise AdlabError(
            f"{where}: the seed (cotangent) has shape {np.shape(raw(seed))} but the output "
            f"has shape {shape}; a seed is the output's adjoint, so it has the output's "
            "shape."
        )
    return seed


# ---------------------------------------------------------------------------------
# The reverse sweep
# ---------------------------------------------------------------------------------

def reverse_order(roots: Sequence[Var]) -> list[Var]:
    """Every node the roots depend on, latest first: each comes after all its consumers.

    A value is always created before anything computed from it, so the order of
    creation is a topological order. We collect what the roots depend on with an
    explicit stack (no recursion: a chain of a million operations is fine), then sort
    by creation number, which also makes the order, and so every sum of
    contributions, the same on every run.
    """
    seen = set(roots)
    stack = list(seen)
    while stack:
        node = stack.pop()
        level = node._level
        for p in node._inputs:
            if isinstance(p, Var) and p._level is level and p not in seen:
                seen.add(p)
                stack.append(p)
    return sorted(seen, key=_creation, reverse=True)


def _creation(v: Var) -> int:
    return v._index


def backward_sweep(order: Iterable[Var], seeds: Sequence[tuple[Var, Any]], *,
                   into_grad: bool = False, visit: Callable | None = None,
                   contribute: Callable | None = None, release: bool = False) -> dict:
    """Push adjoints from the seeded outputs back through ``order``.

    ``order`` lists nodes so that every node comes after all its consumers. Each
    node's adjoint is complete when its turn comes: ``into_grad`` adds it to the
    node's ``.grad``, ``visit(node, adjoint)`` sees it, and ``contribute(node, i,
    parent, value)`` sees every single term of the sums (``i``: which argument of
    ``node`` the parent is). Returns the adjoints that
    reached nodes outside ``order`` (the inputs, when ``order`` is a tape's list).

    ``release=True`` hands ``seeds`` (a list) over: it is emptied once read. The sweep
    then holds no node it has finished, so with an ``order`` that forgets each node as
    it hands it out (:func:`_consumed`) every node, and every value only it holds, is
    freed right after its turn: a one-shot gradient frees its tape as it goes.
    """
    SWEEPS["reverse_sweeps"] += 1
    adjoints: dict[Var, Any] = {}
    for node, seed in seeds:
        adjoints[node] = adjoints[node] + seed if node in adjoints else seed
    if release:
        seeds.clear()  # an output Var reaches the whole graph: hold it only as a key
    node = seed = None
    for node in order:
        g = adjoints.pop(node, None)
        if g is None:
            continue  # nothing downstream of this node reached an output
        if into_grad:
            if node.grad is None:
                node.grad = g
            else:
                node.grad = node.grad + g
                if core.TALLY is not None:
                    core.TALLY(node.grad)
        if visit is not None:
            visit(node, g)
        prim = node._prim
        if prim is None or prim.constant:
            continue  # an input, or piecewise constant: nothing flows back
        level, args, ans, params = node._level, node._args, node.value, node._params
        rules = None if prim.variadic else prim.vjp_rules
        for i, parent in enumerate(node._inputs):
            if not (isinstance(parent, Var) and parent._level is level):
                continue
            # the VJP rule, then undo broadcasting (Primitive.vjp, inlined: hot loop)
            if rules is None:
                c = prim.vjp_n(i, g, ans, *args, **params)
            else:
                rule = rules[i]
                if rule is None:
                    continue  # e.g. where's condition: not differentiated
                c = rule(g, ans, *args, **params)
            shape = getattr(args[i], "shape", ())
            if getattr(c, "shape", ()) != shape:
                c = unbroadcast(c, shape)
            if contribute is not None:
                contribute(node, i, parent, c)
            before = adjoints.get(parent)
            if before is None:
                adjoints[parent] = c
            else:
                adjoints[parent] = before = before + c
                if core.TALLY is not None:  # count_work counts this accumulation
                    core.TALLY(before)
    return adjoints


# ---------------------------------------------------------------------------------
# Transformations
# ---------------------------------------------------------------------------------

def _record(f: Callable, primals: tuple, where: str) -> tuple:
    """Run ``f`` on fresh Vars of a new tape.

    Returns ``(tape, leaves, treedef, nodes, outputs, out_def, out_values)``: the leaf
    Vars of the primals, the recorded nodes in evaluation order, ``f``'s output leaves
    (Vars of the tape, or constants) and their plain values.
    """
    tape = Tape(record=True)
    leaves, treedef = flatten(primals)
    boxes = [Var._leaf(p if type(p) is np.ndarray and p.dtype.kind == "f"
                       else as_float(p, f"argument {i}"), tape) for i, p in enumerate(leaves)]
    SWEEPS["recordings"] += 1
    with gc_paused(), running(tape):
        out = f(*unflatten(treedef, boxes))
    nodes = tape.stop_recording()
    out_leaves, out_def = flatten(out)
    check_outputs(out_leaves, where)
    out_values = [o.value if isinstance(o, Var) and o._level is tape else o
                  for o in out_leaves]
    return tape, boxes, treedef, nodes, out_leaves, out_def, out_values


def _seeds(cotangent: Any, tape: Tape, out_leaves: list, out_values: list) -> list:
    """The (output Var, seed) pairs of a cotangent, each checked against its output."""
    ct_leaves, _ = flatten(cotangent)
    if len(ct_leaves) != len(out_leaves):
        raise AdlabError("vjp_fn: the cotangent must have the same structure as f's output")
    seeds = []
    for o, v, ct in zip(out_leaves, out_values, ct_leaves):
        ct = cast_like(_check_seed(ct, shape_of(v), "vjp_fn"), raw(v))
        if isinstance(o, Var) and o._level is tape:
            seeds.append((o, ct))
    return seeds


def _consumed(nodes: list) -> Iterator[Var]:
    """The recorded nodes, latest first, each dropped from the list as it is handed out.

    (``nodes.pop()`` once per node, called from C: a few nanoseconds a node, several
    times cheaper than a generator.)
    """
    return itertools.starmap(nodes.pop, itertools.repeat((), len(nodes)))


def _gradients(found: dict, boxes: list, treedef: Any) -> tuple:
    grads = [found.get(b) for b in boxes]
    grads = [zeros_like_float(raw(b.value)) if g is None else g for g, b in zip(grads, boxes)]
    return tuple(unflatten(treedef, grads))


@method("ad.vjp")
def vjp(f: Callable, *primals: Any) -> tuple[Any, Callable]:
    r"""Reverse mode as a transformation: ``vjp :: (a -> b) -> a -> (b, T* b -> T* a)``.

    Runs ``f`` once, recording a tape, and returns ``(f(*primals), vjp_fn)``.
    ``vjp_fn(cotangent)`` sweeps the tape backwards from the seed ``cotangent`` (shape
    of the output) and returns a tuple with :math:`\bar y^\top J` for each primal. It
    can be called many times (one sweep each, no re-evaluation of ``f``), so it keeps
    the whole recording alive for as long as it exists.
    """
    tape, boxes, treedef, nodes, out_leaves, out_def, out_values = _record(f, primals, "vjp")

    def vjp_fn(cotangent: Any) -> tuple:
        seeds = _seeds(cotangent, tape, out_leaves, out_values)
        # the tape's own list is in evaluation order: sweep it backwards, no sorting
        with gc_paused():
            found = backward_sweep(reversed(nodes), seeds)
        return _gradients(found, boxes, treedef)

    return unflatten(out_def, out_values), vjp_fn


def vjp_once(f: Callable, *primals: Any) -> tuple[Any, Callable]:
    """:func:`vjp` for a pullback called once (``grad``, a checkpoint's recomputation).

    The pullback hands its recording over to the sweep, which lets go of every node
    right after its turn, so a node's value is freed after its last use and the memory
    of the reverse sweep falls as it goes, instead of staying at the whole recording
    until the gradient is returned. The arithmetic is the same, in the same order: the
    gradients are identical to the last bit. A second call raises.
    """
    tape, boxes, treedef, nodes, out_leaves, out_def, out_values = _record(f, primals, "vjp")
    held = [nodes, out_leaves]  # the only references to the recording, handed over once
    del nodes, out_leaves

    def pullback_once(cotangent: Any) -> tuple:
        if not held:
            raise AdlabError("this pullback has swept (and freed) its recording already; "
                             "ad.vjp returns a pullback that can be called many times")
        seeds = _seeds(cotangent, tape, held[1], out_values)
        nodes = held[0]
        held.clear()
        with gc_paused():
            found = backward_sweep(_consumed(nodes), seeds, release=True)
        return _gradients(found, boxes, treedef)

    return unflatten(out_def, out_values), pullback_once
