"""Exercises of notebook 06, define-by-run versus define-and-run: guards, ad.where, unrolling."""

from __future__ import annotations

from typing import Any

import numpy as np

import adlab as ad
from course.checkers import Checker, WrongOutput, as_floats, unpack
from course.exercise import Exercise, Mistake
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


# -- known mistakes ----------------------------------------------------------------------
#
# Each computes, from a case, the outputs that one wrong idea produces, and says so with
# the case's numbers. They work on plain floats: the branches of clipped are written out.

#: clipped's branches by side (1 above, -1 below, 0 between): text, value, slope
PIECES = {1: ("2x - 1", lambda x: 2 * x - 1, lambda x: 2.0),
          -1: ("-x", lambda x: -x, lambda x: -1.0),
          0: ("x*x", lambda x: x * x, lambda x: 2 * x)}


def side(x: float, inclusive: bool = False) -> int:
    """Which branch of clipped x takes; ``inclusive`` puts 1.0 and -0.5 outside (>=, <=)."""
    upper, lower = (x >= 1.0, x <= -0.5) if inclusive else (x > 1.0, x < -0.5)
    return 1 if upper else -1 if lower else 0


def piece(x: float) -> str:
    return f"branch {PIECES[side(x)][0]}"


def _flags(case: dict, broken: Any) -> dict:
    return {"breaks": np.array([float(bool(broken(case["x0"], x))) for x in case["xs"]])}


def _right_breaks(case: dict) -> dict:
    return _flags(case, lambda x0, x: side(x0) != side(x))


def _first_wrong(wrong: dict, right: dict, name: str) -> int | None:
    """The index of the first x where the mistake's answer differs from the right one."""
    differs = ~np.isclose(np.asarray(wrong[name], float), np.asarray(right[name], float))
    return int(np.argmax(differs)) if differs.any() else None


def _raises(flag: float) -> str:
    return "raises GuardError" if flag else "passes every guard"


def _answered(flag: float) -> str:
    return "True" if flag else "False"


def _inverted(case: dict) -> dict:
    return _flags(case, lambda x0, x: side(x0) == side(x))


def _inverted_says(case: dict) -> str:
    right = _right_breaks(case)
    k = _first_wrong(_inverted(case), right, "breaks")
    x0, x = case["x0"], case["xs"][k]
    return (f"your answers are the opposite of what happens: at x = {fmt(x)} you answered "
            f"{_answered(not right['breaks'][k])}, but the replay {_raises(right['breaks'][k])}"
            f", because x takes the {piece(x)} and x0 = {fmt(x0)} the {piece(x0)}; a replay "
            "breaks exactly when the branches differ")


def _inclusive(case: dict) -> dict:
    return _flags(case, lambda x0, x: side(x0, True) != side(x, True))


def _inclusive_says(case: dict) -> str:
    right = _right_breaks(case)
    k = _first_wrong(_inclusive(case), right, "breaks")
    x0, x = case["x0"], case["xs"][k]
    return (f"the tests of clipped are strict (x > 1.0, x < -0.5), so x = {fmt(x)} takes the "
            f"{piece(x)}, not an outer one: for x0 = {fmt(x0)} its replay "
            f"{_raises(right['breaks'][k])} (you answered {_answered(not right['breaks'][k])})")


def _first_test_only(case: dict) -> dict:
    return _flags(case, lambda x0, x: (x0 > 1.0) != (x > 1.0))


def _first_test_only_says(case: dict) -> str:
    right = _right_breaks(case)
    k = _first_wrong(_first_test_only(case), right, "breaks")
    x0, x = case["x0"], case["xs"][k]
    return (f"you compared only the test x > 1.0, but the trace at x0 = {fmt(x0)} also "
            f"recorded x < -0.5 as a guard: x = {fmt(x)} takes the {piece(x)} and x0 the "
            f"{piece(x0)}, so this replay raises GuardError (you answered False)")


