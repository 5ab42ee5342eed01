r"""Control flow in a static graph: conditions and guards.

A dynamic tape (``grad``, ``Var``) records a new run on every call, so an ``if`` on a
value simply takes its branch and the tape records it. A static graph (``ad.trace``)
is recorded once and replayed on other inputs, so it must know where the program's
path depended on its values. While a trace records, comparing traced values gives a
:class:`Condition` (a scalar) or a :class:`Mask` (an array): the outcome, plus what was
compared. They behave as the bool or boolean array they hold, and

* a Condition or Mask passed to an operation (``ad.where(x > 0, a, b)``) is computed
  again by every replay: the choice is part of the graph;
* when ``if``/``while``/``and``/``not`` asks one for its truth, the trace records a
  :class:`Guard`: the branch taken. A replay whose inputs would take the other branch
  raises :class:`GuardError`;
* one that the program uses as a plain number outside adlab's operations (say
  ``ad.where(x > 0, 1.0, -1.0)``: two constant branches) is frozen into the graph, so
  it becomes a guard as well.
"""

from __future__ import annotations

import builtins
import contextlib
import operator
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from adlab import core, fmt
from adlab.core import AdlabError, Box, Level, raw

__all__ = ["GuardError", "Guard", "Condition", "Mask", "Expr", "compare"]


class GuardError(AdlabError):
    """A static graph was asked to run on inputs that take a branch it did not record."""


class _Ref(str):
    """A node name inside ``Node.args`` (a plain ``str`` could be a constant)."""


# ---------------------------------------------------------------------------------
# Conditions: comparisons of traced values that remember what was compared
# ---------------------------------------------------------------------------------

class _Recording:
    """What a running trace collects besides its nodes: conditions and guards."""

    __slots__ = ("tape", "conditions", "guards")

    def __init__(self, tape: Level):
        self.tape, self.conditions, self.guards = tape, [], []


_RECORDING: dict[Level, _Recording] = {}


@contextlib.contextmanager
def recording(tape: Level) -> Iterator[_Recording]:
    """While the block runs, comparisons of ``tape``'s values give Conditions."""
    rec = _RECORDING[tape] = _Recording(tape)
    core.comparison_hook = _on_comparison
    try:
        yield rec
    finally:
        del _RECORDING[tape]
        if not _RECORDING:
            core.comparison_hook = None


_LOGIC = {"&": np.logical_and, "|": np.logical_or, "^": np.logical_xor, "~": np.logical_not,
          "any": np.any, "all": np.all}
_OPERATIONS = {**core.COMPARISONS, **_LOGIC, "[]": operator.getitem}


class Condition:
    """A comparison of traced values: its outcome on this run, and how to compute it again.

    While ``ad.trace`` records, ``x > 0`` on a traced scalar gives a Condition (an array
    comparison gives a :class:`Mask`). It acts as its outcome, a bool, everywhere
    (``ad.where``, ``np.where``, arithmetic, ``&``, ``|``, ``~``), with one addition: when
    Python's control flow asks for its truth (``if``, ``while``, ``and``, ``not``), the
    trace records a guard, the branch the program took. Outside traces comparisons give
    plain bools: the dynamic tape just follows the branch.
    """

    __slots__ = ("op", "operands", "outcome", "tape", "params", "position")
    ndim, shape, dtype = 0, (), np.dtype(bool)

    def __init__(self, op: str, operands: tuple, outcome: Any, tape: Level,
                 params: tuple = (), position: int = 0):
        self.op, self.operands, self.outcome = op, operands, outcome
        self.tape, self.params, self.position = tape, params, position

    def __bool__(self) -> bool:
        outcome = bool(self.outcome)
        _guard(self, outcome)
        return outcome

    def __array__(self, dtype=None, copy=None):
        return np.asarray(self.outcome, dtype=dtype)

    def __float__(self) -> float:
        return float(self.outcome)

    def __int__(self) -> int:
        return int(self.outcome)

    def __and__(self, other):
        return compare("&", self, other)

    def __rand__(self, other):
        return compare("&", other, self)

    def __or__(self, other):
        return compare("|", self, other)

    def __ror__(self, other):
        return compare("|", other, self)

    def __xor__(self, other):
        return compare("^", self, other)

    def __rxor__(self, other):
        return compare("^", other, self)

    def __invert__(self):
        return compare("~", self)

    def __eq__(self, other):
        return compare("==", self, other)

    def __ne__(self, other):
        return compare("!=", self, other)

    __hash__ = object.__hash__

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _ufunc(ufunc, method, inputs, kwargs)

    def __repr__(self) -> str:
        shown = [fmt.compact(_plain(o)) if not isinstance(o, Condition) else repr(o)
                 for o in self.operands]
        return f"Condition({_render(self.op, shown, self.params)} -> {self.outcome})"


