"""Benchmark 8: ``course grade -j 2`` over ``-j 1`` on a class of honest submissions.

The submissions are the released ``notebooks/04_reverse_mode.ipynb`` with the reference
solutions of ``course/sources/04_reverse_mode.ipynb`` copied into its exercise cells
(cells matched by their ``course.exercise`` metadata), written as ``learner01/...``,
``learner02/...`` into a temporary folder. Each run grades the whole folder as a
teacher would, in a subprocess::

    python -m course.cli grade FOLDER --out CSV --restart -j N --timeout 30

timed from start to exit with ``time.perf_counter`` (interpreter start-up, building the
releases and writing the CSV included). Every run's CSV must have one row per
submission with full marks (``total == possible > 0``), otherwise the benchmark fails:
a fast grader that grades wrongly is not measured. One untimed run of a single
submission comes first (warm caches for every timed run alike).
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "04_reverse_mode.ipynb"


def solved_notebook(root: Path = ROOT):
    """The released notebook with the sources' solutions in its exercise cells."""
    from course import release

    source = nbformat.read(root / "course" / "sources" / NOTEBOOK, as_version=4)
    released = nbformat.read(root / "notebooks" / NOTEBOOK, as_version=4)
    solutions = {release.meta(c)["exercise"]: c.source for c in source.cells
                 if release.meta(c).get("exercise")}
    filled = set()
    for cell in released.cells:
        ex = release.meta(cell).get("exercise")
        if ex:
            cell.source = solutions[ex]
            filled.add(ex)
    if not filled or filled != set(solutions):
        raise AssertionError(f"exercises: released {sorted(filled)}, sources "
                             f"{sorted(solutions)}")
    return released


def write_submissions(folder: Path, n: int) -> Path:
    """``n`` copies of :func:`solved_notebook` as ``folder/learnerNN/04_reverse_mode.ipynb``."""
    nb = solved_notebook()
    for i in range(1, n + 1):
        d = folder / f"learner{i:02d}"
        d.mkdir(parents=True)
        nbformat.write(nb, d / NOTEBOOK)
    return folder


def grade(folder: Path, out: Path, jobs: int, n: int) -> float:
    """Seconds of one ``course grade -j jobs`` run; checks ``n`` rows with full marks."""
    cmd = [sys.executable, "-m", "course.cli", "grade", str(folder), "--out", str(out),
           "--restart", "-j", str(jobs), "--timeout", "30"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          timeout=300 + 60 * n)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise AssertionError(f"course grade -j {jobs} exited {proc.returncode}:\n"
                             f"{proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    bad = [r["learner"] for r in rows
           if not (float(r["total"] or 0) == float(r["possible"] or 0) > 0)]
    if len(rows) != n or bad:
        raise AssertionError(f"course grade -j {jobs}: {len(rows)} rows for {n} "
                             f"submissions, without full marks: {bad}")
    return seconds


def measure(n: int, jobs: list[int], repeats: int = 1) -> dict:
    """Grade ``n`` submissions with each ``-j`` in ``jobs`` (interleaved, ``repeats``
    times each); the best seconds per ``-j``, every sample, and the seconds of the
    untimed warm-up (one submission: start-up and the fixed costs)."""
    samples: dict[int, list[float]] = {j: [] for j in jobs}
    load = []  # 1-minute load average after each run: other work on the machine shows
    with tempfile.TemporaryDirectory(prefix="adlab-bench-grade-") as tmp:
        tmp = Path(tmp)
        warm = write_submissions(tmp / "warmup", 1)
        one = grade(warm, tmp / "warmup.csv", 1, 1)
        folder = write_submissions(tmp / "class", n)
        for _ in range(repeats):
            for j in jobs:
                samples[j].append(grade(folder, tmp / f"grades-j{j}.csv", j, n))
                load.append((j, os.getloadavg()[0]))
    return {"submissions": n, "notebook": NOTEBOOK, "repeats": repeats, "one_submission_s": one,
            "best_s": {j: min(s) for j, s in samples.items()}, "samples_s": samples,
            "load_after_run": load}
