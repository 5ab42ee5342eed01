"""``course validate``: every solution passes its check, every released stub fails it.

Both go through the grading path (:func:`course.grade.grade_exercise`, with the
grading's larger number of cases), without a kernel: the source notebook's cells are
the "submission" that must get full marks, the released notebook's the one that must
get none.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from course import catalog, release
from course.grade import DEFAULT_TIMEOUT, grade_exercise, graded_cells
from course.result import PASSED


@dataclass(frozen=True)
class Finding:
    exercise: str
    ok: bool
    message: str

    def __str__(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'} {self.exercise}: {self.message}"


def validate(source_dir: Path = release.SOURCE_DIR,
             timeout: float = DEFAULT_TIMEOUT) -> list[Finding]:
    """One finding per exercise (or one for a source that cannot be released)."""
    try:
        releases = release.build(source_dir)
    except (release.ReleaseError, OSError, ValueError) as e:
        return [Finding("release", False, str(e))]
    sources = release.read_sources(source_dir)
    findings = []
    for stem, released in releases.items():
        for exercise_id in released.exercises:
            exercise = catalog.CATALOG[exercise_id]
            names = {exercise.name}
            solved, _, _ = grade_exercise(exercise, released.setup,
                                          graded_cells(sources[stem], names), timeout)
            stub, _, _ = grade_exercise(exercise, released.setup,
                                        graded_cells(released.notebook, names), timeout)
            problems = []
            if solved.status != PASSED:
                problems.append(f"the solution does not pass ({solved.status}: "
                                f"{solved.message})")
            if stub.status == PASSED:
                problems.append("the released stub passes")
            message = "; ".join(problems) or (
                f"the solution passes {catalog.GRADE_CASES} grading cases, "
                f"the stub fails ({stub.status})")
            findings.append(Finding(exercise_id, not problems, message))
    return findings
