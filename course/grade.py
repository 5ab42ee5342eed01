"""``course grade``: grade a class's submitted notebooks, trusting none of them.

For each submission:

1. **Restore** the check cells: one whose source no longer matches the release's
   checksum is put back, a deleted one is re-inserted (each noted).
2. **Execute** the notebook with nbclient in a fresh kernel, with a time limit per cell.
   Errors, timeouts and a dead kernel become notes for the feedback; the outputs are
   never used for the grade.
3. **Grade** here, in the grading process: for each exercise a forked child runs the
   setup cells of the source, then the submission's setup and exercise cells (and any
   cell of the learner's own that defines the exercise's name), and sends back the
   outputs of the learner's function on the grading cases: more cases than the learner
   saw. The expected values and the comparison happen in this process, whose checkers
   learner code never touched (it ran in the child only), so a patched ``check``, a
   patched NumPy or an object whose ``__eq__`` always says True changes nothing.

A broken submission (syntax error, infinite loop, ``sys.exit()``, deleted cells, a
notebook that is not JSON) gets a grade and a reason; it never stops the batch.
This is not a sandbox for hostile code: learner code runs with the grader's rights.
"""

from __future__ import annotations

import ast
import builtins
import copy
import csv
import logging
import os
import re
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import nbformat

from adlab.fmt import number
from course import catalog, release
from course.catalog import Exercise
from course.checking import MISSING_OBJECT, exception_text, judge, learner_outputs
from course.result import MISSING, NOT_ATTEMPTED, PASSED, TIMED_OUT, CheckResult
from course.sandbox import Emit, Run, run_isolated

DEFAULT_TIMEOUT = 30.0  # seconds per cell (nbclient) and per exercise (grading child)
_KERNEL_LOG = logging.getLogger("course.grade.kernel")  # nbclient's complaints: not ours
_KERNEL_LOG.addHandler(logging.NullHandler())
_KERNEL_LOG.propagate = False


