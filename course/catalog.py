"""The exercise catalog: every graded exercise of the course, in course order.

An entry names the notebook it lives in (the stem of its source notebook in
``course/sources``), the object the learner writes, its points, its checker and the
hint shown on a failure. To add an exercise: write a :class:`~course.checkers.Checker`
and an :class:`Exercise` in its notebook's module of :mod:`course.exercises`, and add an
exercise cell and a check cell to its notebook (the conventions are in the docstring of
:mod:`course`).
"""

from __future__ import annotations

import difflib

from course.exercise import CHECK_CASES, DEFAULT_TIMEOUT, GRADE_CASES, Exercise
from course.exercises import all_exercises

__all__ = ["CATALOG", "CHECK_CASES", "DEFAULT_TIMEOUT", "EXERCISES", "Exercise", "GRADE_CASES",
           "by_notebook", "get"]

EXERCISES = all_exercises()

CATALOG: dict[str, Exercise] = {e.id: e for e in EXERCISES}


def get(exercise_id: str) -> Exercise:
    """The exercise with this id; a KeyError that suggests the closest ids otherwise."""
    try:
        return CATALOG[exercise_id]
    except (KeyError, TypeError):
        close = difflib.get_close_matches(str(exercise_id), list(CATALOG), n=3)
        known = ", ".join(close or CATALOG)
        raise KeyError(f"no exercise {exercise_id!r}; did you mean {known}?") from None


def by_notebook() -> dict[str, list[Exercise]]:
    """The exercises grouped by notebook, both in course order."""
    groups: dict[str, list[Exercise]] = {}
    for e in sorted(EXERCISES, key=lambda e: e.notebook):
        groups.setdefault(e.notebook, []).append(e)
    return groups