# in arithmetic a Condition is its outcome (True is 1), as a bool is
for _name in ("add", "sub", "mul", "truediv", "pow"):
    _fn = getattr(operator, _name)
    setattr(Condition, f"__{_name}__", lambda self, o, fn=_fn: fn(self.outcome, _plain(o)))
    setattr(Condition, f"__r{_name}__", lambda self, o, fn=_fn: fn(_plain(o), self.outcome))
Condition.__neg__ = lambda self: -self.outcome


class Mask(np.ndarray):
    """A boolean array from comparing traced arrays: a plain NumPy array that also
    remembers how it was computed (``.condition``), so that a replay computes it again.
    Masks add no guards (``bool()`` of a one-element mask does)."""

    condition: Condition | None = None

    def __array_finalize__(self, obj) -> None:
        self.condition = None  # views, slices and copies are plain values

    def __bool__(self) -> bool:
        outcome = bool(self.view(np.ndarray))  # numpy's error for more than one element
        if self.condition is not None:
            _guard(self.condition, outcome)
        return outcome

    def __getitem__(self, idx):  # an entry (or part) of a comparison is one too
        return compare("[]", self, idx)

    # shown as the plain array (NumPy's printing would index it entry by entry)
    def __repr__(self) -> str:
        return repr(self.view(np.ndarray))

    def __str__(self) -> str:
        return str(self.view(np.ndarray))

    def __format__(self, spec: str) -> str:
        return format(self.view(np.ndarray), spec)

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return _ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        if func in (np.any, np.all) and len(args) == 1 and set(kwargs) <= {"axis", "keepdims"}:
            return compare(func.__name__, args[0], axis=kwargs.get("axis"),
                           keepdims=bool(kwargs.get("keepdims", False)))
        return func(*_plain_tree(args), **_plain_tree(kwargs))


_UFUNC_OPS = {np.logical_and: "&", np.bitwise_and: "&", np.logical_or: "|",
              np.bitwise_or: "|", np.logical_xor: "^", np.bitwise_xor: "^",
              np.logical_not: "~", np.invert: "~", np.greater: ">", np.greater_equal: ">=",
              np.less: "<", np.less_equal: "<=", np.equal: "==", np.not_equal: "!="}
_REDUCTIONS = {np.logical_or: "any", np.logical_and: "all"}


def _ufunc(ufunc, method, inputs, kwargs):
    op = _UFUNC_OPS.get(ufunc)
    if op is not None and method == "__call__" and not kwargs and \
            (op in core.COMPARISONS or all(np.result_type(_plain(x)) == np.bool_ for x in inputs)):
        return compare(op, *inputs)
    if method == "reduce" and ufunc in _REDUCTIONS and len(inputs) == 1 and \
            kwargs.get("out") is None and kwargs.get("dtype") in (None, bool, np.bool_) and \
            kwargs.get("where", True) is True:
        return compare(_REDUCTIONS[ufunc], inputs[0], axis=kwargs.get("axis", 0),
                       keepdims=bool(kwargs.get("keepdims", False)))
    if kwargs.get("out") is not None:
        kwargs["out"] = tuple(_plain(o) for o in kwargs["out"])
    return getattr(ufunc, method)(*[_plain(x) for x in inputs], **kwargs)


def _plain(x):
    if isinstance(x, Condition):
        return x.outcome
    if isinstance(x, Mask):
        return x.view(np.ndarray)
    return x


def _plain_tree(x):
    if isinstance(x, (list, tuple)):
        return type(x)(_plain_tree(e) for e in x)
    if isinstance(x, dict):
        return {k: _plain_tree(v) for k, v in x.items()}
    return _plain(x)


def _condition_of(x) -> Condition | None:
    if isinstance(x, Mask):
        return x.condition
    return x if isinstance(x, Condition) else None


