"""`course grade` and `course merge` on the command line: inputs checked before any work,
learners named from their folders, safe CSV cells, shards that merge into one run's
grades, a batch that resumes after its grader was killed, a time limit per notebook."""

import contextlib
import csv
import io
import os
import signal
import subprocess
import sys
import time

import nbformat
import pytest
from test_course_grade import ALL_04, F03, F04, P04, submission

from course import cli
from course.grade import Options, grade_notebook


def run(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main([str(a) for a in argv])
        except SystemExit as e:  # argparse's own usage errors
            code = e.code
    return code, out.getvalue() + err.getvalue()


def rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def solved04():
    return submission(F04, ALL_04)


@pytest.mark.parametrize("argv,message", [
    (["grade", "/no/such/folder"], "no such file or folder"),
    (["grade", "{nb}", "--timeout", "-1"], "positive, finite number of seconds"),
    (["grade", "{nb}", "--timeout", "nan"], "positive, finite number of seconds"),
    (["grade", "{nb}", "--out", "{tmp}"], "is a folder"),
    (["grade", "{nb}", "--out", "/no/such/folder/grades.csv"], "does not exist"),
    (["grade", "{nb}", "--notebook", "42"], "no such notebook"),
    (["grade", "{nb}", "--shard", "3/2"], "I must be between 1 and N"),
    (["grade", "{nb}", "--sources", "{tmp}/empty"], "no source notebooks"),
    (["grade", "{fifo}"], "not a regular file"),
])
def test_bad_input_is_refused_before_any_work(tmp_path, solved04, argv, message):
    nb = tmp_path / "a.ipynb"
    nbformat.write(solved04, nb)
    fifo = tmp_path / "pipe.ipynb"
    os.mkfifo(fifo)
    (tmp_path / "empty").mkdir()
    argv = [a.format(nb=nb, tmp=tmp_path, fifo=fifo) for a in argv]
    start = time.monotonic()
    code, text = run(*argv, "--out", tmp_path / "g.csv") if "--out" not in argv else run(*argv)
    assert code == 2 and message in text, text
    assert time.monotonic() - start < 5 and not (tmp_path / "g.csv").exists()


def test_a_folder_of_learners_names_each_row_after_its_folder(tmp_path, solved04):
    for learner in ("alice", "bob"):
        (tmp_path / "in" / learner).mkdir(parents=True)
        nbformat.write(solved04, tmp_path / "in" / learner / f"{F04}.ipynb")
    nbformat.write(solved04, tmp_path / "in" / "=HYPERLINK(1).ipynb")  # a formula
    code, text = run("grade", tmp_path / "in", tmp_path / "in" / "alice" / f"{F04}.ipynb",
                     "--out", tmp_path / "g.csv", "--no-execute", "-j", "1")
    assert code == 0, text
    assert "was given more than once; graded once" in text
    table = rows(tmp_path / "g.csv")
    assert [r["learner"] for r in table] == ["'=HYPERLINK(1)", "alice", "bob"]
    assert all(r["total"] == str(P04) for r in table)
    assert (tmp_path / "feedback" / "alice.txt").exists()


def test_another_assignment_is_flagged_and_gets_no_points(tmp_path, solved04):
    nbformat.write(solved04, tmp_path / "right.ipynb")
    nbformat.write(submission(F03, ("03.sin_tangent",)), tmp_path / "wrong.ipynb")
    code, _ = run("grade", tmp_path / "right.ipynb", tmp_path / "wrong.ipynb", "--notebook",
                  "04", "--out", tmp_path / "g.csv", "--no-execute", "-j", "1")
    by_name = {r["learner"]: r for r in rows(tmp_path / "g.csv")}
    assert code == 0 and by_name["right"]["total"] == str(P04)
    wrong = by_name["wrong"]
    assert (wrong["total"], wrong["possible"]) == ("0", str(P04))
    assert "is 03_forward_mode, not the assignment 04_reverse_mode" in wrong["reasons"]
    assert "another assignment" in wrong["review"]


def test_shards_merge_into_the_grades_of_one_run(tmp_path, solved04):
    folder = tmp_path / "class"
    folder.mkdir()
    for i in range(5):
        nb = solved04 if i % 2 else submission(F04, ("04.div_vjp",))
        nbformat.write(nb, folder / f"learner{i}.ipynb")
    common = ["--no-execute", "-j", "2", "--feedback", tmp_path / "fb"]
    assert run("grade", folder, "--out", tmp_path / "all.csv", *common)[0] == 0
    for i in (1, 2):
        code, text = run("grade", folder, "--shard", f"{i}/2", "--out", tmp_path / f"s{i}.csv",
                         *common)
        assert code == 0 and f"shard {i}/2" in text
    assert len(rows(tmp_path / "s1.csv")) == 3 and len(rows(tmp_path / "s2.csv")) == 2
    code, text = run("merge", tmp_path / "s1.csv", tmp_path / "s2.csv", "--out",
                     tmp_path / "merged.csv")
    assert code == 0, text
    assert (tmp_path / "merged.csv").read_text() == (tmp_path / "all.csv").read_text()
    # files that do not belong together are refused
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    assert run("merge", tmp_path / "s1.csv", tmp_path / "other.csv", "--out",
               tmp_path / "x.csv")[0] == 2


def test_a_killed_grader_keeps_its_rows_and_the_batch_resumes(tmp_path, solved04):
    folder = tmp_path / "class"
    folder.mkdir()
    slow = submission(F04, ALL_04, replace={"04.div_vjp": (
        "import time\ntime.sleep(1.5)\ndef div_vjp(g, x, y):\n    return g / y, -g * x / y**2\n")})
    for i in range(4):
        nbformat.write(solved04 if i < 2 else slow, folder / f"l{i}.ipynb")
    out = tmp_path / "g.csv"
    command = [sys.executable, "-m", "course.cli", "grade", str(folder), "--out", str(out),
               "--no-execute", "-j", "1"]
    grader = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(_lines(out)) < 3:  # header and two rows
        time.sleep(0.05)
    os.killpg(grader.pid, signal.SIGKILL)
    grader.wait()
    finished = _lines(out)
    assert 3 <= len(finished) < 5, finished  # the rows graded so far, no more
    code, text = run("grade", folder, "--out", out, "--no-execute", "-j", "1")
    assert code == 0 and "resuming:" in text
    table = rows(out)
    assert [r["learner"] for r in table] == ["l0", "l1", "l2", "l3"]
    assert all(r["total"] == str(P04) for r in table)


def _lines(path):
    try:
        return [line for line in path.read_text().splitlines() if line]
    except OSError:
        return []


def test_a_notebook_has_a_time_limit_of_its_own(tmp_path, solved04):
    nb = submission(F04, ALL_04)
    for _ in range(12):  # each just under the cell limit: only the notebook's limit helps
        nb.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(0.8)"))
    nbformat.write(nb, tmp_path / "sleepy.ipynb")
    start = time.monotonic()
    graded = grade_notebook(tmp_path / "sleepy.ipynb",
                            options=Options(timeout=1, notebook_timeout=4))
    assert time.monotonic() - start < 8
    assert any("time limit of 4 s for the whole notebook ran out" in n for n in graded.notes)
