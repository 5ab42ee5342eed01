"""One graded exercise: what the catalog lists, and the case counts for checks and grades."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from course.checkers import Checker

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
