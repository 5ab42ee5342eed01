"""``course grade``: grade a class's submitted notebooks, trusting none of them.

For each submission, in a private temporary folder that holds only a copy of it:

1. **Restore** the check cells: one whose source no longer matches the release's
   checksum is put back, a deleted one is re-inserted (each noted).
2. **Run** the notebook top to bottom in a runner (:mod:`course.runner`), a fresh
   ``python -I`` in its own session and process group, inside bubblewrap where it
   exists (:mod:`course.contain`); a cell over the time limit is interrupted, one that
   ignores the interrupt is killed with everything it started. Errors become notes for
   the feedback; nothing of this run counts for the grade.
3. **Grade** in a second runner: the setup cells of the source, then the submission's
   setup and exercise cells (and any cell of the learner's own that defines an
   exercise's name). The checkers run here, in the grading process, which learner code
   never enters: they call the learner's function through :class:`~course.remote.
   RemoteFunction` on more cases than the learner saw, receive its raw return values as
   plain data (:mod:`course.wire`, no pickle), and convert, count, compare and compute
   the expected values here.

A hard per-notebook time limit covers both runs. A broken or hostile submission (syntax
errors, endless loops, ``sys.exit()``, ``os._exit``, killed parents, deleted cells, a
file that is not a notebook, a notebook of another assignment) gets a row and a reason;
nothing stops the batch. Each row is written to the CSV as soon as it is graded, so a
batch that was stopped resumes where it was (``--restart`` grades all again).
"""

from __future__ import annotations

import ast
import copy
import csv
import logging
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

import nbformat

from adlab.fmt import number
from course import catalog, contain, release
from course.catalog import Exercise
from course.checkers import WrongOutput, encode
from course.checking import judge
from course.remote import LearnerRaised, RemoteFunction, RunnerGone, RunnerProcess
from course.result import MISSING, NOT_ATTEMPTED, PASSED, TIMED_OUT, CheckResult, safe_repr
from course.sandbox import Run

DEFAULT_TIMEOUT = 30.0  # seconds per cell, and per exercise when grading
MAX_BYTES = 64 << 20    # a submitted notebook larger than this is not read
_LOG = logging.getLogger("course.grade")
_LOG.addHandler(logging.NullHandler())


@dataclass(frozen=True)
class Options:
    """How submissions are graded (the command line's options)."""

    timeout: float = DEFAULT_TIMEOUT          # per cell, and per exercise
    notebook_timeout: float | None = None     # the whole submission; None: 10 x timeout
    execute: bool = True                      # run the notebook top to bottom for notes
    assignment: str | None = None             # grade only this notebook (stem)
    limits: contain.Limits = contain.Limits()
    sandbox: bool | None = None               # None: bubblewrap where it works

    @property
    def hard_limit(self) -> float:
        return self.notebook_timeout or 10 * self.timeout


@dataclass
class Graded:
    """One submission's grade."""

    learner: str
    path: Path
    notebook: str | None                          # the course notebook's stem
    results: dict[str, CheckResult] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # restored cells, kernel errors, ...
    review: list[str] = field(default_factory=list)  # cells a teacher should look at
    possible: float = 0.0

    @property
    def score(self) -> float:
        return sum(r.score for r in self.results.values())

    @property
    def points(self) -> float:
        return self.possible

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
            out.append((f"cell {index + 1}", source))
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


# ---------------------------------------------------------------------------------
# Running a submission's cells
# ---------------------------------------------------------------------------------

def _cell_note(outcome: dict, limit: float) -> str | None:
    """A note for a cell that did not end well, or None."""
    label, status = str(outcome.get("ran", "a cell")), outcome.get("status")
    message = safe_repr(str(outcome.get("message", "")), 200)[1:-1]
    if status == "syntax":
        line = outcome.get("line")
        where = f" (line {line})" if isinstance(line, int) else ""
        return f"{label} has a syntax error{where}: {message}; it was not run"
    if status == "raised":
        error = safe_repr(str(outcome.get("error", "")), 60)[1:-1]
        return f"{label} raised {error}: {message}"
    if status == "exit":
        return f"{label} called sys.exit(); the rest of that cell was not run"
    if status == "interrupted":
        return f"{label} did not finish within {limit:g} s and was interrupted"
    return None


