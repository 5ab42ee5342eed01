"""The Binder (repo2docker) configuration in binder/ installs everything the course needs.

A BinderHub or a repo2docker-built JupyterHub image installs ``binder/apt.txt`` with
apt-get and ``binder/requirements.txt`` with pip, from the repository root. These tests
check, without building an image, that those files name every third-party module the
notebooks import (and that the project's own packages import), every runtime dependency
in pyproject.toml, graphviz's ``dot``, and the project itself.
"""

from __future__ import annotations

import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[1]
BINDER = REPO / "binder"
NOTEBOOK_DIRS = (REPO / "notebooks", REPO / "course" / "sources")
PROJECT_PACKAGES = {"adlab", "course"}  # installed by the `-e .` line

# Import names whose distribution is named otherwise (or differently cased).
DISTRIBUTION = {
    "IPython": "ipython",
    "PIL": "pillow",
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
}

# Distributions that are not named in requirements.txt because a named one requires
# them: distribution -> the chain of requirements from a named distribution down to it.
# Each link is checked against the installed metadata.
PROVIDED_BY = {
    "ipython": ("jupyterlab", "ipykernel", "ipython"),
    # the class service (course/hub) runs on what jupyterhub brings
    "jinja2": ("jupyterhub", "jinja2"),
    "markupsafe": ("jupyterhub", "jinja2", "markupsafe"),
    "sqlalchemy": ("jupyterhub", "sqlalchemy"),
    "tornado": ("jupyterhub", "tornado"),
}


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def requirement_lines(path: Path) -> list[str]:
    lines = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def binder_requirements() -> dict[str, Requirement]:
    """Canonical name -> requirement, for every non-local line of requirements.txt."""
    reqs = {}
    for line in requirement_lines(BINDER / "requirements.txt"):
        if line.startswith("-") or line.startswith("."):
            continue  # options and local paths (the project itself)
        req = Requirement(line)
        reqs[canonicalize_name(req.name)] = req
    return reqs


def top_level_imports(source: str) -> set[str]:
    """Top-level module names imported anywhere in ``source`` (relative imports skipped)."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def cell_source(source: str) -> str:
    """A code cell as Python: IPython magics (%, %%) and shell escapes (!) dropped."""
    return "\n".join(
        "" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()
    )


def notebook_imports() -> dict[str, set[str]]:
    """Module name -> the files (notebooks, project modules) that import it."""
    found: dict[str, set[str]] = {}
    notebooks = sorted(p for d in NOTEBOOK_DIRS for p in d.glob("*.ipynb"))
    assert notebooks, f"no notebooks in {[str(d) for d in NOTEBOOK_DIRS]}"
    sources = []
    for path in notebooks:
        nb = nbformat.read(str(path), as_version=4)
        for cell in nb.cells:
            if cell.cell_type == "code":
                sources.append((path, cell_source(cell.source)))
    # the notebooks import adlab and course, so what those import counts too
    for package in sorted(PROJECT_PACKAGES):
        for path in sorted((REPO / package).rglob("*.py")):
            sources.append((path, path.read_text()))
    for path, source in sources:
        try:
            modules = top_level_imports(source)
        except SyntaxError as exc:
            pytest.fail(f"{path.relative_to(REPO)}: cannot parse a code cell: {exc}")
        for module in modules:
            found.setdefault(module, set()).add(str(path.relative_to(REPO)))
    return found


def distribution_of(module: str) -> str:
    return canonicalize_name(DISTRIBUTION.get(module, module))


def requires(dist: str) -> set[str]:
    """The canonical names ``dist`` requires unconditionally (no extras) when installed."""
    names = set()
    for line in metadata.requires(dist) or []:
        req = Requirement(line)
        if req.marker is None or req.marker.evaluate({"extra": ""}):
            names.add(canonicalize_name(req.name))
    return names


# ---------------------------------------------------------------------------------


def test_binder_installs_the_project_itself():
    lines = requirement_lines(BINDER / "requirements.txt")
    assert any(re.fullmatch(r"(-e\s+|--editable[= ]\s*)?\.(\[[\w,-]+\])?/?", ln) for ln in lines), (
        "binder/requirements.txt must install the repository itself (a line `-e .`), "
        "so that the notebooks can import adlab and course"
    )
    include = pyproject()["tool"]["setuptools"]["packages"]["find"]["include"]
    assert {p.rstrip("*") for p in include} == PROJECT_PACKAGES, include


def test_binder_requirements_contain_every_runtime_dependency():
    named = binder_requirements()
    for line in pyproject()["project"]["dependencies"]:
        dep = Requirement(line)
        name = canonicalize_name(dep.name)
        assert name in named, f"{dep} (pyproject.toml) is missing from binder/requirements.txt"
        assert named[name].specifier == dep.specifier, (
            f"binder/requirements.txt says {named[name]}, pyproject.toml says {dep}: keep "
            "them in step"
        )


def test_binder_requirements_cover_every_import_of_the_notebooks():
    named = set(binder_requirements())
    missing = []
    for module, files in sorted(notebook_imports().items()):
        if module in sys.stdlib_module_names or module in PROJECT_PACKAGES:
            continue
        dist = distribution_of(module)
        if dist in named:
            continue
        chain = PROVIDED_BY.get(dist)
        if chain and chain[0] in named:
            for parent, child in zip(chain, chain[1:]):
                assert child in requires(parent), (
                    f"{module}: expected {parent} to require {child} (PROVIDED_BY); "
                    f"name {dist} in binder/requirements.txt instead"
                )
            continue
        missing.append(f"{module} (pip: {dist}; imported by {', '.join(sorted(files)[:3])})")
    assert not missing, "binder/requirements.txt lacks:\n  " + "\n  ".join(missing)


def test_binder_apt_installs_graphviz():
    packages = requirement_lines(BINDER / "apt.txt")
    assert "graphviz" in packages, "binder/apt.txt must install graphviz (the `dot` program)"
    for package in packages:  # repo2docker accepts bare package names only
        assert re.fullmatch(r"[a-z0-9][a-z0-9.+-]*", package), package


def test_binder_python_satisfies_requires_python():
    runtime = (BINDER / "runtime.txt").read_text().strip()
    match = re.fullmatch(r"python-(3\.\d+)", runtime)
    assert match, f"binder/runtime.txt: expected python-3.X, got {runtime!r}"
    requires_python = SpecifierSet(pyproject()["project"]["requires-python"])
    assert match.group(1) in requires_python, (runtime, str(requires_python))
