"""course release and course validate: stubs, read-only checks, manifest, sync with notebooks/."""

import json
import shutil
from pathlib import Path

import nbformat
import pytest

from course import catalog, cli, release
from course.outputs import is_checked
from course.validate import validate

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def private_store(tmp_path, monkeypatch):
    monkeypatch.setenv("ADLAB_COURSE_DB", str(tmp_path / "progress.sqlite3"))


def test_notebooks_folder_is_up_to_date_with_the_sources():
    problems = release.differences(ROOT / "notebooks")
    assert problems == [], "run `course release` from the repository root:\n" + "\n".join(problems)


def test_release_is_idempotent(tmp_path):
    first = release.release(tmp_path)
    assert {p.name for p in first} == {f"{stem}.ipynb" for stem in release.read_sources()} | {
        release.MANIFEST}
    texts = {p.name: p.read_text() for p in first}
    assert release.release(tmp_path) == []
    assert {p.name: p.read_text() for p in first} == texts
    assert release.differences(tmp_path) == []


def test_strip_solutions_keeps_the_indentation():
    source = ("def f(x):\n    \"\"\"Doc.\"\"\"\n    ### BEGIN SOLUTION\n    return x\n"
              "    ### END SOLUTION\n")
    assert release.strip_solutions(source) == (
        'def f(x):\n    """Doc."""\n    raise NotImplementedError("replace this line with '
        'your code")\n')
    for broken in ("### BEGIN SOLUTION\nx = 1\n", "x = 1\n### END SOLUTION\n"):
        with pytest.raises(release.ReleaseError):
            release.strip_solutions(broken)


def test_released_notebooks_hold_stubs_read_only_checks_and_no_outputs():
    manifest = json.loads((ROOT / "notebooks" / release.MANIFEST).read_text())
    sources = release.read_sources()
    for stem, source in sources.items():
        nb = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4)
        entry = manifest["notebooks"][f"{stem}.ipynb"]
        assert nb.metadata["course"] == {"notebook": stem}
        for cell in nb.cells:
            tag = release.meta(cell)
            assert "SOLUTION" not in cell.source
            if cell.cell_type == "code" and not is_checked(cell):
                # only the cells nbval compares keep their (stored, deterministic) output
                assert cell.outputs == [] and cell.execution_count is None
            if "exercise" in tag:
                assert 'raise NotImplementedError("replace this line' in cell.source
            if "check" in tag:
                assert cell.metadata["editable"] is False
                assert cell.metadata["deletable"] is False
                assert entry["checks"][tag["check"]]["sha256"] == release.sha256(cell.source)
        checks = [release.meta(c)["check"] for c in nb.cells if "check" in release.meta(c)]
        assert checks == entry["exercises"]
        solutions = [c.source.split("### BEGIN SOLUTION\n")[1].split("### END")[0]
                     for c in source.cells if "### BEGIN SOLUTION" in c.source]
        released = "\n".join(c.source for c in nb.cells)
        assert bool(solutions) == bool(entry["exercises"])  # the welcome page has none
        assert all(s.strip() not in released for s in solutions)


def test_release_check_reports_a_stale_folder(tmp_path, capsys):
    assert cli.main(["release", "--dest", str(tmp_path)]) == 0
    assert cli.main(["release", "--check", "--dest", str(tmp_path)]) == 0
    path = tmp_path / "04_reverse_mode.ipynb"
    path.write_text(path.read_text().replace("div_vjp", "div_vjp2"))
    capsys.readouterr()
    assert cli.main(["release", "--check", "--dest", str(tmp_path)]) == 1
    assert "04_reverse_mode.ipynb is out of date" in capsys.readouterr().out
    assert cli.main(["release", "--dest", str(tmp_path)]) == 0
    assert "wrote" in capsys.readouterr().out and release.differences(tmp_path) == []


def _copy_sources(tmp_path):
    target = tmp_path / "sources"
    shutil.copytree(release.SOURCE_DIR, target)
    return target / "04_reverse_mode.ipynb"


def test_a_broken_source_is_refused(tmp_path, capsys):
    path = _copy_sources(tmp_path)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if release.meta(cell).get("check") == "04.derive":
            cell.source = "check('04.derive')  # edited"
    nbformat.write(nb, path)
    assert cli.main(["release", "--source", str(path.parent),
                     "--dest", str(tmp_path / "out")]) == 1
    assert "must be exactly" in capsys.readouterr().err


def test_validate_passes_on_the_course_sources(capsys):
    findings = validate()
    n = len(catalog.EXERCISES)
    assert len(findings) == n and all(f.ok for f in findings), findings
    assert cli.main(["validate"]) == 0
    assert capsys.readouterr().out.count("ok   ") == n


def test_validate_catches_a_wrong_solution(tmp_path):
    path = _copy_sources(tmp_path)
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if release.meta(cell).get("exercise") == "04.div_vjp":
            cell.source = cell.source.replace("y_bar = -g * x", "y_bar = g * x")
    nbformat.write(nb, path)
    failing = [f for f in validate(path.parent) if not f.ok]
    assert [f.exercise for f in failing] == ["04.div_vjp"]
    assert "does not pass" in failing[0].message


def test_outputs_runs_only_the_named_notebooks(tmp_path, capsys):
    # an unknown name is refused before anything runs; a named one is the only one run
    (tmp_path / "01_one.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("# NBVAL_CHECK_OUTPUT\nprint(6 * 7)")])))
    (tmp_path / "02_two.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("raise SystemExit('must not run')")])))
    assert cli.main(["outputs", "--sources", str(tmp_path), "03_three"]) == 2
    assert "no source notebook 03_three" in capsys.readouterr().err
    assert cli.main(["outputs", "--sources", str(tmp_path), "01_one.ipynb"]) == 0
    out = capsys.readouterr().out
    assert "01_one.ipynb" in out and "02_two" not in out
    stored = nbformat.read(tmp_path / "01_one.ipynb", as_version=4).cells[0].outputs
    assert stored[0]["text"] == "42\n"
