"""Notebook 06's checkers accept the reference solutions and reject typical mistakes."""

import time

import numpy as np
import pytest
from course_cases import runner_and_here, same_verdict_test

import adlab as ad
from course import catalog
from course.checkers import WrongOutput
from course.checking import evaluate
from course.exercises import nb06
from course.remote import LearnerRaised, RemoteFunction


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


def passes(exercise_id, fn, grading=False):
    exercise = catalog.CATALOG[exercise_id]
    if grading:
        return evaluate(exercise, fn, cases=catalog.GRADE_CASES, purpose="grade")
    return evaluate(exercise, fn)


def assert_rejected(exercise_id, fn):
    result = passes(exercise_id, fn)
    assert result.status == "failed", repr(result)
    assert result.score == 0
    assert result.hint


# -- 06.predict_guard ------------------------------------------------------------------

def branch(x, above=lambda x: x > 1.0, below=lambda x: x < -0.5):
    return 2 if above(x) else 0 if below(x) else 1


def breaks(x0, x):
    return branch(x0) != branch(x)


PREDICT_WRONG = {
    "negated": lambda x0, x: branch(x0) == branch(x),
    ">= instead of >": lambda x0, x: branch(x0, above=lambda u: u >= 1.0) != branch(
        x, above=lambda u: u >= 1.0),
    "<= instead of <": lambda x0, x: branch(x0, below=lambda u: u <= -0.5) != branch(
        x, below=lambda u: u <= -0.5),
    "only the first guard": lambda x0, x: (x0 > 1.0) != (x > 1.0),
    "never breaks": lambda x0, x: False,
    "a sign change breaks": lambda x0, x: (x0 > 0) != (x > 0),
    "returns 0/1, not a bool": lambda x0, x: int(breaks(x0, x)),
}


def test_predict_guard_reference_passes_with_grading_cases():
    result = passes("06.predict_guard", breaks, grading=True)
    assert result.passed, repr(result)


@pytest.mark.parametrize("mistake", list(PREDICT_WRONG))
def test_predict_guard_rejects(mistake):
    assert_rejected("06.predict_guard", PREDICT_WRONG[mistake])


def test_predict_guard_cases_cover_every_branch_and_both_boundaries():
    exercise = catalog.CATALOG["06.predict_guard"]
    cases = exercise.checker.cases(exercise.rng("check"), catalog.CHECK_CASES)
    assert {branch(c["x0"]) for c in cases} == {0, 1, 2}
    assert all({1.0, -0.5} <= set(c["xs"].tolist()) for c in cases)


# -- 06.rewrite_with_where -------------------------------------------------------------

def clipped_where(x):
    return ad.where(x > 1.0, 2 * x - 1, ad.where(x < -0.5, -x, x * x))


WHERE_WRONG = {
    "still uses if": nb06.clipped,
    "<= at the lower boundary": lambda x: ad.where(x > 1.0, 2 * x - 1,
                                                   ad.where(x <= -0.5, -x, x * x)),
    "swapped branches": lambda x: ad.where(x > 1.0, ad.where(x < -0.5, -x, x * x), 2 * x - 1),
    "sign error": lambda x: ad.where(x > 1.0, 2 * x - 1, ad.where(x < -0.5, x, x * x)),
    "a choice through float()": lambda x: ad.where(float(x) > 1.0, 2 * x - 1,
                                                   ad.where(float(x) < -0.5, -x, x * x)),
}


def test_rewrite_with_where_reference_passes_with_grading_cases():
    result = passes("06.rewrite_with_where", clipped_where, grading=True)
    assert result.passed, repr(result)


def test_numpy_where_is_accepted_too():
    fn = lambda x: np.where(x > 1.0, 2 * x - 1, np.where(x < -0.5, -x, x * x))  # noqa: E731
    assert passes("06.rewrite_with_where", fn).passed


@pytest.mark.parametrize("mistake", list(WHERE_WRONG))
def test_rewrite_with_where_rejects(mistake):
    assert_rejected("06.rewrite_with_where", WHERE_WRONG[mistake])


def test_the_if_version_is_told_about_guards():
    result = passes("06.rewrite_with_where", nb06.clipped)
    assert "guard" in result.message


# -- 06.unrolled_size ------------------------------------------------------------------

def iterations(a):
    x, k = a, 0
    while x * x - a > 1e-6:
        x = 0.5 * (x + a / x)
        k += 1
    return k


def unrolled_size(a):
    k = iterations(a)
    return 1 + 2 * (k + 1) + 3 * k, k + 1


SIZE_WRONG = {
    "body only": lambda a: (1 + 3 * iterations(a), iterations(a) + 1),
    "forgot the last test's nodes": lambda a: (1 + 5 * iterations(a), iterations(a) + 1),
    "one guard too few": lambda a: (unrolled_size(a)[0], iterations(a)),
    "forgot the input": lambda a: (unrolled_size(a)[0] - 1, unrolled_size(a)[1]),
    "one number only": lambda a: unrolled_size(a)[0],
}


def test_unrolled_size_reference_passes_with_grading_cases():
    result = passes("06.unrolled_size", unrolled_size, grading=True)
    assert result.passed, repr(result)


@pytest.mark.parametrize("mistake", list(SIZE_WRONG))
def test_unrolled_size_rejects(mistake):
    assert_rejected("06.unrolled_size", SIZE_WRONG[mistake])


def test_unrolled_size_expected_matches_the_trace_of_the_worked_case():
    t = ad.trace(nb06.babylonian, 2.0)
    assert (len(t.nodes), len(t.guards)) == (23, 5) == unrolled_size(2.0)