def _recording_tape(x) -> Level | None:
    """The newest recording tape that ``x`` (a box, Condition or Mask) belongs to."""
    cond = _condition_of(x)
    if cond is not None:
        return cond.tape if cond.tape in _RECORDING else None
    tape = None
    while isinstance(x, Box):
        if x._level in _RECORDING and (tape is None or x._level.number > tape.number):
            tape = x._level
        x = x.value
    return tape


def _operand(x, tape: Level):
    """``x`` as the trace on ``tape`` sees it: its Var, its Condition, or a constant."""
    cond = _condition_of(x)
    if cond is not None:
        return cond if cond.tape is tape else _plain(x)
    while isinstance(x, Box):
        if x._level is tape:
            return x
        x = x.value
    return x


def _wrap(op: str, operands: tuple, result, params: dict):
    tapes = [t for t in map(_recording_tape, operands) if t is not None]
    if not tapes:
        return result
    tape = builtins.max(tapes, key=lambda t: t.number)
    scalar = np.ndim(result) == 0
    cond = Condition(op, tuple(_operand(x, tape) for x in operands),
                     bool(result) if scalar else np.asarray(result), tape,
                     tuple(params.items()), len(tape.nodes))
    _RECORDING[tape].conditions.append(cond)
    if scalar:
        return cond
    mask = np.asarray(result).view(Mask)
    mask.condition = cond
    return mask


def _on_comparison(op: str, a, b, result):
    return _wrap(op, (a, b), result, {})


def compare(op: str, *operands, **params):
    """``a > b``, ``a & b``, ``~a``, ``any(a)`` ... (``op`` names it) of values that may be
    traced: a plain result, or a Condition / Mask while a trace records them."""
    result = _OPERATIONS[op](*[_plain(raw(x)) for x in operands], **params)
    return _wrap(op, operands, result, params)


def _guard(cond: Condition, outcome: bool) -> None:
    rec = _RECORDING.get(cond.tape)
    if rec is not None:
        rec.guards.append((cond, outcome, len(cond.tape.nodes)))


# ---------------------------------------------------------------------------------
# Conditions written with node names, and guards
# ---------------------------------------------------------------------------------

@dataclass(eq=False)
class Expr:
    """A condition written with node names: ``Expr(">", ("v0", 0.0))`` is ``v0 > 0``."""

    op: str
    operands: tuple  # node names (_Ref), constants, or Expr
    params: tuple = ()

    def evaluate(self, env: dict) -> Any:
        """The condition on the values in ``env`` (node name -> value)."""
        return compare(self.op, *[_value(o, env) for o in self.operands], **dict(self.params))

    def text(self, show=None, code: bool = False) -> str:
        """``v0 > 0``; ``show`` writes names and constants (default: as in a trace)."""
        show = show or _show_text
        binary = self.op in _OPERATIONS and self.op not in ("~", "any", "all")
        parts = [(f"({o.text(show, code)})" if binary else o.text(show, code))
                 if isinstance(o, Expr) else show(o) for o in self.operands]
        if self.op == "[]" and not code:
            parts[1] = repr(self.operands[1])
        return _render(self.op, parts, self.params, code)

    def refs(self) -> list[str]:
        out = []
        for o in self.operands:
            out += o.refs() if isinstance(o, Expr) else [o] if isinstance(o, _Ref) else []
        return list(dict.fromkeys(out))

    def __str__(self) -> str:
        return self.text()


def _render(op: str, parts: list[str], params: tuple, code: bool = False) -> str:
    if op == "~":
        return f"np.logical_not({parts[0]})" if code else f"~{parts[0]}"
    if op in ("any", "all"):
        extra = "".join(f", {k}={v!r}" for k, v in params if v is not None and v is not False)
        return f"{'np.' if code else ''}{op}({parts[0]}{extra})"
    if op == "[]":
        return f"{parts[0]}[{parts[1]}]"
    return f" {op} ".join(parts)


def _show_text(x) -> str:
    return str(x) if isinstance(x, _Ref) else fmt.compact(x)


def _value(spec, env: dict):
    if isinstance(spec, _Ref):
        return env[spec]
    if isinstance(spec, Expr):
        return spec.evaluate(env)
    return spec


def resolve(x, names: dict[int, _Ref], tape: Level):
    """A node argument for replay: a node name, an :class:`Expr`, or a constant."""
    cond = _condition_of(x)
    if cond is not None:
        if cond.tape is not tape:
            return _plain(x)
        return Expr(cond.op, tuple(resolve(o, names, tape) for o in cond.operands),
                    cond.params)
    if isinstance(x, Box):
        return names.get(id(x), raw(x))
    return x


