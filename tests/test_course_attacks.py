"""Hostile submissions: each attack gets the grade its exercises earn, the batch finishes
with every honest row, and nothing outside a submission's own folder changes.

The batch runs the way a teacher runs it (`course grade`, two jobs), from a teacher's
folder, with a teacher's home, progress store and a token in the environment. The
containment tests need bubblewrap (`make test` installs it).
"""

import contextlib
import csv
import hashlib
import io
import re
import sqlite3
import time
from pathlib import Path

import nbformat
import pytest
from test_course_grade import ALL_04, F03, F04, P03, P04, POINTS, ROOT, submission

import adlab
from course import cli, contain, release

pytestmark = pytest.mark.skipif(contain.bwrap() is None,
                                reason="bubblewrap (bwrap) is not available here")

TOKEN = "hub-token-7f3a9c"            # a secret in the teacher's environment
MARKER = "classmate-private-42"        # something only a classmate's notebook holds
ADLAB_FILE = Path(adlab.__file__).parent / "fmt.py"


def with_cell(nb, code, before=None):
    """The notebook with a code cell inserted (before an exercise's cell, or at the end)."""
    cell = nbformat.v4.new_code_cell(code)
    if before is None:
        nb.cells.append(cell)
    else:
        index = next(i for i, c in enumerate(nb.cells)
                     if release.meta(c).get("exercise") == before)
        nb.cells.insert(index, cell)
    return nb


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else "absent"


def escape_cell(t: dict) -> str:
    """Code that tries every way out of its folder that a hostile learner tried."""
    targets = [t["teacher"] / "owned.txt", t["home"] / "owned.txt", t["classmate"],
               t["feedback"] / "honest.txt", t["out"], t["store"]]
    return f"""
import os, sqlite3, subprocess
for path in {[str(p) for p in targets]!r}:
    try:
        with open(path, "w") as handle:
            handle.write("forged")
    except OSError:
        pass
try:
    with open({str(ADLAB_FILE)!r}, "a") as handle:
        handle.write("\\n# forged by a submission\\n")
except OSError:
    pass
try:
    con = sqlite3.connect({str(t["store"])!r})
    con.execute("DELETE FROM attempts")
    con.commit()
except Exception:
    pass
try:  # a daemon that edits the grades after the grader has gone
    subprocess.Popen(["sh", "-c", "sleep 1; echo forged >> {t["out"]}"],
                     start_new_session=True)
except OSError:
    pass
"""


SOLUTION = next(  # a line only the instructor's sources hold: a solution of notebook 09
    line.strip() for c in release.read_sources()["09_higher_order"].cells
    if "exercise" in release.meta(c) and "BEGIN SOLUTION" in c.source
    for line in c.source.split("### BEGIN SOLUTION")[1].splitlines() if len(line.strip()) > 12)

LEAK = f"""
import os, glob
SEEN = repr(dict(os.environ))
for pattern in ("/work/**/sources/*.ipynb", "/root/**/*.ipynb", "/tmp/**/*.ipynb",
                "{{teacher}}/**/*.ipynb"):
    for name in glob.glob(pattern, recursive=True)[:50]:
        try:
            SEEN += open(name).read()[:100000]
        except OSError:
            pass

WANTED = ["{TOKEN[:4]}" + "{TOKEN[4:]}", {SOLUTION[:6]!r} + {SOLUTION[6:]!r},
          "{MARKER[:4]}" + "{MARKER[4:]}"]

def div_vjp(g, x, y):
    print(SEEN[-1500:], *[w in SEEN for w in WANTED])
    return g / y, -g * x / y**2
"""

FORGE = """
import os
import re
fake = b'{"value": {"$tuple": [1.0, 2.0]}, "after": [null, null], "counts": [], "printed": ""}\\n'
for fd in range(3, 40):
    try:
        os.write(fd, fake * 60 + b'{"done": true}\\n{"ready": true}\\n')
    except OSError:
        pass
"""

