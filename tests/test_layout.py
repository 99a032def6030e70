"""The package's layout: one package per concept, imports that run downward only, no cycles.

Read with `ast` (nothing is imported), every import counted, those inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "assistant"

# a package may import its own level and those below it, never one above
LEVELS = {
    "config": 0, "errors": 0, "documents": 0, "language": 0, "prompts": 0, "lexicon": 0,
    "ingest": 1, "index": 1, "userdata": 1,
    "retrieval": 2, "llm": 2,
    "answering": 3,
    "practice": 4, "evaluation": 5,
    "web": 6, "cli": 6,
}
TOP_LEVEL_MODULES = {"__init__", "config", "errors", "documents", "language", "prompts", "cli"}


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports() -> dict[str, set[str]]:
    """Each module of the package and the package modules it imports."""
    out: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("assistant"):
                found.add(node.module)
                found |= {f"{node.module}.{a.name}" for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("assistant")}
        out[_module(path)] = found
    known = set(out)
    return {m: {i for i in found if i in known and i != "assistant"} for m, found in out.items()}


def _area(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def test_only_the_named_modules_sit_at_the_top():
    top = {p.stem for p in PACKAGE.glob("*.py")}
    assert top <= TOP_LEVEL_MODULES, f"top-level modules besides the named ones: {sorted(top - TOP_LEVEL_MODULES)}"
    packages = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    assert packages <= set(LEVELS), f"packages without a level: {sorted(packages - set(LEVELS))}"


def test_imports_run_downward():
    upward = []
    for module, imported in _imports().items():
        here = _area(module)
        if here is None:
            continue
        for other in imported:
            there = _area(other)
            if there and there != here and LEVELS[there] > LEVELS[here]:
                upward.append(f"{module} -> {other}")
    assert not upward, "imports that run upward:\n" + "\n".join(sorted(upward))


def test_no_import_cycles():
    graph = _imports()
    # a package's __init__ is not a dependency of its modules' imports of each other
    state: dict[str, int] = {}
    cycles = []

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in sorted(graph.get(m, ())):
            if state.get(n) == 1:
                cycles.append(" -> ".join(path[path.index(n):] + [n]) if n in path else f"{m} -> {n}")
            elif n not in state:
                visit(n, path + [n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m, [m])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


@pytest.mark.parametrize("area", sorted(a for a in LEVELS if (PACKAGE / a).is_dir()))
def test_every_package_says_what_it_holds(area):
    doc = ast.get_docstring(ast.parse((PACKAGE / area / "__init__.py").read_text(encoding="utf-8")))
    assert doc, f"assistant/{area}/__init__.py has no docstring"
