"""course grade, end to end: every kind of submission gets a grade and a reason."""

import contextlib
import copy
import csv
import io
import time
from pathlib import Path

import nbformat
import pytest

from course import catalog, cli, release
from course.grade import grade_notebook, learner_names

ROOT = Path(__file__).resolve().parent.parent
F03, F04 = "03_forward_mode", "04_reverse_mode"
GROUPS = catalog.by_notebook()
ALL_04 = tuple(e.id for e in GROUPS[F04])  # the notebook's exercises, as the catalog has them
POINTS = {e.id: e.points for e in catalog.EXERCISES}
P03, P04 = (sum(e.points for e in GROUPS[f]) for f in (F03, F04))
SOURCES = release.read_sources()
SHARED_SOLUTION = next(c.source for c in SOURCES[F04].cells
                       if release.meta(c).get("exercise") == "04.shared_adjoint")


def submission(stem, solved=(), replace=None, drop_checks=(), drop_exercises=(), edit=None):
    """The released notebook as a learner might hand it in."""
    nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
    solutions = {release.meta(c)["exercise"]: c.source for c in SOURCES[stem].cells
                 if "exercise" in release.meta(c)}
    for cell in nb.cells:
        exercise = release.meta(cell).get("exercise")
        if exercise in solved:
            cell.source = solutions[exercise]
        if replace and exercise in replace:
            cell.source = replace[exercise]
    nb.cells = [c for c in nb.cells if release.meta(c).get("check") not in drop_checks
                and release.meta(c).get("exercise") not in drop_exercises]
    if edit:
        edit(nb)
    return nb


def change_check_cell(exercise_id, source):
    def edit(nb):
        for cell in nb.cells:
            if release.meta(cell).get("check") == exercise_id:
                cell.source = source
    return edit


PATCHES = """
import course, course.checkers, course.checking
import numpy as np
course.check = check = lambda *a, **k: print("04.div_vjp: passed (2/2 points)")
course.checkers.compare = lambda *a, **k: None
course.checking.judge = lambda *a, **k: None
np.allclose = lambda *a, **k: True
np.isclose = lambda a, b, **k: np.ones(np.shape(a), bool)
def div_vjp(g, x, y):
    return g * y, g * x      # the product's rule: wrong for x / y
"""

ALWAYS_EQUAL = """
class Same:
    def __eq__(self, other):
        return True
    __hash__ = None

def sin_jvp(x, x_dot):
    return Same(), Same()
"""

SUBMISSIONS = {
    "solved": lambda: submission(F04, ALL_04),
    "untouched": lambda: submission(F04),
    "half": lambda: submission(F04, ("04.div_vjp", "04.derive")),
    "syntax": lambda: submission(F04, ALL_04, replace={
        "04.div_vjp": "def div_vjp(g, x, y)\n    return g / y, -g * x / y**2\n"}),
    "loop": lambda: submission(F03, replace={
        "03.sin_tangent": "def sin_jvp(x, x_dot):\n    while True:\n        pass\n"}),
    "exit": lambda: submission(F04, ("04.derive",), replace={
        "04.div_vjp": "import sys\ndef div_vjp(g, x, y):\n    sys.exit(1)\n",
        "04.shared_adjoint": SHARED_SOLUTION + "\nimport sys\nsys.exit()\n"}),
    "patched": lambda: submission(F04, replace={"04.div_vjp": PATCHES},
                                  edit=change_check_cell("04.derive", "print('passed')")),
    "always_equal": lambda: submission(F03, replace={"03.sin_tangent": ALWAYS_EQUAL}),
    "no_checks": lambda: submission(F04, ALL_04, drop_checks=ALL_04),
    "no_exercise": lambda: submission(F04, ALL_04, drop_exercises=("04.derive",)),
}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """Grade all submissions in one run of `course grade` (one kernel start each)."""
    folder = tmp_path_factory.mktemp("grading")
    paths = []
    for name, make in SUBMISSIONS.items():
        nbformat.write(make(), folder / f"{name}.ipynb")
        paths.append(str(folder / f"{name}.ipynb"))
    (folder / "not_json.ipynb").write_text("{ this is not a notebook")
    paths.append(str(folder / "not_json.ipynb"))
    err = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
        mp.setenv("ADLAB_COURSE_DB", str(folder / "progress.sqlite3"))
        code = cli.main(["grade", *paths, "--out", str(folder / "grades.csv"),
                         "--timeout", "3"])
    with open(folder / "grades.csv", newline="") as handle:
        rows = {row["learner"]: row for row in csv.DictReader(handle)}
    return {"code": code, "rows": rows, "folder": folder, "stderr": err.getvalue()}


def test_the_batch_completes_with_a_row_and_feedback_for_everyone(batch):
    assert batch["code"] == 0
    assert set(batch["rows"]) == {*SUBMISSIONS, "not_json"}
    for learner in batch["rows"]:
        text = (batch["folder"] / "feedback" / f"{learner}.txt").read_text()
        assert text.startswith(f"Feedback for {learner}") and "Score:" in text
    assert "grading [####################] 11/11" in batch["stderr"]
    assert not (batch["folder"] / "progress.sqlite3").exists()  # kernels kept their own


