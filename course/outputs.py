"""``course outputs``: store the outputs nbval compares, and only those.

Notebooks are kept without outputs, except for two kinds of cells whose output is a
claim the course makes and that must stay true:

* cells whose first line is ``# NBVAL_CHECK_OUTPUT`` (they print the key numbers of
  the worked examples, rounded, so the text is the same on every run);
* in the sources, the check cells (their output says every solution passes).

This command runs each source notebook in a fresh kernel and stores the outputs of
those cells; ``course release`` carries the first kind over to the learners' versions.
nbval (``make test``) then runs every notebook and compares exactly these cells.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from course.release import SOURCE_DIR, meta

MARKER = "# NBVAL_CHECK_OUTPUT"
NBVAL_TAG = "nbval-check-output"


def is_checked(cell) -> bool:
    """Whether nbval compares this cell's output (the marker on its first line)."""
    return cell.cell_type == "code" and cell.source.lstrip().startswith(MARKER)


def keep_checked_outputs(nb: nbformat.NotebookNode, check_cells: bool) -> None:
    """Clear every output but those of checked cells (and of check cells, if asked)."""
    count = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = [t for t in cell.metadata.get("tags", []) if t != NBVAL_TAG]
        keep = is_checked(cell) or (check_cells and "check" in meta(cell))
        if keep and check_cells and "check" in meta(cell):
            tags.append(NBVAL_TAG)
        if tags:
            cell.metadata["tags"] = tags
        else:
            cell.metadata.pop("tags", None)
        cell.metadata.pop("execution", None)
        if keep and cell.outputs:
            count += 1
            cell.execution_count = count
            for output in cell.outputs:
                if "execution_count" in output:
                    output["execution_count"] = count
                output.get("metadata", {}).clear() if "metadata" in output else None
        else:
            cell.outputs, cell.execution_count = [], None


def refresh(source_dir: Path = SOURCE_DIR, timeout: int = 120,
            only: Sequence[str] = ()) -> list[Path]:
    """Run every source notebook (or those named in ``only``, by stem or file name) and
    store the outputs of its checked and check cells."""
    paths = sorted(source_dir.glob("*.ipynb"))
    if only:
        wanted = {Path(name).stem for name in only}
        unknown = wanted - {path.stem for path in paths}
        if unknown:
            raise FileNotFoundError(f"no source notebook {', '.join(sorted(unknown))} in "
                                    f"{source_dir}")
        paths = [path for path in paths if path.stem in wanted]
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        env_db = os.environ.get("ADLAB_COURSE_DB")
        os.environ["ADLAB_COURSE_DB"] = str(Path(tmp) / "progress.sqlite3")
        try:
            for path in paths:
                nb = nbformat.read(path, as_version=4)
                NotebookClient(nb, timeout=timeout, kernel_name="python3",
                               resources={"metadata": {"path": str(path.parent)}}).execute()
                keep_checked_outputs(nb, check_cells=True)
                nbformat.write(nb, path)
                written.append(path)
        finally:
            if env_db is None:
                os.environ.pop("ADLAB_COURSE_DB", None)
            else:
                os.environ["ADLAB_COURSE_DB"] = env_db
    return written