def _replays(case: dict, branch_of: Any) -> dict:
    """Replayed values and slopes when each x is sent to the branch ``branch_of(x)``."""
    xs = [float(x) for x in case["xs"]]
    chosen = [PIECES[branch_of(x)] for x in xs]
    return {"replayed values": np.array([f(x) for (_, f, _), x in zip(chosen, xs)]),
            "replayed derivatives": np.array([d(x) for (_, _, d), x in zip(chosen, xs)])}


def _right_replays(case: dict) -> dict:
    return _replays(case, side)


def _frozen(case: dict) -> dict:
    return _replays(case, lambda x: side(case["x0"]))


def _replay_wrong(case: dict, wrong: dict) -> tuple[float, float, float]:
    """(x, the mistake's value there, clipped(x)) at the first x where they differ."""
    right = _right_replays(case)
    k = _first_wrong(wrong, right, "replayed values")
    if k is None:
        k = _first_wrong(wrong, right, "replayed derivatives")
    return (case["xs"][k], wrong["replayed values"][k], right["replayed values"][k])


def _frozen_says(case: dict) -> str:
    x, got, want = _replay_wrong(case, _frozen(case))
    return (f"your graph replays the {piece(case['x0'])} of x0 = {fmt(case['x0'])} for "
            f"every x: at x = {fmt(x)} it gives {fmt(got)}, but clipped({fmt(x)}) = "
            f"{fmt(want)}. A choice made on a plain number (x.value, or an if on it) is a "
            "constant of the trace; compare x itself inside ad.where")


def _inclusive_replays(case: dict) -> dict:
    return _replays(case, lambda x: side(x, True))


def _inclusive_replays_says(case: dict) -> str:
    x, got, want = _replay_wrong(case, _inclusive_replays(case))
    return (f"at x = {fmt(x)} your graph gives {fmt(got)}, but clipped's tests are strict "
            f"(x > 1.0, x < -0.5), so x = {fmt(x)} belongs to the {piece(x)} and "
            f"clipped({fmt(x)}) = {fmt(want)}: use > and <, not >= and <=")


def _swapped_side(x: float) -> int:
    """ad.where(c, a, b) read as (c, if false, if true), in both calls of the rewrite."""
    return -1 if x > 1.0 else 1


def _swapped(case: dict) -> dict:
    return _replays(case, _swapped_side)


def _swapped_says(case: dict) -> str:
    x, got, want = _replay_wrong(case, _swapped(case))
    return (f"in ad.where(condition, a, b), a is taken where the condition is True and b "
            f"where it is False; with a and b exchanged your graph gives {fmt(got)} at "
            f"x = {fmt(x)} instead of clipped({fmt(x)}) = {fmt(want)}")


def body_runs(a: float) -> int:
    """How often the body of babylonian's loop runs for a, on plain floats."""
    x, runs = a, 0
    while x * x - a > 1e-6:
        runs += 1
        x = (x + a / x) / 2
    return runs


def _size(nodes: int, guards: int) -> dict:
    return {"nodes": np.asarray(float(nodes)), "guards": np.asarray(float(guards))}


def _size_says(case: dict, got: dict, why: str) -> str:
    a, k = case["a"], body_runs(case["a"])
    return (f"for a = {fmt(a)} the body runs k = {k} times and the condition is tested "
            f"k + 1 = {k + 1} times, so the trace has {5 * k + 3} nodes and {k + 1} guards; "
            f"you have {fmt(got['nodes'])} and {fmt(got['guards'])}: {why}")


def _last_test_dropped(case: dict) -> dict:
    k = body_runs(case["a"])
    return _size(1 + 5 * k, k)


def _guards_as_nodes(case: dict) -> dict:
    k = body_runs(case["a"])
    return _size(5 * k + 3 + k + 1, k + 1)


def _input_dropped(case: dict) -> dict:
    k = body_runs(case["a"])
    return _size(5 * k + 2, k + 1)