FORK_TREE = """
import os, time
for _ in range(3):
    if os.fork() == 0:
        time.sleep(120)
        os._exit(0)
"""


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    root = tmp_path_factory.mktemp("attacks")
    t = {"teacher": root / "teacher", "home": root / "home"}
    t["submissions"], t["feedback"] = t["teacher"] / "in", t["teacher"] / "feedback"
    t["out"], t["store"] = t["teacher"] / "grades.csv", t["home"] / "progress.sqlite3"
    for folder in ("teacher", "home", "submissions", "feedback"):
        t[folder].mkdir(parents=True, exist_ok=True)
    t["classmate"] = t["submissions"] / "honest.ipynb"
    con = sqlite3.connect(t["store"])  # the teacher's own progress, which must survive
    con.execute("CREATE TABLE keep (x)")
    con.execute("INSERT INTO keep VALUES (1)")
    con.commit()
    con.close()
    (t["feedback"] / "honest.txt").write_text("written before")
    t["out"].write_text("")

    honest = with_cell(submission(F04, ALL_04), f"# {MARKER}")
    sources = {
        "honest": honest,
        "welcome": nbformat.read(ROOT / "notebooks" / "welcome.ipynb", as_version=4),
        "escape": with_cell(submission(F04, ALL_04), escape_cell(t), before="04.div_vjp"),
        "leak": submission(F04, ALL_04, replace={"04.div_vjp": LEAK.replace(
            "{teacher}", str(t["teacher"]))}),
        "forge": with_cell(submission(F04), FORGE),
        "kill_parent": with_cell(submission(F03, ("03.sin_tangent",)),
                                 "import os\nos.kill(os.getppid(), 9)\n"),
        "fork_tree": with_cell(submission(F03, ("03.sin_tangent",)), FORK_TREE,
                               before="03.sin_tangent"),
        "flood": submission(F03, replace={"03.sin_tangent": (
            "import numpy as np\nprint('x' * 150_000_000)\ndef sin_jvp(x, x_dot):\n"
            "    print('y' * 1_000_000)\n    return np.sin(x), np.cos(x) * x_dot\n")}),
        "memory_bomb": with_cell(submission(F03, ("03.sin_tangent",)),
                                 "try:\n    hog = bytearray(50 * 2**30)\nexcept MemoryError:\n"
                                 "    hog = None\nhog2 = bytearray(50 * 2**30)\n",
                                 before="03.sin_tangent"),
        "retry_loop": with_cell(submission(F03, ("03.sin_tangent",)),
                                "while True:\n    try:\n        while True:\n            pass\n"
                                "    except BaseException:\n        continue\n"),
    }
    for name, nb in sources.items():
        nbformat.write(nb, t["submissions"] / f"{name}.ipynb")
    before = {p: digest(p) for p in [t["classmate"], t["store"], ADLAB_FILE]}
    adlab_text = ADLAB_FILE.read_bytes()
    err = io.StringIO()
    start = time.monotonic()
    try:
        with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
            mp.chdir(t["teacher"])
            mp.setenv("HOME", str(t["home"]))
            mp.setenv("JUPYTERHUB_API_TOKEN", TOKEN)
            mp.setenv("ADLAB_COURSE_DB", str(t["store"]))
            code = cli.main(["grade", str(t["submissions"]), "--out", str(t["out"]),
                             "--timeout", "3", "-j", "2", "--restart"])
    finally:
        if ADLAB_FILE.read_bytes() != adlab_text:  # never leave the package changed
            ADLAB_FILE.write_bytes(adlab_text)
    seconds = time.monotonic() - start
    time.sleep(2)  # the daemon would have written by now
    with open(t["out"], newline="") as handle:
        rows = {row["learner"]: row for row in csv.DictReader(handle)}
    return {**t, "code": code, "rows": rows, "before": before, "seconds": seconds,
            "stderr": err.getvalue(), "sources": sources}


def test_the_batch_finishes_with_a_row_for_everyone(attacked):
    assert attacked["code"] == 0, attacked["stderr"]
    assert set(attacked["rows"]) == set(attacked["sources"])
    assert "bubblewrap" in attacked["stderr"]