def test_notebook_06_has_at_least_three_exercises_of_its_own():
    assert len(nb06.EXERCISES) >= 3
    assert all(e.notebook == "06_static_and_dynamic" and e.id.startswith("06.")
               for e in nb06.EXERCISES)


class Reports:
    """A learner function whose trace_and_replay reports these facts (as a runner would)."""

    def __init__(self, facts):
        self.facts = facts

    def run_procedure(self, name, *args):
        assert name == "trace_and_replay"
        return self.facts


CASE = {"x0": 0.25, "xs": np.array([-2.0, 0.5])}


@pytest.mark.parametrize("facts,says,shown", [
    ({"conversion_error": "float() of a value"}, "turned x into a plain number",
     "float() of a value"),
    ({"guards": ["guard: v0 > 1 (False)", "guard: v0 < -0.5 (False)"]}, "has guards",
     "guard: v0 > 1 (False); guard: v0 < -0.5 (False)"),
    ({"values": [4.0, "x"], "grads": [-1.0]}, "the replay is not a number", "'x'"),
    ({"values": [4.0], "grads": [-1.0], "guard_error": [0.5, "guard v0 > 1 ..."]},
     "replaying the trace of clipped_where at x = 0.5 raised GuardError",
     "guard v0 > 1 ..."),
    ({"values": [4.0], "grads": [[1.0, 2.0, "?"]]}, "the replay's derivative is not", ""),
    ("garbled", "could not be checked", "'garbled'"),
])
def test_rewrite_with_where_judges_what_the_trace_and_replays_reported(facts, says, shown):
    checker = catalog.CATALOG["06.rewrite_with_where"].checker
    with pytest.raises(WrongOutput) as caught:
        checker.call(Reports(facts), CASE, "clipped_where")
    assert says in str(caught.value)
    assert shown in caught.value.got


def test_rewrite_with_where_takes_the_replays_reported_in_order():
    checker = catalog.CATALOG["06.rewrite_with_where"].checker
    got = checker.call(Reports({"values": [4.0, 0.25], "grads": [-1.0, 0.5]}), CASE,
                       "clipped_where")
    assert got["replayed values"].tolist() == [4.0, 0.25]
    assert got["replayed derivatives"].tolist() == [-1.0, 0.5]
    assert checker.expected(CASE)["replayed values"].tolist() == [2.0, 0.25]


def test_the_trace_and_replay_procedure_reports_raw_facts():
    from course.provided import PROCEDURES

    trace_and_replay = PROCEDURES["trace_and_replay"]
    assert trace_and_replay(nb06.clipped, 0.25, [0.5])["guards"] == ["guard: v0 > 1 (False)",
                                                                    "guard: v0 < -0.5 (False)"]
    facts = trace_and_replay(clipped_where, 2.0, [2.0, -1.0])
    assert facts == {"values": [3.0, 1.0], "grads": [2.0, -1.0]}
    assert "conversion_error" in trace_and_replay(WHERE_WRONG["a choice through float()"],
                                                  2.0, [1.0])


def test_a_learner_error_in_the_runner_comes_back_as_raised(learner):
    runner, _ = learner
    exercise = catalog.CATALOG["06.rewrite_with_where"]
    fn = RemoteFunction(runner, "clipped_raises", time.monotonic() + 60)
    with pytest.raises(LearnerRaised) as caught:
        exercise.checker.call(fn, CASE, exercise.name)
    assert caught.value.name == "ValueError" and caught.value.message == "not yet"


NOTEBOOK = "06_static_and_dynamic"
MISTAKES = '''
def breaks_as_int(x0, x):
    return int(breaks(x0, x))


def breaks_never(x0, x):
    return False


def clipped_with_if(x):
    if x > 1.0:
        return 2 * x - 1
    if x < -0.5:
        return -x
    return x * x


def clipped_through_float(x):
    return ad.where(float(x) > 1.0, 2 * x - 1, ad.where(float(x) < -0.5, -x, x * x))


def clipped_sign_error(x):
    return ad.where(x > 1.0, 2 * x - 1, ad.where(x < -0.5, x, x * x))


def clipped_raises(x):
    raise ValueError("not yet")


def unrolled_size_one_number(a):
    return unrolled_size(a)[0]
'''

#: (exercise, learner function, status, part of the message)
REMOTE = [
    ("06.predict_guard", "breaks", "passed", ""),
    ("06.predict_guard", "breaks_as_int", "wrong", "should return True or False"),
    ("06.predict_guard", "breaks_never", "failed", "breaks is wrong"),
    ("06.rewrite_with_where", "clipped_where", "passed", ""),
    ("06.rewrite_with_where", "clipped_with_if", "wrong", "has guards"),
    ("06.rewrite_with_where", "clipped_through_float", "wrong", "turned x into a plain number"),
    ("06.rewrite_with_where", "clipped_sign_error", "failed", "replayed values is wrong"),
    ("06.unrolled_size", "unrolled_size", "passed", ""),
    ("06.unrolled_size", "unrolled_size_one_number", "wrong", "should return 2 values"),
]


# -- the same checks as grading runs them (see course_cases.both_ways) -------------------

@pytest.fixture(scope="module")
def learner(tmp_path_factory):
    """(runner, namespace here): the same learner code in a runner and in this process."""
    yield from runner_and_here(tmp_path_factory, NOTEBOOK, MISTAKES)


test_a_runner_gets_the_same_verdict_as_this_process = same_verdict_test(REMOTE)