@pytest.mark.parametrize("learner,total,possible,reason", [
    ("solved", P04, P04, ""),
    ("untouched", 0, P04, "04.div_vjp: not attempted"),
    ("half", POINTS["04.div_vjp"] + POINTS["04.derive"], P04, "04.shared_adjoint: not attempted"),
    ("syntax", P04 - POINTS["04.div_vjp"], P04, "has a syntax error (line 1): expected ':'"),
    ("loop", 0, P03, "03.sin_tangent: timed out"),
    ("exit", POINTS["04.shared_adjoint"] + POINTS["04.derive"], P04,
     "div_vjp called sys.exit()"),
    ("patched", 0, P04, "the check cell of 04.derive was changed; it was restored"),
    ("always_equal", 0, P03, "y is not a number or an array of numbers"),
    ("no_checks", P04, P04, "the check cell of 04.div_vjp was deleted; it was restored"),
    ("no_exercise", P04 - POINTS["04.derive"], P04, "04.derive: missing"),
    ("not_json", 0, 0, "not a readable notebook"),
])
def test_each_submission_gets_a_grade_and_a_reason(batch, learner, total, possible, reason):
    row = batch["rows"][learner]
    assert (row["total"], row["possible"]) == (str(total), str(possible)), row
    if reason:
        assert reason in row["reasons"], row["reasons"]
    else:
        assert row["reasons"] == ""


def test_scores_per_exercise_and_grading_cases(batch):
    rows = batch["rows"]
    assert [rows["half"][e] for e in ("04.div_vjp", "04.shared_adjoint", "04.derive")] == [
        str(POINTS["04.div_vjp"]), "0", str(POINTS["04.derive"])]
    assert rows["loop"]["04.div_vjp"] == "" and rows["loop"]["03.sin_tangent"] == "0"
    # the patching cell cannot even import the checkers: they are not where learner code runs
    assert "No module named 'course.checkers'" in rows["patched"]["reasons"]
    assert "04.div_vjp: missing" in rows["patched"]["reasons"]
    assert "uses course internals" in rows["patched"]["review"]
    assert rows["solved"]["review"] == ""
    # the kernel's own check of the endless loop stopped before the cell's time limit
    loop_feedback = (batch["folder"] / "feedback" / "loop.txt").read_text()
    assert "timed out" in loop_feedback and "running the notebook" not in loop_feedback
    exit_note = (batch["folder"] / "feedback" / "exit.txt").read_text()
    assert "called sys.exit(); the rest of that cell was not run" in exit_note
    assert rows["exit"]["04.shared_adjoint"] == "2"


# -- without a kernel: quick cases of the grading step itself ------------------------

def _grade(tmp_path, nb, name="sub.ipynb", timeout=2.0):
    path = tmp_path / name
    nbformat.write(nb, path)
    return grade_notebook(path, timeout=timeout, execute_notebook=False)


def test_an_answer_moved_into_a_cell_of_ones_own_still_counts(tmp_path):
    nb = submission(F04, ALL_04)
    moved = next(c for c in nb.cells if release.meta(c).get("exercise") == "04.derive")
    nb.cells.remove(moved)
    nb.cells.append(nbformat.v4.new_code_cell(moved.source))
    assert _grade(tmp_path, nb).score == P04


def _prepend(nb, exercise_id, code):
    cell = next(c for c in nb.cells if release.meta(c).get("exercise") == exercise_id)
    cell.source = code + cell.source
    return nb.cells.index(cell) + 1


def test_a_cell_that_never_finishes_is_interrupted_and_the_others_still_count(tmp_path):
    nb = submission(F04, ALL_04)
    number = _prepend(nb, "04.div_vjp", "while True:\n    pass\n")
    start = time.monotonic()
    graded = _grade(tmp_path, nb, timeout=1.0)
    assert time.monotonic() - start < 8
    assert graded.score == P04 - POINTS["04.div_vjp"]
    assert graded.results["04.div_vjp"].status == "missing"
    assert f"grading: cell {number} did not finish within 1 s and was interrupted" in graded.notes


def test_a_cell_that_ignores_the_interrupt_is_killed_once(tmp_path):
    nb = submission(F04, ALL_04)
    number = _prepend(nb, "04.div_vjp", "while True:\n    try:\n        while True:\n"
                                          "            pass\n    except BaseException:\n"
                                          "        continue\n")
    start = time.monotonic()
    graded = _grade(tmp_path, nb, timeout=1.0)
    assert time.monotonic() - start < 12  # one cell limit and its grace, not one per exercise
    assert graded.score == 0
    assert all(r.status == "timed out" for r in graded.results.values())
    assert (f"Cell {number} did not finish within 1 s and ignored the interrupt"
            in graded.results["04.derive"].message)


def test_a_cell_that_ends_the_process_is_a_reason(tmp_path):
    nb = submission(F03, ("03.sin_tangent",))
    number = _prepend(nb, "03.sin_tangent", "import os\nos._exit(3)\n")
    graded = _grade(tmp_path, nb)
    assert graded.score == 0
    assert f"Cell {number} ended the process" in graded.reasons()[0]


def test_a_notebook_without_metadata_is_known_by_its_name(tmp_path):
    nb = submission(F03, ("03.sin_tangent",))
    nb.metadata.pop("course")
    for cell in nb.cells:
        cell.metadata.pop("course", None)
    graded = _grade(tmp_path, copy.deepcopy(nb), name="03_forward_mode.ipynb")
    assert (graded.notebook, graded.score) == (F03, 2)
    other = _grade(tmp_path, nb, name="homework.ipynb")
    assert other.notebook is None and "not a notebook of this course" in other.reasons()[0]


def test_learner_names_are_stems_made_unique():
    paths = [Path("a/alice.ipynb"), Path("x/03.ipynb"), Path("y/03.ipynb")]
    assert learner_names(paths) == ["alice", "x-03", "y-03"]