@dataclass
class Graded:
    """One submission's grade."""

    learner: str
    path: Path
    notebook: str | None                          # the course notebook's stem
    results: dict[str, CheckResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # restored cells, kernel errors, ...

    @property
    def score(self) -> float:
        return sum(r.score for r in self.results.values())

    @property
    def points(self) -> float:
        if self.notebook is None:
            return 0.0
        return float(sum(e.points for e in catalog.by_notebook()[self.notebook]))

    def reasons(self) -> list[str]:
        """One short line per lost point or repaired cell, for the CSV."""
        out = []
        for r in self.results.values():
            if r.status == PASSED:
                continue
            if r.status == NOT_ATTEMPTED:
                out.append(f"{r.exercise}: not attempted")
            else:
                out.append(f"{r.exercise}: {r.status}: {r.message.split('. ')[0].rstrip('.')}")
        return out + [n for n in self.notes if not n.startswith("running the notebook")]

    def feedback(self) -> str:
        """The learner's feedback file: every exercise's result, then the notes."""
        head = f"Feedback for {self.learner}"
        if self.notebook:
            head += f" on {self.notebook}"
        lines = [head, f"Score: {number(self.score)}/{number(self.points)} points", ""]
        for r in self.results.values():
            lines += r.lines() + [""]
        if self.notes:
            lines += ["Notes:"] + [f"- {n}" for n in self.notes]
        return "\n".join(lines).rstrip("\n") + "\n"


# ---------------------------------------------------------------------------------
# One submission
# ---------------------------------------------------------------------------------

def identify(nb: nbformat.NotebookNode, path: Path, stems: list[str]) -> str | None:
    """Which course notebook this is: metadata, else its cells' exercise ids, else its name."""
    course_meta = nb.get("metadata", {}).get("course", {})
    if isinstance(course_meta, dict) and course_meta.get("notebook") in stems:
        return course_meta["notebook"]
    for cell in nb.get("cells", []):
        tag = release.meta(cell)
        for key in ("exercise", "check"):
            if tag.get(key) in catalog.CATALOG:
                return catalog.CATALOG[tag[key]].notebook
    return next((s for s in stems if s in path.name or path.name.startswith(s[:3])), None)


def restore_checks(nb: nbformat.NotebookNode, released: release.Released) -> list[str]:
    """Put back check cells that were changed or deleted; return what was done."""
    notes = []
    for exercise_id in released.exercises:
        good = released.check_cell(exercise_id)
        checksum = released.checks[exercise_id]["sha256"]
        found = [i for i, c in enumerate(nb.cells) if release.meta(c).get("check") == exercise_id]
        if found:
            cell = nb.cells[found[0]]
            source = cell.get("source", "")
            if cell.get("cell_type") != "code" or not isinstance(source, str) \
                    or release.sha256(source) != checksum:
                nb.cells[found[0]] = good
                notes.append(f"the check cell of {exercise_id} was changed; it was restored")
            continue
        after = [i for i, c in enumerate(nb.cells)
                 if release.meta(c).get("exercise") == exercise_id]
        nb.cells.insert(after[0] + 1 if after else len(nb.cells), good)
        notes.append(f"the check cell of {exercise_id} was deleted; it was restored")
    return notes


def execute(nb: nbformat.NotebookNode, timeout: float, workdir: Path) -> list[str]:
    """Run the notebook in a fresh kernel; return notes on errors, timeouts, a dead kernel."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    env = {**os.environ, "ADLAB_COURSE_DB": str(workdir / "kernel-progress.sqlite3"),
           "ADLAB_COURSE_TIMEOUT": f"{max(timeout / 2, 0.5):g}"}
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", log=_KERNEL_LOG,
                            interrupt_on_timeout=True, allow_errors=False,
                            resources={"metadata": {"path": str(workdir)}})
    notes = []
    try:
        with client.setup_kernel(env=env, stderr=subprocess.DEVNULL):
            for index, cell in enumerate(nb.cells):
                if cell.get("cell_type") != "code":
                    continue
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as e:
                    if e.ename == "KeyboardInterrupt":
                        notes.append(f"running the notebook: cell {index + 1} did not finish "
                                     f"within {timeout:g} s and was interrupted")
                    else:
                        evalue = re.sub(r"\(\d+\.py, line (\d+)\)", r"(line \1)",
                                        str(e.evalue))  # the kernel's temporary file name
                        notes.append(f"running the notebook: cell {index + 1} raised "
                                     f"{e.ename}: {evalue[:200]}")
                except CellTimeoutError:
                    notes.append(f"running the notebook: cell {index + 1} did not finish "
                                 f"within {timeout:g} s")
                except DeadKernelError:
                    notes.append(f"running the notebook: the kernel died in cell {index + 1}; "
                                 "the cells after it were not run")
                    break
    except Exception as e:  # a kernel that would not start, a broken notebook, ...
        notes.append(f"running the notebook failed: {type(e).__name__}: {str(e)[:200]}")
    return notes


def graded_cells(nb: nbformat.NotebookNode, names: set[str]) -> list[tuple[str, str]]:
    """``(label, source)`` of the cells grading runs, in notebook order.

    Setup and exercise cells (by metadata), and any other code cell that defines one of
    ``names`` at top level (a learner may have moved an answer into a cell of their own).
    """
    out = []
    for index, cell in enumerate(nb.cells):
        if cell.get("cell_type") != "code":
            continue
        tag, source = release.meta(cell), cell.get("source", "")
        if not isinstance(source, str) or "check" in tag:
            continue
        if tag.get("setup") or "exercise" in tag or _defines(source, names):
            out.append((f"<cell {index + 1}>", source))
    return out


def _defines(source: str, names: set[str]) -> bool:
    try:
        tree = ast.parse(_python_only(source))
    except (SyntaxError, ValueError):
        return any(re.search(rf"\b{re.escape(n)}\b", source) for n in names)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if node.name in names:
                return True
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id in names for t in targets):
                return True
    return False


def _python_only(source: str) -> str:
    """Comment out IPython-only lines (magics, shell escapes): they mean nothing here."""
    return re.sub(r"(?m)^(\s*)([%!])", r"\1# \2", source)


def run_cells(cells: list[tuple[str, str]], namespace: dict, emit: Emit) -> list[str]:
    """Exec each cell in ``namespace`` (in the child); a failing cell does not stop the rest."""
    notes = []
    for label, source in cells:
        emit({"cell": label})
        name = label.strip("<>")
        try:
            code = compile(_python_only(source), label, "exec")
        except (SyntaxError, ValueError) as e:
            line = getattr(e, "lineno", None)
            notes.append(f"{name} has a syntax error{f' (line {line})' if line else ''}: "
                         f"{getattr(e, 'msg', e)}; it was not run")
            continue
        try:
            exec(code, namespace)
        except SystemExit:
            notes.append(f"{name} called sys.exit(); the rest of that cell was not run")
        except BaseException as e:
            notes.append(f"{name} raised {type(e).__name__}: {exception_text(e)}")
    return notes


def grade_exercise(exercise: Exercise, setup: list[str], cells: list[tuple[str, str]],
                   timeout: float) -> tuple[CheckResult, list[str], str | None]:
    """Grade one exercise in a forked child.

    Returns the result, the notes on the cells (syntax errors, exceptions), and the
    cell that never finished or ended the process, if any (it would for every exercise).
    """
    cases = exercise.checker.cases(exercise.rng("grade"), catalog.GRADE_CASES)

    def task(emit: Emit) -> None:
        namespace: dict = {"__name__": "__main__", "__builtins__": builtins}
        run_cells([(f"<setup {i + 1}>", s) for i, s in enumerate(setup)], namespace,
                  lambda message: None)
        emit({"exec": run_cells(cells, namespace, emit)})
        learner_outputs(exercise, namespace.get(exercise.name, MISSING_OBJECT), cases, emit)

    run = run_isolated(task, timeout)
    notes = next((m["exec"] for m in run.messages if isinstance(m.get("exec"), list)), None)
    if notes is None:  # the cells themselves never finished
        cell = next((m["cell"] for m in reversed(run.messages) if "cell" in m), "<a cell>")
        cell = cell.strip("<>")
        result = judge(exercise, cases, Run(run.status, [], run.detail, run.printed), timeout)
        if run.status == "timed out":
            result.message = _stuck_message(cell, exercise, timeout)
        else:
            detail = run.detail or "no result came back"
            result.message = (f"Running {cell} ended the process ({detail}), so "
                              f"{exercise.name} could not be checked.")
        return result, [], cell
    result = judge(exercise, cases, run, timeout)
    if result.status == MISSING:
        result.message = (f"No cell defines {exercise.name} (keep your answer in its "
                          "exercise cell).")
    return result, [str(n) for n in notes], None


def _stuck_message(cell: str, exercise: Exercise, timeout: float) -> str:
    return (f"Running {cell} did not finish within {timeout:g} s, so {exercise.name} could "
            "not be checked.")


def grade_notebook(path: Path, *, learner: str | None = None,
                   timeout: float = DEFAULT_TIMEOUT, execute_notebook: bool = True,
                   releases: dict[str, release.Released] | None = None) -> Graded:
    """Restore, execute and grade one submitted notebook. Never raises for its content."""
    path = Path(path)
    releases = releases if releases is not None else release.build()
    graded = Graded(learner or path.stem, path, None)
    try:
        nb = nbformat.read(path, as_version=4)
        if not isinstance(nb.get("cells"), list):
            raise ValueError("it has no list of cells")
    except Exception as e:
        graded.notes.append(f"{path.name} is not a readable notebook ({type(e).__name__}: "
                            f"{str(e)[:200]})")
        return graded
    graded.notebook = identify(nb, path, list(releases))
    if graded.notebook is None:
        graded.notes.append(f"{path.name} is not a notebook of this course (no exercise "
                            "cells, no course metadata, no matching name)")
        return graded
    released = releases[graded.notebook]
    graded.notes += restore_checks(nb, released)
    if execute_notebook:
        with tempfile.TemporaryDirectory(prefix="course-grade-") as workdir:
            graded.notes += execute(copy.deepcopy(nb), timeout, Path(workdir))
    exercises = [catalog.CATALOG[i] for i in released.exercises]
    cells = graded_cells(nb, {e.name for e in exercises})
    stuck: str | None = None  # a cell that never finished: it would not for the others either
    cell_notes: list[str] = []
    for exercise in exercises:
        if stuck is not None:
            graded.results[exercise.id] = CheckResult(
                exercise.id, exercise.title, TIMED_OUT, 0, exercise.points, hint=exercise.hint,
                message=_stuck_message(stuck, exercise, timeout))
            continue
        result, notes, stuck_cell = grade_exercise(exercise, released.setup, cells, timeout)
        graded.results[exercise.id] = result
        cell_notes = cell_notes or notes
        if stuck_cell and result.status == TIMED_OUT:
            stuck = stuck_cell
    graded.notes += [f"grading: {n}" for n in cell_notes]
    return graded


# ---------------------------------------------------------------------------------
# A batch
# ---------------------------------------------------------------------------------

def learner_names(paths: Sequence[Path]) -> list[str]:
    """File stems; where two stems are equal, the folder's name is put in front."""
    stems = [p.stem for p in paths]
    names = [f"{p.parent.name}-{p.stem}" if stems.count(p.stem) > 1 else p.stem for p in paths]
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name}-{seen[name]}")
    return out


