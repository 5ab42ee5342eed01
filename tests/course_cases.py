"""What every exercise's checker must do, shared by the tests of each notebook."""

from course import catalog
from course.checking import evaluate


def accepts(exercise_id: str, solution) -> None:
    """The reference solution passes all the grading cases, for full points."""
    exercise = catalog.CATALOG[exercise_id]
    result = evaluate(exercise, solution, cases=catalog.GRADE_CASES, purpose="grade")
    assert result.passed, repr(result)
    assert result.score == exercise.points


def rejects(exercise_id: str, wrong) -> None:
    """A typical wrong answer fails in the learner's own few cases: the case, what was
    expected and a hint are shown."""
    result = evaluate(catalog.CATALOG[exercise_id], wrong)
    assert result.status == "failed", repr(result)
    assert result.score == 0
    assert result.case and result.expected and result.hint
