"""Notebook 06's checkers accept the reference solutions and reject typical mistakes."""

import numpy as np
import pytest

import adlab as ad
from course import catalog
from course.checking import evaluate
from course.exercises import nb06


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
