"""``course release``: the learners' notebooks, made from the sources with solutions.

For every source notebook in ``course/sources`` the release

* replaces each ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` block by a
  ``raise NotImplementedError(...)`` line at the same indentation;
* clears outputs and execution counts, except in the cells marked
  ``# NBVAL_CHECK_OUTPUT`` (their stored output is what nbval compares; ``course
  outputs`` refreshes it);
* marks check cells read-only (``editable: false``, ``deletable: false``);
* writes ``.course-manifest.json``: per notebook, its exercises and the sha256 of the
  source of each check cell (grading restores a check cell whose checksum differs).

The output depends only on the sources, byte for byte, so ``course release --check``
(and a test) can tell when ``notebooks/`` is out of date.
"""

from __future__ import annotations

import copy
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from course import catalog

SOURCE_DIR = Path(__file__).parent / "sources"
MANIFEST = ".course-manifest.json"
BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
STUB = 'raise NotImplementedError("replace this line with your code")'


class ReleaseError(Exception):
    """A source notebook breaks the conventions (the message says where and how)."""


def meta(cell: dict) -> dict:
    """A cell's ``course`` metadata (empty if absent or malformed)."""
    value = cell.get("metadata", {}).get("course", {})
    return value if isinstance(value, dict) else {}


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def strip_solutions(source: str, where: str = "a cell") -> str:
    """Replace every solution block by the stub line, keeping the BEGIN line's indent."""
    out: list[str] = []
    inside = False
    for line in source.split("\n"):
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise ReleaseError(f"{where}: {BEGIN} inside another solution block")
            inside = True
            out.append(line[: len(line) - len(line.lstrip())] + STUB)
        elif marker == END:
            if not inside:
                raise ReleaseError(f"{where}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise ReleaseError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out)


@dataclass
class Released:
    """One released notebook, and what the manifest records about it."""

    stem: str
    notebook: nbformat.NotebookNode
    exercises: list[str] = field(default_factory=list)
    checks: dict[str, dict] = field(default_factory=dict)  # id -> {cell_id, sha256}
    setup: list[str] = field(default_factory=list)         # sources of the setup cells

    def check_cell(self, exercise_id: str) -> nbformat.NotebookNode:
        """A fresh copy of the released check cell of an exercise."""
        for cell in self.notebook.cells:
            if meta(cell).get("check") == exercise_id:
                return copy.deepcopy(cell)
        raise KeyError(exercise_id)


def is_checked(cell) -> bool:
    from course.outputs import is_checked as checked

    return checked(cell)


def release_notebook(nb: nbformat.NotebookNode, stem: str) -> Released:
    """The learners' version of one source notebook; raises ReleaseError on a broken source."""
    nb = copy.deepcopy(nb)
    wanted = [e.id for e in catalog.by_notebook().get(stem, [])]
    out = Released(stem, nb)
    seen_exercise: list[str] = []
    for index, cell in enumerate(nb.cells):
        where = f"{stem}.ipynb, cell {index + 1}"
        tag = meta(cell)
        if cell.cell_type != "code":
            continue
        if not is_checked(cell):  # nbval compares the stored output of checked cells
            cell.outputs, cell.execution_count = [], None
        for transient in ("execution", "ExecuteTime", "collapsed", "scrolled"):
            cell.metadata.pop(transient, None)
        if "check" in tag:  # the learner's own check is not compared
            tags = [t for t in cell.metadata.get("tags", []) if t != "nbval-check-output"]
            cell.metadata["tags"] = tags
            if not tags:
                del cell.metadata["tags"]
        has_solution = BEGIN in cell.source
        cell.source = strip_solutions(cell.source, where)
        if "exercise" in tag:
            _expect(tag["exercise"] in wanted, f"{where}: exercise {tag['exercise']!r} is not "
                                               f"in the catalog for notebook {stem}")
            _expect(has_solution, f"{where}: exercise cell without a {BEGIN} block")
            seen_exercise.append(tag["exercise"])
        if "check" in tag:
            exercise_id = tag["check"]
            _expect(exercise_id in wanted, f"{where}: check of {exercise_id!r}, which is not "
                                           f"in the catalog for notebook {stem}")
            _expect(cell.source == f'check("{exercise_id}")',
                    f"{where}: a check cell must be exactly check(\"{exercise_id}\")")
            _expect(exercise_id not in out.checks, f"{where}: a second check of {exercise_id}")
            cell.metadata.update(editable=False, deletable=False)
            out.checks[exercise_id] = {"cell_id": cell.get("id", ""),
                                       "sha256": sha256(cell.source)}
        if tag.get("setup"):
            out.setup.append(cell.source)
    for exercise_id in wanted:
        _expect(seen_exercise.count(exercise_id) == 1,
                f"{stem}.ipynb needs exactly one exercise cell for {exercise_id}")
        _expect(exercise_id in out.checks, f"{stem}.ipynb has no check cell for {exercise_id}")
    out.exercises = wanted
    nb.metadata["course"] = {"notebook": stem}
    return out


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ReleaseError(message)


def read_sources(source_dir: Path = SOURCE_DIR) -> dict[str, nbformat.NotebookNode]:
    """The source notebooks by stem, in order."""
    return {p.stem: nbformat.read(p, as_version=4)
            for p in sorted(Path(source_dir).glob("*.ipynb")) if p.is_file()}


def build(source_dir: Path = SOURCE_DIR) -> dict[str, Released]:
    """Every released notebook, by stem (nothing is written)."""
    sources = read_sources(source_dir)
    missing = {e.notebook for e in catalog.EXERCISES} - set(sources)
    if missing:
        raise ReleaseError(f"no source notebook for {', '.join(sorted(missing))} in {source_dir}")
    return {stem: release_notebook(nb, stem) for stem, nb in sources.items()}


def render(released: dict[str, Released]) -> dict[str, str]:
    """File name -> exact file text, for the notebooks and the manifest."""
    files = {f"{r.stem}.ipynb": nbformat.writes(r.notebook) + "\n" for r in released.values()}
    manifest = {"format": 1, "notebooks": {
        f"{r.stem}.ipynb": {"exercises": r.exercises, "checks": r.checks}
        for r in released.values()}}
    files[MANIFEST] = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    return files


def differences(dest: Path, source_dir: Path = SOURCE_DIR) -> list[str]:
    """How ``dest`` differs from what a release would write (empty: up to date)."""
    dest = Path(dest)
    files = render(build(source_dir))
    problems = []
    for name, text in files.items():
        path = dest / name
        if not path.exists():
            problems.append(f"{path} is missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path} is out of date")
    try:
        old = json.loads((dest / MANIFEST).read_text(encoding="utf-8"))["notebooks"]
    except (OSError, ValueError, KeyError, TypeError):
        old = {}
    for name in sorted(set(old) - set(files)):
        if (dest / name).exists():
            problems.append(f"{dest / name} was released before but has no source any more")
    return problems


def release(dest: Path, source_dir: Path = SOURCE_DIR) -> list[Path]:
    """Write the released notebooks and the manifest into ``dest``; return what changed."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render(build(source_dir)).items():
        path = dest / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written
