"""Exercises of notebook 06, define-by-run versus define-and-run: guards, ad.where, unrolling."""

from __future__ import annotations

from typing import Any

import numpy as np

import adlab as ad
from course.checkers import Checker, WrongOutput, as_floats, unpack
from course.exercise import Exercise
from course.provided import run_on
from course.result import fmt, safe_repr

BOUNDARIES = (1.0, -0.5)  # where clipped changes branch


def clipped(x: Any) -> Any:
    """The notebook's branchy function: 2x - 1 above 1, -x below -0.5, x*x between."""
    if x > 1.0:
        return 2 * x - 1
    if x < -0.5:
        return -x
    return x * x


def babylonian(a: Any) -> Any:
    """The square root of a >= 1 by Newton's (Heron's) iteration, until x*x - a <= 1e-6."""
    x = a
    while x * x - a > 1e-6:
        x = 0.5 * (x + a / x)
    return x


def _points(rng, n: int) -> np.ndarray:
    """n random points on both sides of clipped's boundaries, and the boundaries."""
    xs = np.round(rng.uniform(-3, 3, size=n), 2)
    return np.concatenate([xs, BOUNDARIES])


def _breaks(t: ad.Trace, x: float) -> bool:
    try:
        t(x)
    except ad.GuardError:
        return True
    return False


class PredictGuard(Checker):
    """``breaks(x0, x) -> bool``: does the trace of ``clipped`` at x0 raise GuardError at x?"""

    fixed = (
        {"x0": 0.25, "xs": np.array([-2.0, -0.5, -0.3, 0.0, 1.0, 1.5])},
        {"x0": 2.0, "xs": np.array([3.0, 1.0, 1.01, 0.5, -0.5, -2.0])},
        {"x0": -1.0, "xs": np.array([-3.0, -0.5, -0.51, 0.0, 1.0, 2.0])},
    )

    def random_case(self, rng, k):
        x0 = [rng.uniform(1.1, 3), rng.uniform(-0.4, 0.9), rng.uniform(-3, -0.6)][k % 3]
        return {"x0": float(np.round(x0, 2)), "xs": _points(rng, 8)}

    def call(self, fn, case, fname):
        out = []
        for x in case["xs"]:
            got = fn(float(case["x0"]), float(x))
            if not isinstance(got, (bool, np.bool_)):
                raise WrongOutput(f"{fname} should return True or False", safe_repr(got))
            out.append(float(got))
        return {"breaks": np.array(out)}

    def expected(self, case):
        t = ad.trace(clipped, case["x0"])
        return {"breaks": np.array([float(_breaks(t, x)) for x in case["xs"]])}

    def describe(self, case, fname):
        xs = ", ".join(fmt(x) for x in case["xs"])
        return (f"{fname}(x0, x) for x0 = {fmt(case['x0'])} and x = {xs} in turn "
                "(breaks[i] is 1 for True, 0 for False)")


