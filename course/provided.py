"""Functions the checkers hand to learner code, and procedures run on learner functions.

Some exercises take a function: ``jacobian_fwd(f, x)``, ``hvp(f, x, v)``,
``central_difference(f, x)``. In grading, learner code runs in another interpreter
(:mod:`course.runner`), so ``f`` cannot be passed as a Python object: a checker passes a
:class:`Provided`, a recipe (a builder's name and plain parameters) that is rebuilt where
the learner's code runs, and that counts its runs there (the counts come back with the
result). Some checks also need adlab to run *on* the learner's function (trace it,
replay the trace): :func:`run_on` does that where the function lives.

This module is imported by the runner: it holds no answers and no checker, only the
functions and procedures, which compute nothing an exercise asks for.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

BUILDERS: dict[str, Callable[..., Callable]] = {}
PROCEDURES: dict[str, Callable[..., Any]] = {}


def builder(fn: Callable[..., Callable]) -> Callable[..., Callable]:
    """Register ``fn(*params) -> function`` under its name."""
    BUILDERS[fn.__name__] = fn
    return fn


def procedure(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Register ``fn(learner_function, *args) -> plain data`` under its name."""
    PROCEDURES[fn.__name__] = fn
    return fn


class Provided:
    """A function handed to learner code: ``Provided("vector_function", spec)``.

    Calling it builds the function once and runs it; it counts its runs by what they
    were run on: ``on_duals`` (forward mode), ``on_tape`` (reverse mode: adlab Vars),
    ``plain`` (numbers and arrays), ``calls`` in all. With ``copy_input=True`` a plain
    array argument is copied first, so later changes the caller makes to it are not seen.
    """

    def __init__(self, builder_name: str, *params: Any, copy_input: bool = False):
        if builder_name not in BUILDERS:
            raise KeyError(f"no provided function {builder_name!r}")
        self.builder, self.params, self.copy_input = builder_name, params, copy_input
        self.calls = self.on_duals = self.on_tape = self.plain = 0
        self._fn: Callable | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        import numpy as np

        import adlab as ad

        first = args[0] if args else None
        self.calls += 1
        if isinstance(first, ad.Dual):
            self.on_duals += 1
        elif isinstance(first, ad.Var):
            self.on_tape += 1
        else:
            self.plain += 1
            if self.copy_input and first is not None:
                args = (np.array(first, dtype=float), *args[1:])
        if self._fn is None:
            self._fn = BUILDERS[self.builder](*self.params)
        return self._fn(*args, **kwargs)

    @property
    def counts(self) -> dict[str, int]:
        return {"calls": self.calls, "on_duals": self.on_duals, "on_tape": self.on_tape,
                "plain": self.plain}

    def add_counts(self, counts: Any) -> None:
        """Add the runs counted where one call's copy of the function ran (plain ints)."""
        if isinstance(counts, dict):
            for key in ("calls", "on_duals", "on_tape", "plain"):
                value = counts.get(key)
                if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                    setattr(self, key, getattr(self, key) + value)

    def __repr__(self) -> str:
        return f"<function {self.builder}>"


def guard(fn: Any, off: tuple[str, ...], fname: str) -> Any:
    """``fn`` with the transformations ``off`` switched off while it runs.

    A call of one of them from the learner's code raises adlab's MethodOff with a kind
    message; so does a function that switches the check back on while it runs.
    """
    if not off or not callable(fn):
        return fn
    from adlab import core

    messages = {name: f"this exercise asks you to write it yourself: {name} is off inside "
                      f"{fname}" for name in off}

    def guarded(*args: Any, **kwargs: Any) -> Any:
        with core.switched_off(messages) as table:
            result = fn(*args, **kwargs)
            if core.SWITCHED_OFF is not table or any(
                    table.get(name) != text for name, text in messages.items()):
                raise core.MethodOff(f"{fname} switched adlab's method check back on; this "
                                     "exercise asks you to write it yourself")
        return result

    guarded.__name__ = getattr(fn, "__name__", fname)
    return guarded


def run_on(fn: Any, name: str, *args: Any) -> Any:
    """``PROCEDURES[name](fn, *args)``, where ``fn`` lives: here for a local function, in
    the runner for a learner function of a submission (see :mod:`course.remote`)."""
    remote = getattr(fn, "run_procedure", None)
    if remote is not None:
        return remote(name, *args)
    return PROCEDURES[name](fn, *args)


