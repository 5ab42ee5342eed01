"""The engine's structure: adlab's modules import each other in one direction.

Every ``import`` inside ``adlab/`` counts, also those inside functions: a lazy import
that only dodges a cycle is still a cycle. The graph of module imports must have none.
"""

from __future__ import annotations

import ast
from pathlib import Path

import adlab

ROOT = Path(adlab.__file__).parent


def _module_name(path: Path) -> str:
    parts = ("adlab",) + path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in ROOT.rglob("*.py")}


def _imports(name: str, path: Path) -> set[str]:
    """The adlab modules that module ``name`` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in MODULES:  # `from adlab import ops`: adlab.ops
                target = target.rpartition(".")[0]
            if target and target != name and target != "adlab":
                found.add(target)
    return found


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _cycles() -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan's algorithm)."""
    index, low, stack, on, groups, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in GRAPH[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1 or v in GRAPH[v]:
                groups.append(sorted(group))

    for v in sorted(GRAPH):
        if v not in index:
            visit(v)
    return groups


def test_the_import_graph_is_read():
    assert {"adlab.core", "adlab.ops", "adlab.forward", "adlab.reverse"} <= set(GRAPH)
    assert "adlab.core" in GRAPH["adlab.ops"]
    assert "adlab.ops" in GRAPH["adlab.dispatch"]


def test_no_import_cycles_inside_adlab():
    cycles = _cycles()
    assert not cycles, "modules that import each other (directly or around a loop): " + \
        "; ".join(" <-> ".join(c) for c in cycles)


def test_the_core_layers():
    """core knows no primitive; the registry knows no mode; the modes know each other not."""
    assert not GRAPH["adlab.core"] - {"adlab.fmt"}
    assert GRAPH["adlab.ops"] <= {"adlab.core", "adlab.fmt", "adlab.tree"}
    assert "adlab.reverse" not in GRAPH["adlab.forward"]
    assert "adlab.forward" not in GRAPH["adlab.reverse"]


def test_adlab_exports_the_operations_of_the_registry_module():
    """``ad.<name>`` is ``adlab.ops.<name>`` for every name ops exports (generated code
    relies on it), and every public primitive of ops is exported or deliberately internal."""
    from adlab import ops

    for name in ops.__all__:
        assert getattr(adlab, name) is getattr(ops, name), name
    internal = {"getitem", "scatter", "sort_by", "unsort_by"}
    for name, value in vars(ops).items():
        if isinstance(value, ops.Primitive) and not name.startswith("_"):
            assert name in ops.__all__ or name in internal, f"ops.{name} is not exported"
