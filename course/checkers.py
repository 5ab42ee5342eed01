r"""Checkers: seeded cases, the learner's outputs, adlab's expected outputs, a comparison.

A checker splits checking into the part that runs learner code and the part that
judges it, so that the judging never runs where learner code has been:

* :meth:`Checker.cases` draws the inputs (seeded, so a learner sees the same cases
  every time; grading draws more of them);
* :meth:`Checker.call` calls the learner's function on one case and returns its
  outputs by name: for ``check()`` in a forked child of the kernel; in grading in the
  grading process, where the function is a :class:`~course.remote.RemoteFunction` whose
  calls run in the submission's own interpreter and come back as plain data (so a
  checker hands over data and :class:`~course.provided.Provided` functions, never live
  Python objects);
* :meth:`Checker.expected` computes the right outputs with adlab (never where learner
  code runs);
* :func:`compare` converts both to float arrays and compares shapes and values within the
  checker's ``rtol`` and ``atol``.

Learner outputs are converted with ``np.asarray(..., dtype=float)`` before anything
compares them, so an object whose ``__eq__`` always says True is simply not a number.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from course.result import fmt, safe_repr

Case = dict[str, Any]
Outputs = dict[str, Any]
MAX_NUMBERS = 100_000  # per output; far more than any case needs
RTOL, ATOL = 1e-6, 1e-9


class WrongOutput(Exception):
    """The learner's function returned something of the wrong kind.

    ``args[0]`` says what was wrong, ``got`` shows what came back instead.
    """

    def __init__(self, message: str, got: str = ""):
        super().__init__(message)
        self.got = got


def as_floats(value: Any, what: str) -> np.ndarray:
    """``value`` as a float array, or :class:`WrongOutput` saying what it is instead."""
    shown = f"{what} = {safe_repr(value)}"
    if isinstance(value, (str, bytes)) or value is None:
        raise WrongOutput(f"{what} is not a number or an array of numbers", shown)
    try:
        a = np.asarray(value)
        if a.dtype.kind not in "iufO":
            raise TypeError
        a = a.astype(float)
    except Exception:
        raise WrongOutput(f"{what} is not a number or an array of numbers", shown) from None
    if a.size > MAX_NUMBERS:
        raise WrongOutput(f"{what} has {a.size} numbers, far more than expected",
                          f"{what} with shape {a.shape}")
    return a


def unpack(result: Any, names: tuple[str, ...], fname: str) -> Outputs:
    """Split a returned tuple into named outputs, with a clear message when it is not one."""
    if not isinstance(result, (tuple, list)) or len(result) != len(names):
        wanted = ", ".join(names)
        raise WrongOutput(f"{fname} should return {len(names)} values, as in "
                          f"`return {wanted}`", safe_repr(result))
    return dict(zip(names, result))


def encode(outputs: Outputs) -> dict:
    """Learner outputs as JSON-able data: ``{name: {"shape": [...], "data": [...]}}``."""
    out = {}
    for name, value in outputs.items():
        a = as_floats(value, name)
        out[name] = {"shape": list(a.shape), "data": a.ravel().tolist()}
    return out


def decode(data: dict) -> dict[str, np.ndarray]:
    return {name: np.asarray(v["data"], dtype=float).reshape(v["shape"])
            for name, v in data.items()}


def compare(expected: dict[str, np.ndarray], got: dict[str, np.ndarray],
            rtol: float = RTOL, atol: float = ATOL) -> str | None:
    """None if every output matches (within ``rtol`` and ``atol``, as ``np.isclose``
    means them), else a sentence saying what differs."""
    for name in got:
        if name not in expected:
            return f"{name} should not be there"
    for name, want in expected.items():
        if name not in got:
            return f"{name} is missing"
        have = got[name]
        if have.shape != want.shape:
            return f"{name} has shape {have.shape} but should have shape {want.shape}"
        close = np.isclose(have, want, rtol=rtol, atol=atol)
        if not close.all():
            if want.ndim == 0:
                return f"{name} is wrong"
            index = tuple(int(i) for i in np.argwhere(~close)[0])
            return (f"{name} is wrong at index {index}: expected {fmt(want[index])}, "
                    f"got {fmt(have[index])}")
    return None


def show(outputs: dict[str, np.ndarray]) -> str:
    return ", ".join(f"{name} = {fmt(v)}" for name, v in outputs.items())


class Checker:
    """Base class. Subclasses list ``fixed`` cases and draw random ones.

    ``rtol`` and ``atol`` are how close an answer must come (``np.isclose``'s meaning):
    exact rules are held to 1e-6; an exercise whose right answers differ by rounding
    (finite differences, say) sets looser ones, and its task states them.
    """

    fixed: tuple[Case, ...] = ()
    rtol: float = RTOL
    atol: float = ATOL

    def tolerance(self) -> str:
        """The tolerance in words, for the task and the feedback."""
        def short(x: float) -> str:
            return f"{x:.0e}".replace("e-0", "e-") if x < 1e-3 else f"{x:g}"

        return f"a relative error of {short(self.rtol)} (an absolute one of {short(self.atol)} " \
               "near zero)"

    def cases(self, rng: np.random.Generator, n: int) -> list[Case]:
        """``n`` cases: the fixed ones (worked examples) first, then random ones."""
        out = [dict(c) for c in self.fixed[:n]]
        out += [self.random_case(rng, k) for k in range(n - len(out))]
        return out

    def random_case(self, rng: np.random.Generator, k: int) -> Case:
        raise NotImplementedError  # abstract: each subclass defines it

    def call(self, fn: Any, case: Case, fname: str) -> Outputs:
        """Run the learner's function on a copy of the case; return outputs by name."""
        raise NotImplementedError  # abstract: each subclass defines it

    def expected(self, case: Case) -> dict[str, np.ndarray]:
        raise NotImplementedError  # abstract: each subclass defines it

    def describe(self, case: Case, fname: str) -> str:
        """The call, as the learner would write it."""
        return f"{fname}({', '.join(f'{k}={fmt(v)}' for k, v in case.items())})"


def number(rng: np.random.Generator, low: float, high: float, shape: tuple = ()) -> Any:
    """Random values with two decimals (readable in feedback), kept away from zero."""
    v = np.round(rng.uniform(low, high, size=shape), 2)
    v = np.where(np.abs(v) < 0.1, 0.5, v)
    return float(v) if shape == () else v


SHAPES = [(), (3,), (2, 3), (3, 3), (4,)]
