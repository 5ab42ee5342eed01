"""The installed package ships no answers: the wheel has no source notebooks."""

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """A wheel built from a copy of the project (the checkout stays clean)."""
    pytest.importorskip("setuptools")
    tree = tmp_path_factory.mktemp("project")
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy(ROOT / name, tree / name)
    for package in ("adlab", "course"):
        shutil.copytree(ROOT / package, tree / package,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                    "-q", "-w", str(out), str(tree)], check=True, capture_output=True)
    (path,) = out.glob("adlab-*.whl")
    with zipfile.ZipFile(path) as archive:
        return {n: archive.read(n).decode("utf-8", "replace") for n in archive.namelist()}


@pytest.fixture(scope="module")
def wheel_texts(wheel):
    return wheel


def test_the_wheel_has_the_packages_but_no_sources(wheel):
    assert "adlab/__init__.py" in wheel and "course/grade.py" in wheel
    assert "course/runner.py" in wheel and "course/wire.py" in wheel
    assert not [n for n in wheel if n.endswith(".ipynb")], "a notebook is in the wheel"
    assert not [n for n in wheel if "sources" in n]


def test_nothing_in_the_wheel_holds_a_solution(wheel_texts):
    """No line of any solution (hints, checkers, docstrings): only the teacher has them."""
    from course import release

    def squeeze(text):
        return re.sub(r"\s+", "", text)

    # lines that the learners' notebooks do not show anyway (a task may state its
    # formula; tests/test_course_answers.py keeps whole solutions out of them)
    public = squeeze("".join(c.source for r in release.build().values()
                             for c in r.notebook.cells))
    pieces = {}  # two consecutive lines of a solution, or a whole one-line solution
    for nb in release.read_sources().values():
        for cell in nb.cells:
            exercise = release.meta(cell).get("exercise")
            if exercise:
                body = cell.source.split("### BEGIN SOLUTION")[1].split("### END SOLUTION")[0]
                code = [squeeze(line.split("#")[0]) for line in body.splitlines()]
                code = [c for c in code if len(c) > 6]
                runs = [a + b for a, b in zip(code, code[1:])] or code
                pieces.update({r: exercise for r in runs if r not in public and len(r) > 20})
    assert len(pieces) > 40
    texts = {name: squeeze(text) for name, text in wheel_texts.items()}
    leaks = [f"{name} holds lines of the solution of {exercise}: {piece}"
             for name, text in texts.items() for piece, exercise in pieces.items()
             if piece in text]
    assert not leaks, "\n".join(leaks)
