"""The exercise catalog: every graded exercise of the course, in course order.

An entry names the notebook it lives in (the stem of its source notebook in
``course/sources``), the object the learner writes, its points, its checker and the
hint shown on a failure. To add an exercise: write a :class:`~course.checkers.Checker`,
add an :class:`Exercise` here, and add an exercise cell and a check cell to its
notebook (the conventions are in the docstring of :mod:`course`).
"""

from __future__ import annotations

import difflib
import zlib
from dataclasses import dataclass

import numpy as np

from course.checkers import Checker, Derive, MulVjp, SharedAdjoint, SinTangent

CHECK_CASES = 5    # what check() in a notebook tries
GRADE_CASES = 50   # what grading tries: more cases than the learner saw
DEFAULT_TIMEOUT = 10.0  # seconds, for one exercise's cases


@dataclass(frozen=True)
class Exercise:
    """One graded exercise."""

    id: str          # "<notebook number>.<short name>", e.g. "03.sin_tangent"
    notebook: str    # the source notebook's stem, e.g. "03_forward_mode"
    title: str
    points: int
    name: str        # the object the learner writes, e.g. "sin_jvp"
    checker: Checker
    hint: str
    timeout: float = DEFAULT_TIMEOUT

    def rng(self, purpose: str) -> np.random.Generator:
        """The seeded generator for ``purpose`` ("check" or "grade"): same cases every run."""
        return np.random.default_rng([zlib.crc32(self.id.encode()), zlib.crc32(purpose.encode())])


EXERCISES = (
    Exercise(
        id="03.sin_tangent", notebook="03_forward_mode", points=2, name="sin_jvp",
        title="The forward rule of sin", checker=SinTangent(),
        hint="Forward mode carries a tangent with every value: y = sin(x) and "
             "y_dot = cos(x) * x_dot. The input tangent x_dot (the seed) multiplies the "
             "local derivative cos(x). Use np.sin and np.cos so that arrays work too.",
    ),
    Exercise(
        id="04.mul_vjp", notebook="04_reverse_mode", points=2, name="mul_vjp",
        title="The reverse rule of a product", checker=MulVjp(),
        hint="For z = x * y the local partials are dz/dx = y and dz/dy = x. Each input's "
             "adjoint is the output's adjoint g times the partial with respect to that "
             "input: x_bar = g * y and y_bar = g * x, elementwise (no transposes).",
    ),
    Exercise(
        id="04.shared_adjoint", notebook="04_reverse_mode", points=2,
        name="reverse_sweep_shared", title="Summing the adjoint of a variable used twice",
        checker=SharedAdjoint(),
        hint="Write the forward sweep (a = x + y, b = x * a, c = y * y, z = b + c), then "
             "walk it backwards from z_bar = 1. x is used twice (in a and in b) and so is "
             "y (in a and in c): every use contributes, so add the contributions "
             "(x_bar = x_bar + ...) instead of overwriting. At (2, 3): z = 19, x_bar = 7, "
             "y_bar = 8.",
    ),
    Exercise(
        id="04.derive", notebook="04_reverse_mode", points=3, name="derive",
        title="A recursive derive() on an expression tree", checker=Derive(),
        hint="At a Plus, pass the seed unchanged to both children; at a Multiply, pass "
             "seed * (the OTHER child's value) to each child; at a Variable, add the seed "
             "to adjoints[name] (start from adjoints.get(name, 0.0)): a variable used "
             "several times receives the sum of all its contributions.",
    ),
)

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