def _stopped(cell: str, gone: RunnerGone, options: Options) -> str:
    """Why the cells after ``cell`` could not run."""
    if gone.notebook_limit:
        return (f"the time limit of {options.hard_limit:g} s for the whole notebook ran out "
                f"in {cell}")
    if gone.reason == "timed out":
        return (f"{cell} did not finish within {options.timeout:g} s and ignored the "
                "interrupt, so it was stopped")
    return f"{cell} ended the process ({gone.detail or 'no detail'})"


def run_notebook(nb: nbformat.NotebookNode, workdir: Path, options: Options,
                 deadline: float) -> list[str]:
    """Run every code cell top to bottom; return notes on what went wrong."""
    cells = [(f"cell {i + 1}", c.source) for i, c in enumerate(nb.cells)
             if c.get("cell_type") == "code" and isinstance(c.get("source"), str)]
    notes = []
    runner = None
    try:
        runner = RunnerProcess(workdir, deadline, options.limits, options.sandbox)
        outcomes, stuck = runner.run_cells(cells, options.timeout)
    except RunnerGone as e:
        return [f"running the notebook failed: {e.detail or e.reason}"]
    finally:
        if runner is not None:
            runner.kill()
    for outcome in outcomes:
        note = _cell_note(outcome, options.timeout)
        if note:
            notes.append(f"running the notebook: {note}")
    if stuck:
        gone = _last_gone(runner)
        notes.append(f"running the notebook: {_stopped(stuck, gone, options)}; the cells "
                     "after it were not run")
    return notes


def _last_gone(runner: RunnerProcess) -> RunnerGone:
    return runner.gone or RunnerGone("timed out")


# ---------------------------------------------------------------------------------
# Grading a submission's exercises
# ---------------------------------------------------------------------------------

class Answers:
    """The grading cases of each exercise and their expected outputs, computed on first
    use, once per grading process (every submission gets the same cases), and never sent
    anywhere."""

    def __init__(self) -> None:
        self.cases: dict[str, list] = {}
        self.expected: dict[tuple[str, int], dict] = {}

    def of(self, exercise: Exercise) -> tuple[list, Callable[[int], dict]]:
        if exercise.id not in self.cases:
            self.cases[exercise.id] = exercise.checker.cases(exercise.rng("grade"),
                                                             catalog.GRADE_CASES)
        cases = self.cases[exercise.id]

        def expected(k: int) -> dict:
            key = (exercise.id, k)
            if key not in self.expected:
                self.expected[key] = exercise.checker.expected(copy.deepcopy(cases[k]))
            return self.expected[key]

        return cases, expected


ANSWERS = Answers()


def grade_one(exercise: Exercise, runner: RunnerProcess, timeout: float) -> CheckResult:
    """Call the learner's function in ``runner`` on every grading case; judge here."""
    cases, expected = ANSWERS.of(exercise)
    name = exercise.name
    until = time.monotonic() + timeout
    messages: list[dict] = []
    fn = RemoteFunction(runner, name, until, exercise.off)
    status, detail = "finished", ""
    try:
        found = runner.lookup(name, until)
        if found.get("kind") == "missing":
            messages.append({"missing": True})
        elif found.get("kind") != "callable":
            messages.append({"not_callable": str(found.get("repr", "not a function"))[:80]})
        else:
            for k, case in enumerate(cases):
                messages.append({"calling": k})
                stop = _call_case(exercise, fn, k, case)
                messages.append(stop)
                if "got" not in stop:
                    break
    except RunnerGone as e:
        status, detail = e.reason, e.detail
    result = judge(exercise, cases, Run(status, messages, detail if status != "timed out"
                                        else "", fn.printed), timeout, expected)
    if result.status == MISSING:
        result.message = (f"No cell defines {name} (keep your answer in its exercise "
                          "cell).")
    if status == "timed out" and runner.gone is not None and runner.gone.notebook_limit:
        result.message = (f"The time limit for the whole notebook ran out while "
                          f"{name} was checked.")
    return result