# =================================================================================
# Builders and procedures of the exercises (plain parameters in, functions out)
# =================================================================================

# -- notebook 02: test functions of central_difference and fd_gradient --------------

#: One-variable test functions of exercise 02.central_difference, by their text.
FUNCTIONS_1D: dict[str, Callable] = {
    "3*x + sin(x)": lambda x: 3 * x + np.sin(x),        # z(x1, 3)
    "10 + sin(x)": lambda x: 10 + np.sin(x),            # far from zero
    "sin(3*x)": lambda x: np.sin(3 * x),                # bends fast
    "exp(x) / (1 + x*x)": lambda x: np.exp(x) / (1 + x * x),
    "log(x)": lambda x: np.log(x),
    "x * exp(x)": lambda x: x * np.exp(x),
}


def _z(v: Any) -> Any:
    return v[0] * v[1] + np.sin(v[0])


def _gap(v: Any) -> Any:
    return (v[0] * v[1] - (v[2] + v[3])) ** 2


def _rosenbrock(v: Any) -> Any:
    return np.sum(100 * (v[1:] - v[:-1] ** 2) ** 2 + (1 - v[:-1]) ** 2)


def _soft_sum(v: Any) -> Any:
    return np.log(np.sum(np.exp(v))) + np.sum(np.sin(v) * np.arange(1, len(v) + 1))


#: Functions R^n -> R of exercise 02.fd_gradient, by their short names.
FUNCTIONS_ND: dict[str, Callable] = {"z": _z, "gap": _gap, "rosenbrock": _rosenbrock,
                                     "soft_sum": _soft_sum}


@builder
def fn_1d(name: str) -> Callable:
    """``FUNCTIONS_1D[name]``: ``Provided("fn_1d", "sin(3*x)")``."""
    return FUNCTIONS_1D[name]


@builder
def fn_nd(name: str) -> Callable:
    """``FUNCTIONS_ND[name]``: ``Provided("fn_nd", "rosenbrock", copy_input=True)``."""
    return FUNCTIONS_ND[name]


# -- notebook 00: the steps of a chain and their derivatives ------------------------------

#: Steps of the chains of exercise 00.chain_product, by name: (the step, its derivative).
#: Both are given to the learner; what the exercise asks is where to evaluate the
#: derivatives and how to multiply them.
CHAIN_STEPS: dict[str, tuple[Callable, Callable]] = {
    "square": (lambda w: w ** 2, lambda w: 2 * w),
    "cube": (lambda w: w ** 3, lambda w: 3 * w ** 2),
    "sin": (np.sin, np.cos),
    "cos": (np.cos, lambda w: -np.sin(w)),
    "exp": (np.exp, np.exp),
    "arctan": (np.arctan, lambda w: 1 / (1 + w ** 2)),
}


@builder
def chain_step(name: str, which: str) -> Callable:
    """The step ``CHAIN_STEPS[name]`` (``which="f"``) or its derivative (``which="df"``):
    ``Provided("chain_step", "sin", "df")`` is cos."""
    return CHAIN_STEPS[name][0 if which == "f" else 1]


# -- notebooks 05 and 09: functions a case describes by a kind and matrices -------------

def _matrices(spec: dict) -> tuple:
    return tuple(np.asarray(spec[k], dtype=float) for k in ("A", "B", "b"))


@builder
def vector_function(spec: dict) -> Callable:
    """The function R^n -> R^m of a Jacobian case of notebook 05: ``spec`` holds its
    ``kind`` ("worked", "layer", "product", "squares") and the matrices ``A``, ``B``,
    ``b`` (arrays or nested lists); the formulas are ``course.exercises.nb05.FORMULAS``."""
    import adlab as ad

    kind = spec["kind"]
    A, B, b = _matrices(spec)
    if kind == "worked":  # the curriculum's z = x1 x2 + sin(x1) as the first of 3 outputs
        return lambda x: ad.stack([x[0] * x[1] + ad.sin(x[0]), x[0] + x[1] ** 2,
                                   x[0] * x[1] ** 2])
    if kind == "layer":
        return lambda x: ad.tanh(A @ x + b)
    if kind == "product":
        return lambda x: (A @ x) * ad.sin(B @ x) + b
    return lambda x: A @ (x * x) - ad.exp(B @ ad.cos(x)) + b