def conditions_in(values) -> set[int]:
    """ids of the Conditions that ``values`` are or are built from."""
    seen: set[int] = set()
    stack = [c for c in map(_condition_of, values) if c is not None]
    while stack:
        c = stack.pop()
        if id(c) not in seen:
            seen.add(id(c))
            stack += [s for s in map(_condition_of, c.operands) if s is not None]
    return seen


@dataclass(eq=False)
class Guard:
    """A choice the traced program made on its values; a replay checks it again.

    ``kind`` is ``"branch"`` when control flow (``if``, ``while``) read the condition,
    ``"value"`` when the program used the comparison as a plain value outside adlab's
    operations, so that the graph holds its outcome as a constant. ``position`` is the
    number of operations computed when the choice was made: the replay checks it
    right after operation ``after`` (``None``: right after the inputs).
    """

    condition: Expr
    outcome: Any
    position: int
    kind: str
    after: str | None

    @property
    def text(self) -> str:
        return self.condition.text()

    def __repr__(self) -> str:
        note = "" if self.kind == "branch" else ", used as a value"
        return f"guard: {self.text} ({_show_outcome(self.outcome)}{note})"

    def check(self, env: dict, trace) -> None:
        """Raise :class:`GuardError` unless the condition comes out as when traced."""
        now = self.condition.evaluate(env)
        if np.ndim(self.outcome) == 0:
            same = bool(now) == self.outcome  # inside another trace: a guard there too
        else:
            same = np.array_equal(_plain(now), self.outcome)
        if not same:
            raise GuardError(self.message(trace, env, _plain(raw(now))))

    def message(self, trace, env: dict, now) -> str:
        n_ops = len(trace.nodes) - len(trace.inputs)
        when = ("right after the inputs, before the first operation" if self.after is None
                else f"after {self.after}, operation {self.position} of {n_ops}")
        values = "; ".join(f"{r} = {fmt.compact(trace[r].value)} when traced, "
                           f"{fmt.compact(env[r])} now" for r in self.condition.refs())
        head = (f"guard {self.text} was {_show_outcome(self.outcome)} when {trace.fname} was "
                f"traced, {_show_outcome(now)} now ({values}); checked {when}.")
        if self.kind == "branch":
            why = ("Why: a static graph records one run of the program. When it was traced, "
                   f"Python's control flow (an if or a while) found {self.text} to be "
                   f"{_show_outcome(self.outcome)} and took that path; only the operations on "
                   "that path are in the graph. The other path was never recorded, so the "
                   "graph cannot follow the program's control flow there.")
        else:
            why = (f"Why: the program used {self.text} as a plain value outside adlab's "
                   "operations (e.g. ad.where with two constant branches, float() of it, "
                   "NumPy code on it), so the graph holds its traced outcome as a constant.")
        todo = (f"What to do: re-trace with the new inputs, {trace.retrace}, to record the "
                "path they take; or write the choice with ad.where(cond, a, b), which puts "
                "both branches in the graph and picks one per element, so one graph serves "
                "every input. (A dynamic tape, e.g. ad.grad on the function itself, follows "
                "Python's control flow anew on every call.)")
        return "\n".join([head, why, todo])


def _show_outcome(x) -> str:
    return str(bool(x)) if np.ndim(x) == 0 else fmt.compact(x)


def collect_guards(rec: _Recording | None, in_graph: set[int], names: list[str],
                   tape: Level, by_id: dict[int, _Ref]) -> list[Guard]:
    """The trace's guards: the branches control flow took, and comparisons that the
    program used as plain values (not reachable from the graph or a branch)."""
    if rec is None:
        return []
    guards, seen = [], set()
    for cond, outcome, position in rec.guards:
        if (id(cond), outcome) not in seen:
            seen.add((id(cond), outcome))
            guards.append((cond, outcome, position, "branch"))
    reached = in_graph | conditions_in(c for c, *_ in rec.guards)
    for cond in reversed(rec.conditions):  # a combination first, then not its parts
        if id(cond) not in reached:
            reached |= conditions_in([cond])
            guards.append((cond, cond.outcome, cond.position, "value"))
    guards.sort(key=lambda g: g[2])
    return [Guard(resolve(c, by_id, tape), outcome, p, kind, names[p - 1] if p else None)
            for c, outcome, p, kind in guards]
