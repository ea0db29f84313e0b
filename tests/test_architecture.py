"""The package's folders by job, and the direction of imports between them (docs/architecture.md).

A module imports its own folder and the folders below it in RANKS, never one above: nothing
imports the pipeline or the CLI, the study's core never imports a driver's support, and there
is no circle between folders. Lazy imports inside functions count too.
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "cnnlab"
# Lowest first. The basics are single modules at the top; every other part is a folder.
RANKS = ["basics", "data", "models", "config", "results", "training", "analysis", "reporting", "pipeline",
         "cli"]
BASICS = {"errors", "text", "io", "random_streams", "__init__"}
TOP_MODULES = BASICS | {"cli", "__main__"}


def part(module: str) -> str:
    """The part of dotted `module` (cnnlab.training.train -> training)."""
    first = module.split(".")[1] if module.count(".") else "__init__"
    if first in BASICS:
        return "basics"
    return "cli" if first in ("cli", "__main__") else first


def modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        dotted = ".".join(("cnnlab", *path.relative_to(PACKAGE).with_suffix("").parts))
        found.append((dotted.removesuffix(".__init__"), path))
    return found


def imported(module: str, path: Path) -> set[str]:
    """The cnnlab modules that `path` imports, absolute and relative, at the top or inside functions."""
    names = set()
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join([*parts[:len(parts) - node.level + 1], base]).strip(".")
            for alias in node.names:
                names.add(f"{base}.{alias.name}" if base == "cnnlab" else base)
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return {name for name in names if name == "cnnlab" or name.startswith("cnnlab.")}


def test_every_module_belongs_to_a_part_with_a_rank():
    unknown = {part(module) for module, _ in modules()} - set(RANKS)
    assert unknown == set(), f"folders without a rank in RANKS: {unknown}"
    top = {path.stem for path in PACKAGE.glob("*.py")}
    assert top <= TOP_MODULES, f"new top-level modules belong in a folder: {top - TOP_MODULES}"


@pytest.mark.parametrize("module, path", modules(), ids=[m for m, _ in modules()])
def test_imports_go_only_to_the_same_part_or_below(module, path):
    rank = RANKS.index(part(module))
    upward = sorted(name for name in imported(module, path)
                    if name != "cnnlab" and RANKS.index(part(name)) > rank)
    assert upward == [], f"{module} ({part(module)}) imports {upward}, above it in RANKS"