@builder
def scalar_function(spec: dict) -> Callable:
    """The function R^n -> R of a case of notebook 09: ``spec`` holds its ``kind``
    ("worked", "rosenbrock", "bowl", "softplus", "wavy") and the matrices ``A``, ``B``,
    ``b``; the formulas are ``course.exercises.nb09.FORMULAS``."""
    import adlab as ad

    kind = spec["kind"]
    A, B, b = _matrices(spec)
    if kind == "worked":  # the curriculum's z = x1 x2 + sin(x1), inputs as one vector
        return lambda x: x[0] * x[1] + ad.sin(x[0])
    if kind == "rosenbrock":
        return lambda x: ad.sum(100 * (x[1:] - x[:-1] ** 2) ** 2 + (1 - x[:-1]) ** 2)
    if kind == "bowl":
        return lambda x: x @ A @ x / 2 + ad.sum(x ** 4) / 4 - b @ x
    if kind == "softplus":
        return lambda x: ad.logsumexp(B @ x) + x @ x / 2
    return lambda x: ad.sum(ad.sin(B @ x)) + x @ A @ x / 2 + b @ x ** 3


@builder
def square_system(spec: dict) -> Callable:
    """The function R^n -> R^n of a system F(x) = 0 of notebook 09: ``spec`` holds its
    ``kind`` ("circle-hyperbola", "arm", "tanh", "cubic") and the matrices ``A``, ``B``,
    ``b`` (the named kinds read their parameters from ``b``); the formulas are
    ``course.exercises.nb09.SYSTEMS``."""
    import adlab as ad

    kind = spec["kind"]
    A, B, b = _matrices(spec)
    if kind == "circle-hyperbola":
        return lambda x: ad.stack([x[0] ** 2 + x[1] ** 2 - b[0], x[0] * x[1] - b[1]])
    if kind == "arm":  # a two-link arm, link lengths b[0] and b[1], reaching (b[2], b[3])
        return lambda x: ad.stack([b[0] * ad.cos(x[0]) + b[1] * ad.cos(x[0] + x[1]) - b[2],
                                   b[0] * ad.sin(x[0]) + b[1] * ad.sin(x[0] + x[1]) - b[3]])
    if kind == "tanh":
        return lambda x: A @ x + ad.tanh(B @ x) - b
    return lambda x: A @ x + x ** 3 - b


# -- procedures ----------------------------------------------------------------------

def _first_line(e: BaseException) -> str:
    try:
        return str(e).split("\n")[0]
    except BaseException:
        return ""


@procedure
def count_sweeps(learner_fn: Callable, *args: Any) -> dict:
    """Call ``learner_fn(*args)`` and count the sweeps adlab's engine ran meanwhile (what
    ``adlab.widgets.count_work`` reports, read from ``adlab.core.SWEEPS``): ``{"value":
    what it returned, "forward_sweeps": n, "recordings": n, "reverse_sweeps": n}``.
    Counted where the learner's code runs, since that is where the sweeps happen."""
    from adlab.core import SWEEPS

    start = dict(SWEEPS)
    value = learner_fn(*args)
    return {"value": value, **{kind: SWEEPS[kind] - start[kind] for kind in start}}


@procedure
def trace_and_replay(learner_fn: Callable, x0: float, xs: list) -> dict:
    """``t = ad.trace(learner_fn, x0)``, then ``t(x)`` and ``ad.grad(t)(x)`` for each x
    in ``xs`` in turn, as raw facts for the checker to judge: ``{"conversion_error":
    first line}`` if tracing converted x to a plain number, ``{"guards": [repr, ...]}``
    if the trace has guards, else ``{"values": [...], "grads": [...]}``, with
    ``"guard_error": [x, first line]`` added where a replay raised GuardError (the
    replays stop there)."""
    import adlab as ad

    try:
        t = ad.trace(learner_fn, x0)
    except ad.ConversionError as e:
        return {"conversion_error": _first_line(e)}
    if t.guards:
        return {"guards": [repr(g) for g in t.guards]}
    values: list = []
    grads: list = []
    for x in xs:
        try:
            values.append(t(x))
            grads.append(ad.grad(t)(x))
        except ad.GuardError as e:
            return {"values": values, "grads": grads, "guard_error": [x, _first_line(e)]}
    return {"values": values, "grads": grads}