def _call_case(exercise: Exercise, fn: RemoteFunction, k: int, case: dict) -> dict:
    """One case: the learner's outputs, or what stopped them (RunnerGone propagates)."""
    try:
        return {"case": k, "got": encode(exercise.checker.call(fn, copy.deepcopy(case),
                                                               exercise.name))}
    except WrongOutput as e:
        return {"case": k, "wrong": str(e), "shown": e.got}
    except LearnerRaised as e:
        if e.name == "NotImplementedError":
            return {"case": k, "not_attempted": e.message}
        return {"case": k, "raised": e.name, "message": e.message, "where": e.where}
    except RunnerGone:
        raise
    except Exception as e:  # what came back made the checker itself fail
        return {"case": k, "wrong": f"what {exercise.name} returned could not be used "
                                    f"({type(e).__name__}: {safe_repr(str(e), 120)[1:-1]})",
                "shown": ""}


def grade_cells(released: release.Released, cells: list[tuple[str, str]], workdir: Path,
                options: Options, deadline: float) -> tuple[dict[str, CheckResult], list[str]]:
    """Grade every exercise of ``released`` on ``cells``; return results and cell notes.

    One runner runs the cells once and serves the exercises in turn; an exercise that
    times out or crashes it gets a fresh runner for the next one. A cell that never
    finishes (or ends the process) would do so for every exercise: it is run once.
    """
    setup = [(f"setup cell {i + 1}", s) for i, s in enumerate(released.setup)]
    results: dict[str, CheckResult] = {}
    notes: list[str] | None = None
    stuck: str = ""
    runner: RunnerProcess | None = None
    try:
        for exercise_id in released.exercises:
            exercise = catalog.CATALOG[exercise_id]
            if stuck:
                results[exercise_id] = _not_run(exercise, stuck)
                continue
            if runner is None or not runner.alive:
                try:
                    runner = RunnerProcess(workdir, deadline, options.limits, options.sandbox)
                    outcomes, cell = runner.run_cells(setup + cells, options.timeout)
                except RunnerGone as e:
                    stuck = _stopped("the grading run", e, options)
                    results[exercise_id] = _not_run(exercise, stuck, e)
                    continue
                if notes is None:
                    notes = [n for n in (_cell_note(o, options.timeout) for o in outcomes) if n]
                if cell:
                    gone = _last_gone(runner)
                    stuck = _stopped(cell, gone, options)
                    results[exercise_id] = _not_run(exercise, stuck, gone)
                    continue
            results[exercise_id] = grade_one(exercise, runner, options.timeout)
            if runner.gone is not None and runner.gone.notebook_limit:
                stuck = _stopped("the grading run", runner.gone, options)
    finally:
        if runner is not None:
            runner.kill()
    return results, notes or []


def _not_run(exercise: Exercise, why: str, gone: RunnerGone | None = None) -> CheckResult:
    status = TIMED_OUT if gone is None or gone.reason == "timed out" else "error"
    return CheckResult(exercise.id, exercise.title, status, 0, exercise.points,
                       hint=exercise.hint,
                       message=f"{why[0].upper()}{why[1:]}, so {exercise.name} could not be "
                               "checked.")


def read_submission(path: Path) -> nbformat.NotebookNode:
    """The notebook, or ValueError saying why it cannot be graded."""
    if not path.is_file() or path.is_symlink():
        raise ValueError("it is not a regular file")
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"it is larger than {MAX_BYTES >> 20} MB")
    nb = nbformat.read(path, as_version=4)
    if not isinstance(nb.get("cells"), list):
        raise ValueError("it has no list of cells")
    return nb