@pytest.mark.parametrize("learner,total,possible,reason", [
    ("honest", P04, P04, ""),
    ("welcome", 0, 0, "welcome has no graded exercises"),
    ("escape", P04, P04, ""),      # its exercises are right; its escape went nowhere
    ("leak", P04, P04, ""),
    ("forge", 0, P04, "04.div_vjp: not attempted"),
    # the next four solve 03.sin_tangent only; their attacks stop the top-to-bottom run
    # (noted in the feedback), never the grade of what they solved
    ("kill_parent", POINTS["03.sin_tangent"], P03, "03.div_tangent: not attempted"),
    ("fork_tree", POINTS["03.sin_tangent"], P03, "03.div_tangent: not attempted"),
    ("flood", POINTS["03.sin_tangent"], P03, "03.div_tangent: not attempted"),
    ("memory_bomb", POINTS["03.sin_tangent"], P03, "cell {hog2 = bytearray} raised MemoryError"),
    ("retry_loop", POINTS["03.sin_tangent"], P03, "cell {except BaseException} did not finish "
                                                  "within 3 s and ignored the interrupt"),
])
def test_each_attack_gets_the_grade_its_exercises_earn(attacked, learner, total, possible,
                                                       reason):
    row = attacked["rows"][learner]
    assert (row["total"], row["possible"]) == (str(total), str(possible)), row
    feedback = (attacked["feedback"] / f"{learner}.txt").read_text()
    marker = re.search(r"\{(.+?)\}", reason)
    if marker:  # "cell {text}": the number of the cell that holds the attack's text
        cells = attacked["sources"][learner].cells
        number = 1 + next(i for i, c in enumerate(cells) if marker[1] in c.source)
        reason = reason.replace(marker[0], str(number))
    if reason:
        assert reason in row["reasons"] or reason in feedback, (row["reasons"], feedback)


def test_nothing_outside_a_submissions_folder_changed(attacked):
    for path, before in attacked["before"].items():
        assert digest(path) == before, f"{path} was changed"
    assert (attacked["feedback"] / "honest.txt").read_text().startswith(
        "Feedback for honest on 04_reverse_mode\nScore: 9/9")
    assert not (attacked["teacher"] / "owned.txt").exists()
    assert not (attacked["home"] / "owned.txt").exists()
    assert "forged" not in attacked["out"].read_text()
    con = sqlite3.connect(attacked["store"])
    assert con.execute("SELECT COUNT(*) FROM keep").fetchone() == (1,)


def test_nothing_secret_reaches_a_feedback_file(attacked):
    text = (attacked["feedback"] / "leak.txt").read_text()
    assert "your code printed" in text  # what it printed did arrive, so the test can fail
    assert TOKEN not in text and SOLUTION not in text and MARKER not in text
    assert "False False False" in text


def test_printing_150_mb_keeps_only_a_short_tail(attacked):
    text = (attacked["feedback"] / "flood.txt").read_text()
    assert len(text) < 20_000


def test_killing_the_parent_reaches_only_the_sandbox(attacked):
    # the runner's parent is the sandbox's own init, which ignores the signal; the
    # grader, in another process-id space, is out of reach (it finished the batch)
    feedback = (attacked["feedback"] / "kill_parent.txt").read_text()
    assert "03.sin_tangent: passed" in feedback


def test_cells_that_touch_the_judge_are_flagged_for_review(attacked):
    rows = attacked["rows"]
    assert "controls processes" in rows["kill_parent"]["review"]
    assert "controls processes" in rows["fork_tree"]["review"]
    assert rows["honest"]["review"] == "" and rows["flood"]["review"] == ""


def test_a_fork_tree_does_not_make_the_batch_wait(attacked):
    # ten submissions on two jobs, each well inside its limits: no exercise waited for
    # the sleeping children (120 s each) or for its full timeout
    assert attacked["seconds"] < 90, attacked["seconds"]


def test_learner_code_cannot_see_the_checkers_or_the_sources(tmp_path):
    from course.grade import Options, grade_notebook

    probe = f"""
import importlib, os
FOUND = []
for name in ("course.checkers", "course.exercises", "course.grade", "course.catalog"):
    try:
        importlib.import_module(name)
        FOUND.append(name)
    except ImportError:
        pass
FOUND += [p for p in ({str(release.SOURCE_DIR)!r}, os.path.expanduser("~/.ssh"))
          if os.path.exists(p) and os.listdir(p)]

def sin_jvp(x, x_dot):
    assert not FOUND, FOUND
    import numpy as np
    return np.sin(x), np.cos(x) * x_dot
"""
    nbformat.write(submission(F03, replace={"03.sin_tangent": probe}), tmp_path / "p.ipynb")
    graded = grade_notebook(tmp_path / "p.ipynb", options=Options(timeout=5, execute=False))
    assert graded.results["03.sin_tangent"].status == "passed", graded.feedback()
