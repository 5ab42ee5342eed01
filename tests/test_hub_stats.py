"""The class dashboard's statistics on small classes computed by hand."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from course.hub.stats import (
    MIN_LEARNERS,
    ExerciseInfo,
    course_stats,
    misconceptions,
    point_biserial,
    tries_to_pass,
)

EXERCISES = [ExerciseInfo("01.a", "Exercise A", "01_x", 2),
             ExerciseInfo("01.b", "Exercise B", "01_x", 3),
             ExerciseInfo("02.c", "Exercise C", "02_y", 5)]


@dataclass(frozen=True)
class A:
    user: str
    exercise: str
    passed: bool
    time: str = "2026-01-01T10:00:00+00:00"
    misconception: str = ""
    score: float = 0.0


def t(minute: int) -> str:
    return f"2026-01-01T10:{minute:02d}:00+00:00"


def row(stats, exercise_id):
    return next(r for r in stats.exercises if r.id == exercise_id)


def test_empty_course_has_empty_tables_and_blank_statistics():
    stats = course_stats([], EXERCISES)
    assert stats.learners == [] and stats.misconceptions == []
    assert stats.possible == 10
    assert [r.id for r in stats.exercises] == ["01.a", "01.b", "02.c"]
    for r in stats.exercises:
        assert (r.attempted, r.passed, r.attempts) == (0, 0, 0)
        assert r.facility is None and r.median_tries is None and r.discrimination is None
        assert r.discrimination_note.startswith("too few learners: 0 attempted")


def test_learner_progress_counts_each_exercise_once():
    attempts = [A("alice", "01.a", False, t(1)), A("alice", "01.a", True, t(2)),
                A("alice", "01.a", True, t(3)), A("alice", "01.b", False, t(7)),
                A("bob", "02.c", True, t(4))]
    stats = course_stats(attempts, EXERCISES)
    bob, alice = stats.learners  # 5 points before 2
    assert (alice.user, alice.points, alice.possible, alice.passed, alice.exercises,
            alice.attempts, alice.last_activity) == ("alice", 2, 10, 1, 3, 4, t(7))
    assert (bob.user, bob.points, bob.passed, bob.attempts) == ("bob", 5, 1, 1)


def test_learners_with_equal_points_are_in_name_order():
    attempts = [A("zoe", "01.a", True), A("adam", "01.a", True), A("mia", "01.b", True)]
    assert [r.user for r in course_stats(attempts, EXERCISES).learners] == \
        ["mia", "adam", "zoe"]


def test_facility_and_median_tries_by_hand():
    # 01.a: alice passes on try 2, bob on 1, dave on 3, eve on 2; carol fails twice
    attempts = [A("alice", "01.a", False, t(1)), A("alice", "01.a", True, t(2)),
                A("bob", "01.a", True, t(1)),
                A("carol", "01.a", False, t(1)), A("carol", "01.a", False, t(2)),
                A("dave", "01.a", False, t(1)), A("dave", "01.a", False, t(2)),
                A("dave", "01.a", True, t(3)), A("dave", "01.a", True, t(4)),
                A("eve", "01.a", False, t(1)), A("eve", "01.a", True, t(2))]
    r = row(course_stats(attempts, EXERCISES), "01.a")
    assert (r.attempted, r.passed, r.attempts) == (5, 4, 11)
    assert r.facility == pytest.approx(4 / 5)
    assert r.median_tries == 2.0  # tries 1, 2, 2, 3


def test_median_of_an_even_count_is_the_mean_of_the_middle_two():
    attempts = [A("alice", "01.b", True, t(1)),
                A("bob", "01.b", False, t(1)), A("bob", "01.b", False, t(2)),
                A("bob", "01.b", False, t(3)), A("bob", "01.b", True, t(4))]
    assert row(course_stats(attempts, EXERCISES), "01.b").median_tries == 2.5  # 1 and 4


def test_tries_follow_the_learners_clock_and_ties_keep_the_order_received():
    # received: the pass first, then a failure made earlier: the pass was try 2
    late = [A("alice", "01.a", True, t(5)), A("alice", "01.a", False, t(1))]
    assert row(course_stats(late, EXERCISES), "01.a").median_tries == 2
    # equal times: the order received decides
    tied = [A("bob", "01.a", True, t(3)), A("bob", "01.a", False, t(3))]
    assert row(course_stats(tied, EXERCISES), "01.a").median_tries == 1
    assert tries_to_pass([A("x", "01.a", False), A("x", "01.a", False)]) is None


def test_point_biserial_by_hand():
    # x = 1 1 0 0 1, y = 6 4 2 0 3: mean x 0.6, mean y 3, cov 4.0 / 5 = 0.8,
    # var x 0.24, var y 20 / 5 = 4, r = 0.8 / sqrt(0.96) = 0.81650
    r = point_biserial([True, True, False, False, True], [6, 4, 2, 0, 3])
    assert r == pytest.approx(0.8 / math.sqrt(0.96))
    # the textbook form (M1 - M0) / s * sqrt(p q) gives the same number
    m1, m0, s, p = 13 / 3, 1.0, 2.0, 0.6
    assert r == pytest.approx((m1 - m0) / s * math.sqrt(p * (1 - p)))
    assert point_biserial([1, 0], [0, 1]) == pytest.approx(-1)


def test_point_biserial_refuses_a_column_that_does_not_vary():
    with pytest.raises(ValueError):
        point_biserial([True, True], [1, 2])
    with pytest.raises(ValueError):
        point_biserial([True, False], [3, 3])
    with pytest.raises(ValueError):
        point_biserial([True], [1, 2])


DISCRIMINATION = [ExerciseInfo("01.t", "Target", "01_x", 1),
                  ExerciseInfo("01.o1", "Other 1", "01_x", 4),
                  ExerciseInfo("01.o2", "Other 2", "01_x", 2),
                  ExerciseInfo("01.o3", "Other 3", "01_x", 1)]


def test_discrimination_correlates_passing_with_the_score_on_the_other_exercises():
    # rest scores (the target's own point left out): a 4+2 = 6, b 4, c 2, d 0, e 2+1 = 3
    attempts = [A("a", "01.t", True), A("a", "01.o1", True), A("a", "01.o2", True),
                A("b", "01.t", True), A("b", "01.o1", True),
                A("c", "01.t", False), A("c", "01.o2", True),
                A("d", "01.t", False),
                A("e", "01.t", True), A("e", "01.o2", True), A("e", "01.o3", True)]
    r = row(course_stats(attempts, DISCRIMINATION), "01.t")
    assert r.discrimination == pytest.approx(0.816497, abs=1e-6)
    assert r.discrimination_note == ""
    # with the target's own point counted (7 5 2 0 4) it would be 0.8785: it is not
    assert r.discrimination != pytest.approx(0.8785, abs=1e-3)


def test_discrimination_is_negative_when_the_weaker_learners_pass():
    attempts = [A("a", "01.t", True), A("b", "01.t", True), A("b", "01.o3", True),
                A("c", "01.t", False), A("c", "01.o1", True),
                A("d", "01.t", False), A("d", "01.o1", True), A("d", "01.o2", True),
                A("e", "01.t", False), A("e", "01.o2", True)]
    assert row(course_stats(attempts, DISCRIMINATION), "01.t").discrimination < 0


@pytest.mark.parametrize("passes, others, note", [
    ([True, False, True, False], [1, 0, 0, 1], "too few learners: 4 attempted"),
    ([True] * 5, [1, 0, 1, 0, 1], "everyone who attempted it passed"),
    ([False] * 5, [1, 0, 1, 0, 1], "nobody who attempted it passed"),
    ([True, False, True, False, True], [1, 1, 1, 1, 1], "all equal"),
])
def test_discrimination_is_blank_with_a_reason(passes, others, note):
    attempts = []
    for i, (passed, other) in enumerate(zip(passes, others)):
        attempts.append(A(f"u{i}", "01.t", passed))
        if other:
            attempts.append(A(f"u{i}", "01.o1", True))
    r = row(course_stats(attempts, DISCRIMINATION), "01.t")
    assert r.discrimination is None
    assert note in r.discrimination_note
    assert MIN_LEARNERS == 5


def test_an_exercise_not_in_the_catalog_is_listed_with_no_points():
    attempts = [A("alice", "09.gone", True), A("alice", "01.a", True)]
    stats = course_stats(attempts, EXERCISES)
    gone = row(stats, "09.gone")
    assert (gone.in_catalog, gone.points, gone.attempted, gone.passed) == (False, 0, 1, 1)
    assert stats.exercises[-1] is gone
    (alice,) = stats.learners
    assert (alice.points, alice.passed) == (2, 1)


def test_misconceptions_count_learners_then_attempts_then_course_order():
    attempts = [A("a", "01.b", False, misconception="sign"),
                A("a", "01.b", False, misconception="sign"),
                A("b", "01.b", False, misconception="sign"),
                A("a", "01.a", False, misconception="order"),
                A("b", "01.a", False, misconception="order"),
                A("c", "02.c", False, misconception="units"),
                A("c", "02.c", False, misconception="units"),
                A("d", "01.a", False, misconception="seed"),
                A("e", "01.a", True)]
    rows = misconceptions(attempts, EXERCISES)
    assert [(r.exercise, r.code, r.learners, r.attempts) for r in rows] == [
        ("01.b", "sign", 2, 3),    # 2 learners, 3 attempts
        ("01.a", "order", 2, 2),   # 2 learners, 2 attempts
        ("02.c", "units", 1, 2),
        ("01.a", "seed", 1, 1)]
    assert rows[0].title == "Exercise B"
    assert course_stats(attempts, EXERCISES).misconceptions == rows