def grade_notebook(path: Path, *, learner: str | None = None,
                   timeout: float = DEFAULT_TIMEOUT, execute_notebook: bool = True,
                   releases: dict[str, release.Released] | None = None,
                   options: Options | None = None) -> Graded:
    """Restore, run and grade one submitted notebook. Never raises for its content."""
    path = Path(path)
    options = options or Options(timeout=timeout, execute=execute_notebook)
    releases = releases if releases is not None else release.build()
    graded = Graded(learner or path.stem, path, None)
    try:
        nb = read_submission(path)
    except Exception as e:
        graded.notes.append(f"{path.name} is not a readable notebook ({type(e).__name__}: "
                            f"{str(e)[:200]})")
        _expect_assignment(graded, options, releases)
        return graded
    graded.notebook = identify(nb, path, list(releases))
    if graded.notebook is None:
        graded.notes.append(f"{path.name} is not a notebook of this course (no exercise "
                            "cells, no course metadata, no matching name)")
        _expect_assignment(graded, options, releases)
        return graded
    if options.assignment and graded.notebook != options.assignment:
        graded.notes.append(f"{path.name} is {graded.notebook}, not the assignment "
                            f"{options.assignment}; it was not graded")
        graded.review.append(f"a notebook of another assignment ({graded.notebook})")
        graded.notebook = None
        _expect_assignment(graded, options, releases)
        return graded
    released = releases[graded.notebook]
    graded.possible = float(sum(catalog.CATALOG[i].points for i in released.exercises))
    graded.review = _review(nb)
    if not released.exercises:
        graded.notes.append(f"{graded.notebook} has no graded exercises; nothing to grade")
        return graded
    graded.notes += restore_checks(nb, released)
    workdir = Path(tempfile.mkdtemp(prefix="course-grade-"))
    try:
        shutil.copyfile(path, workdir / path.name)  # the folder holds a copy of itself only
        deadline = time.monotonic() + options.hard_limit
        if options.execute:
            graded.notes += run_notebook(copy.deepcopy(nb), workdir, options, deadline)
        exercises = [catalog.CATALOG[i] for i in released.exercises]
        cells = graded_cells(nb, {e.name for e in exercises})
        results, notes = grade_cells(released, cells, workdir, options, deadline)
        graded.results = results
        graded.notes += [f"grading: {n}" for n in notes]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return graded


def _expect_assignment(graded: Graded, options: Options,
                       releases: dict[str, release.Released]) -> None:
    """With --notebook, a submission that is not that notebook is out of its points."""
    if options.assignment and options.assignment in releases:
        graded.possible = float(sum(catalog.CATALOG[i].points
                                    for i in releases[options.assignment].exercises))


def _review(nb: nbformat.NotebookNode) -> list[str]:
    try:
        from course.review import review
    except ImportError:  # pragma: no cover - the module is part of the package
        return []
    cells = [(f"cell {i + 1}", c.source) for i, c in enumerate(nb.cells)
             if c.get("cell_type") == "code" and isinstance(c.get("source"), str)
             and "check" not in release.meta(c)]
    return review(cells)


# ---------------------------------------------------------------------------------
# A batch
# ---------------------------------------------------------------------------------

def learner_names(paths: Sequence[Path], stems: Sequence[str] = (),
                  roots: Sequence[Path] = ()) -> list[str]:
    """Who handed each file in: the folder's name for a course notebook inside a
    per-learner folder (``alice/04_reverse_mode.ipynb``, a folder below the ones given),
    else the file's stem; where two names are equal, the folder's name is put in front,
    then a number."""
    stems, top = set(stems), {Path(r).resolve() for r in roots}

    def name(p: Path) -> str:
        if p.stem in stems and p.parent.name not in ("", ".") \
                and p.parent.resolve() not in top:
            return p.parent.name
        return p.stem

    names = [name(p) for p in paths]
    names = [f"{p.parent.name}-{n}" if names.count(n) > 1 and p.parent.name not in ("", ".")
             and p.parent.name != n else n for p, n in zip(paths, names)]
    seen: dict[str, int] = {}
    out = []
    for n in names:
        seen[n] = seen.get(n, 0) + 1
        out.append(n if seen[n] == 1 else f"{n}-{seen[n]}")
    return out