class RewriteWithWhere(Checker):
    """``clipped_where(x)``: traced once at x0, its replays must equal ``clipped`` everywhere.

    The trace and its replays run where the learner's function lives (the procedure
    ``trace_and_replay`` of :mod:`course.provided`, which only reports what happened);
    what that means for the learner is decided here.
    """

    fixed = (
        {"x0": 0.25, "xs": np.array([-2.0, -0.5, -0.3, 0.0, 1.0, 1.5])},
        {"x0": 2.0, "xs": np.array([-1.0, -0.5, 0.7, 1.0, 2.5])},
    )

    def random_case(self, rng, k):
        x0 = [rng.uniform(-3, -0.6), rng.uniform(-0.4, 0.9), rng.uniform(1.1, 3)][k % 3]
        return {"x0": float(np.round(x0, 2)), "xs": _points(rng, 8)}

    def call(self, fn, case, fname):
        facts = run_on(fn, "trace_and_replay", float(case["x0"]),
                       [float(x) for x in case["xs"]])
        if not isinstance(facts, dict):
            raise WrongOutput(f"the trace of {fname} could not be checked", safe_repr(facts))
        if "conversion_error" in facts:  # float(x), math.*: a choice made on a plain number
            raise WrongOutput(
                f"{fname} turned x into a plain number (float(x), int(x), math.*), so "
                "Python chose a branch from the value of x and the derivative would be "
                "lost. Write every choice with ad.where(condition, a, b) on x itself",
                str(facts["conversion_error"]))
        if facts.get("guards"):
            guards = facts["guards"]
            shown = "; ".join(map(str, guards if isinstance(guards, list) else [guards]))
            raise WrongOutput(
                f"the trace of {fname} at x0 = {fmt(case['x0'])} has guards, so Python "
                "still chose a branch from the value of x (an if, a while, float(x), ...). "
                "Write every choice with ad.where(condition, a, b)", shown)
        replays, slopes = (v if isinstance(v, list) else []
                           for v in (facts.get("values"), facts.get("grads")))
        values, grads = [], []
        for k, value in enumerate(replays):  # in the order they ran: value, then slope
            values.append(as_floats(value, "the replay"))
            if k < len(slopes):
                grads.append(as_floats(slopes[k], "the replay's derivative"))
        stop = facts.get("guard_error")
        if isinstance(stop, (list, tuple)) and len(stop) == 2:
            x = stop[0]
            x = fmt(x) if isinstance(x, float) else safe_repr(x)
            raise WrongOutput(f"replaying the trace of {fname} at x = {x} raised "
                              "GuardError", str(stop[1]))
        return {"replayed values": np.array(values), "replayed derivatives": np.array(grads)}

    def expected(self, case):
        xs = [float(x) for x in case["xs"]]
        return {"replayed values": np.array([float(clipped(x)) for x in xs]),
                "replayed derivatives": np.array([float(ad.grad(clipped)(x)) for x in xs])}

    def describe(self, case, fname):
        xs = ", ".join(fmt(x) for x in case["xs"])
        return (f"t = ad.trace({fname}, {fmt(case['x0'])}), then t(x) and ad.grad(t)(x) "
                f"for x = {xs}, compared with clipped(x) and its derivative")


class UnrolledSize(Checker):
    """``unrolled_size(a) -> (nodes, guards)`` of ``ad.trace(babylonian, a)``."""

    fixed = ({"a": 2.0}, {"a": 1.0}, {"a": 10.0})

    def random_case(self, rng, k):
        return {"a": float(np.round(10 ** rng.uniform(0.05, 6), 2))}

    def call(self, fn, case, fname):
        return unpack(fn(float(case["a"])), ("nodes", "guards"), fname)

    def expected(self, case):
        t = ad.trace(babylonian, case["a"])
        return {"nodes": np.asarray(float(len(t.nodes))),
                "guards": np.asarray(float(len(t.guards)))}


EXERCISES = (
    Exercise(
        id="06.predict_guard", notebook="06_static_and_dynamic", points=2, name="breaks",
        title="Which replays raise GuardError", checker=PredictGuard(),
        hint="Traced at x0, the graph holds one branch of clipped: the one x0 took. A replay "
             "at x raises exactly when x would take another branch, so compare the branch "
             "of x with the branch of x0. Mind the boundaries: clipped tests x > 1.0 and "
             "x < -0.5 (strict), so x = 1.0 and x = -0.5 belong to the middle branch.",
    ),
    Exercise(
        id="06.rewrite_with_where", notebook="06_static_and_dynamic", points=2,
        name="clipped_where", title="One graph for every input, with ad.where",
        checker=RewriteWithWhere(),
        hint="Compute every branch and let ad.where choose per input: "
             "ad.where(x > 1.0, 2 * x - 1, ad.where(x < -0.5, -x, x * x)). Keep the "
             "comparisons exactly as in clipped (strict > and <), and no if on x.",
    ),
    Exercise(
        id="06.unrolled_size", notebook="06_static_and_dynamic", points=3,
        name="unrolled_size", title="How long is an unrolled loop?", checker=UnrolledSize(),
        hint="Run the loop on plain floats and count the iterations k. Each test of the "
             "while condition records 2 operations (x * x and - a) and one guard; each "
             "iteration of the body records 3 (a / x, x + ..., 0.5 * ...). The loop is "
             "tested k + 1 times (the last test is False), and the input is a node too.",
    ),
)