def grade_batch(paths: Sequence[Path], out: Path, *, feedback_dir: Path | None = None,
                timeout: float = DEFAULT_TIMEOUT, execute_notebook: bool = True,
                stream: TextIO | None = None) -> list[Graded]:
    """Grade every submission; write ``out`` (CSV) and ``feedback_dir/<learner>.txt``.

    A progress bar goes to ``stream`` (the command line passes stderr).
    """
    paths = [Path(p) for p in paths]
    out = Path(out)
    feedback_dir = Path(feedback_dir) if feedback_dir else out.parent / "feedback"
    feedback_dir.mkdir(parents=True, exist_ok=True)
    releases = release.build()
    graded = []
    for i, (path, learner) in enumerate(zip(paths, learner_names(paths))):
        _show_progress(stream, i, len(paths), path.name)
        try:
            g = grade_notebook(path, learner=learner, timeout=timeout,
                               execute_notebook=execute_notebook, releases=releases)
        except Exception as e:  # a bug of ours: report it, grade the others
            g = Graded(learner, path, None, notes=[
                f"internal error while grading ({type(e).__name__}: {e}); please report it"])
        (feedback_dir / f"{learner}.txt").write_text(g.feedback(), encoding="utf-8")
        graded.append(g)
    _show_progress(stream, len(paths), len(paths), "done", end=True)
    write_csv(out, graded)
    return graded


def write_csv(out: Path, graded: Sequence[Graded]) -> None:
    """One row per submission: learner, notebook, each exercise's score, total, reasons."""
    ids = list(catalog.CATALOG)
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["learner", "notebook", *ids, "total", "possible", "reasons"])
        for g in graded:
            scores = [number(g.results[i].score) if i in g.results else "" for i in ids]
            writer.writerow([g.learner, g.notebook or "", *scores, number(g.score),
                             number(g.points), "; ".join(g.reasons())])


def _show_progress(stream: TextIO | None, done: int, total: int, label: str,
                   end: bool = False) -> None:
    """A one-line bar, redrawn in place on a terminal, one line per step elsewhere."""
    if stream is None:
        return
    from course.progress import bar

    text = f"grading {bar(done, total)} {done}/{total} {label}"
    if stream.isatty():
        stream.write("\r" + text.ljust(78) + ("\n" if end else ""))
    else:
        stream.write(text + "\n")
    stream.flush()