EXERCISES = (
    Exercise(
        id="06.predict_guard", notebook="06_static_and_dynamic", points=2, name="breaks",
        title="Which replays raise GuardError", checker=PredictGuard(),
        hint="A trace keeps only the branch of clipped that x0 went through, plus a guard "
             "for every test that ran on the way. Replaying it at x raises GuardError "
             "exactly when one of those tests comes out differently, that is, when x "
             "belongs to another branch of clipped than x0.",
        more_hints=(
            "First step: name the branch of a number: above (x > 1.0), below "
            "(x < -0.5) or in between. Both tests are strict, so 1.0 and -0.5 "
            "themselves are in the middle branch, x*x.",
            "Outline: find the branch of x0, find the branch of x, and return whether "
            "they differ, as a bool (True or False, not 1 or 0). Check yourself with "
            "x0 = 0.25: x = -0.5 and x = 1.0 replay fine, x = 1.5 and x = -2 break.",
        ),
        mistakes=(
            Mistake("breaks-inverted", _inverted, _inverted_says),
            Mistake("boundary-on-wrong-side", _inclusive, _inclusive_says),
            Mistake("only-first-guard", _first_test_only, _first_test_only_says),
        ),
    ),
    Exercise(
        id="06.rewrite_with_where", notebook="06_static_and_dynamic", points=2,
        name="clipped_where", title="One graph for every input, with ad.where",
        checker=RewriteWithWhere(),
        hint="A Python if (or anything that turns x into a plain number) picks one branch "
             "while the trace is recorded, and the graph keeps only that branch. "
             "ad.where chooses inside the graph, entry by entry, so a graph built with it "
             "holds every branch and replays at any x.",
        more_hints=(
            "Key step: clipped has two tests and three branches, so nest two ad.where "
            "calls. The argument order is ad.where(condition, value where True, value "
            "where False); the outer call decides x > 1.0, and its False value is the "
            "inner call, which decides x < -0.5.",
            "Outline: write the three branch expressions of clipped in terms of x; "
            "combine them with the two nested ad.where calls, with the same strict "
            "comparisons as clipped (> and <, not >= and <=); return that. No if, no "
            "float(x), no x.value: each fixes the choice at x0.",
        ),
        mistakes=(
            Mistake("branch-of-x0-everywhere", _frozen, _frozen_says),
            Mistake("boundary-on-wrong-side", _inclusive_replays, _inclusive_replays_says),
            Mistake("where-arguments-swapped", _swapped, _swapped_says),
        ),
    ),
    Exercise(
        id="06.unrolled_size", notebook="06_static_and_dynamic", points=3,
        name="unrolled_size", title="How long is an unrolled loop?", checker=UnrolledSize(),
        hint="A trace unrolls the while loop: every test of its condition and every run "
             "of its body is recorded again. So find out how often the loop runs for "
             "this a, then count what one test and what one run of the body add to the "
             "graph, and what is there before the loop starts.",
        more_hints=(
            "The counts: the input is 1 node; each test of the condition records 2 nodes "
            "(the product x * x and the subtraction of a) and 1 guard (a comparison is "
            "a guard, not a node); each run of the body records 3 nodes (a division, an "
            "addition, a multiplication by 0.5). With k runs of the body the condition "
            "is tested k + 1 times: the last test is False and ends the loop.",
            "Outline: run the loop on plain floats with a counter k of the body's runs; "
            "from k, the number of tests is k + 1; add up 1 for the input, 2 per test "
            "and 3 per run for the nodes; the guards are the tests; return the two "
            "numbers in that order. For a = 2: k = 4, so 23 nodes and 5 guards.",
        ),
        mistakes=(
            Mistake("last-test-forgotten", _last_test_dropped,
                    lambda c: _size_says(c, _last_test_dropped(c),
                                         "the final test, which is False, is recorded too")),
            Mistake("guards-counted-as-nodes", _guards_as_nodes,
                    lambda c: _size_says(c, _guards_as_nodes(c),
                                         "a guard records the comparison's outcome, it "
                                         "is not a node of the graph")),
            Mistake("input-not-counted", _input_dropped,
                    lambda c: _size_says(c, _input_dropped(c),
                                         "the input a is a node of the trace too")),
        ),
    ),
)