def columns() -> list[str]:
    return ["learner", "submission", "notebook", *catalog.CATALOG, "total", "possible",
            "review", "reasons"]


def escape(text: str) -> str:
    """A CSV cell a spreadsheet shows as text, never runs as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def row_of(g: Graded, submission: str) -> list[str]:
    ids = list(catalog.CATALOG)
    scores = [number(g.results[i].score) if i in g.results else "" for i in ids]
    return [escape(g.learner), escape(submission), escape(g.notebook or ""), *scores,
            number(g.score), number(g.points), escape("; ".join(g.review)),
            escape("; ".join(g.reasons()))]


def _grade_one_submission(path: Path, learner: str, options: Options,
                          releases: dict[str, release.Released]) -> Graded:
    try:
        return grade_notebook(path, learner=learner, releases=releases, options=options)
    except Exception as e:  # a bug of ours: report it, grade the others
        return Graded(learner, path, None, notes=[
            f"internal error while grading ({type(e).__name__}: {e}); please report it"])


def _work(item: tuple[Path, str, Options]) -> Graded:
    path, learner, options = item
    return _grade_one_submission(path, learner, options, _WORKER_RELEASES)


_WORKER_RELEASES: dict[str, release.Released] = {}


def grade_batch(paths: Sequence[Path], out: Path, *, feedback_dir: Path | None = None,
                timeout: float = DEFAULT_TIMEOUT, execute_notebook: bool = True,
                stream: TextIO | None = None, options: Options | None = None,
                jobs: int = 1, restart: bool = False, roots: Sequence[Path] = (),
                releases: dict[str, release.Released] | None = None) -> list[Graded]:
    """Grade every submission; write ``out`` (CSV) and ``feedback_dir/<learner>.txt``.

    Rows are appended (and flushed) as submissions finish; submissions that already have
    a row in ``out`` are skipped unless ``restart``. At the end the CSV is rewritten in
    the order of the submissions. ``jobs`` submissions are graded at once. A progress
    bar goes to ``stream`` (the command line passes stderr).
    """
    global _WORKER_RELEASES
    options = options or Options(timeout=timeout, execute=execute_notebook)
    paths = [Path(p) for p in paths]
    out = Path(out)
    feedback_dir = Path(feedback_dir) if feedback_dir else out.parent / "feedback"
    feedback_dir.mkdir(parents=True, exist_ok=True)
    releases = releases if releases is not None else release.build()
    names = learner_names(paths, list(releases), roots)
    submissions = [str(p) for p in paths]
    done_rows = {} if restart else _finished_rows(out)
    todo = [(p, n, s) for p, n, s in zip(paths, names, submissions) if s not in done_rows]
    if done_rows and stream is not None and len(todo) < len(paths):
        stream.write(f"resuming: {len(paths) - len(todo)} of {len(paths)} submissions are "
                     f"already in {out} (--restart grades them all again)\n")
    # everything the grading needs, made before any submission runs (the expected values
    # are computed on first use, in each worker, for the notebooks it meets)
    contain.shim()
    contain.bwrap()
    _WORKER_RELEASES = releases
    new_file = not done_rows
    with open(out, "w" if new_file else "a", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if new_file:
            writer.writerow(columns())
            handle.flush()
        graded: list[Graded] = []
        _show_progress(stream, len(paths) - len(todo), len(paths), "")
        for g, submission in _graded(todo, options, releases, jobs):
            (feedback_dir / f"{g.learner}.txt").write_text(g.feedback(), encoding="utf-8")
            writer.writerow(row_of(g, submission))
            handle.flush()
            graded.append(g)
            _show_progress(stream, len(paths) - len(todo) + len(graded), len(paths),
                           g.path.name)
    _show_progress(stream, len(paths), len(paths), "done", end=True)
    order = {s: i for i, s in enumerate(submissions)}
    _rewrite_sorted(out, key=lambda row: order.get(row[1], len(order)))
    return graded


def _graded(todo: list, options: Options, releases: dict, jobs: int):
    """(Graded, submission) as each finishes: here for one job, in worker processes else."""
    if jobs <= 1 or len(todo) <= 1:
        for path, learner, submission in todo:
            yield _grade_one_submission(path, learner, options, releases), submission
        return
    import concurrent.futures
    import multiprocessing

    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    with concurrent.futures.ProcessPoolExecutor(jobs, mp_context=context) as pool:
        futures = {pool.submit(_work, (path, learner, options)): (path, learner, submission)
                   for path, learner, submission in todo}
        for future in concurrent.futures.as_completed(futures):
            path, learner, submission = futures[future]
            try:
                g = future.result()
            except Exception as e:  # a worker that died: the others go on
                g = Graded(learner, path, None, notes=[
                    f"internal error while grading ({type(e).__name__}: {e}); please "
                    "report it"])
            yield g, submission


def _finished_rows(out: Path) -> dict[str, list[str]]:
    """Rows of an earlier run of the same batch (same columns), by submission."""
    try:
        with open(out, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
    except (OSError, UnicodeDecodeError, csv.Error):
        return {}
    if not rows or rows[0] != columns():
        return {}
    return {row[1]: row for row in rows[1:] if len(row) == len(rows[0])}


def _rewrite_sorted(out: Path, key: Callable[[list[str]], object]) -> None:
    with open(out, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, body = rows[0], [r for r in rows[1:] if len(r) == len(rows[0])]
    unique = {r[1]: r for r in body}  # a submission graded twice keeps its last row
    write_rows(out, header, sorted(unique.values(), key=key))


def write_rows(out: Path, header: list[str], rows: list[list[str]]) -> None:
    """Write a CSV file in one step (a reader never sees half of it)."""
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    os.replace(tmp, out)


def merge(inputs: Sequence[Path], out: Path) -> int:
    """Join the CSV files of shards into one, in the order of the submissions.

    Raises ValueError when the files do not fit together (other columns, one
    submission with two different rows)."""
    header: list[str] | None = None
    rows: dict[str, list[str]] = {}
    for path in inputs:
        with open(path, newline="", encoding="utf-8") as handle:
            table = list(csv.reader(handle))
        if not table:
            raise ValueError(f"{path} is empty")
        if header is None:
            header = table[0]
            if header[:3] != ["learner", "submission", "notebook"]:
                raise ValueError(f"{path} is not a grades file of course grade")
        elif table[0] != header:
            raise ValueError(f"{path} has other columns than {inputs[0]}")
        for row in table[1:]:
            if len(row) != len(header):
                raise ValueError(f"{path} has a row of the wrong length")
            if row[1] in rows and rows[row[1]] != row:
                raise ValueError(f"{row[1]} is graded differently in two files")
            rows[row[1]] = row
    assert header is not None
    write_rows(out, header, sorted(rows.values(), key=lambda r: r[1]))
    return len(rows)


def shard(paths: Sequence[Path], index: int, count: int) -> list[Path]:
    """Every ``count``-th submission, starting at the ``index``-th (1-based)."""
    return [p for i, p in enumerate(paths) if i % count == index - 1]


def _show_progress(stream: TextIO | None, done: int, total: int, label: str,
                   end: bool = False) -> None:
    """A one-line bar, redrawn in place on a terminal, one line per step elsewhere."""
    if stream is None:
        return
    from course.progress import bar

    text = f"grading {bar(done, total)} {done}/{total} {label}".rstrip()
    if stream.isatty():
        stream.write("\r" + text.ljust(78) + ("\n" if end else ""))
    else:
        stream.write(text + "\n")
    stream.flush()
