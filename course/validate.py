"""``course validate``: every solution passes its check, every released stub fails it.

Both go through the grading path (:func:`course.grade.grade_cells`: a runner for the
cells, the checkers in this process, the grading's larger number of cases), without
running the rest of the notebook: the source notebook's cells are the "submission" that
must get full marks, the released notebook's the one that must get none.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from course import catalog, release
from course.grade import DEFAULT_TIMEOUT, Options, grade_cells, graded_cells
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
    options = Options(timeout=timeout, execute=False)
    findings = []
    for stem, released in releases.items():
        if not released.exercises:
            continue
        names = {catalog.CATALOG[i].name for i in released.exercises}
        workdir = Path(tempfile.mkdtemp(prefix="course-validate-"))
        try:
            deadline = time.monotonic() + 20 * timeout * max(1, len(released.exercises))
            solved, _ = grade_cells(released, graded_cells(sources[stem], names), workdir,
                                    options, deadline)
            stubs, _ = grade_cells(released, graded_cells(released.notebook, names), workdir,
                                   options, deadline)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        for exercise_id in released.exercises:
            solution, stub = solved[exercise_id], stubs[exercise_id]
            problems = []
            if solution.status != PASSED:
                problems.append(f"the solution does not pass ({solution.status}: "
                                f"{solution.message})")
            if stub.status == PASSED:
                problems.append("the released stub passes")
            message = "; ".join(problems) or (
                f"the solution passes {catalog.GRADE_CASES} grading cases, "
                f"the stub fails ({stub.status})")
            findings.append(Finding(exercise_id, not problems, message))
    return findings
