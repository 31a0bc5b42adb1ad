"""The layout rules of issue 16: no import cycle in gait-core, no source file over 600 lines.

A file may pass 600 lines only where docs/architecture.md says why, under a heading that says
"over 600 lines", one bullet per file: "- `gait-core/src/gait/example.py`: why it stays whole".
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import REPO

CORE = REPO / "gait-core" / "src"
SOURCE_ROOTS = [
    REPO / "gait-core" / "src",
    REPO / "gait-cli" / "src",
    *sorted((REPO / "gait-plugins").glob("*/src")),
]
SOURCE_SUFFIXES = (".py", ".js", ".mjs")
MAX_LINES = 600
ARCHITECTURE = REPO / "docs" / "architecture.md"


# ---- import cycles --------------------------------------------------------------------------


def module_name(path: Path) -> str:
    parts = list(path.relative_to(CORE).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(CORE.rglob("*.py"))}


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


class _Imports(ast.NodeVisitor):
    """Every import of a module, at any depth (inside functions too), as (line, module);
    `if TYPE_CHECKING:` bodies only when `type_only` is set."""

    def __init__(self, module: str, package: str, type_only: bool) -> None:
        self.module, self.package, self.type_only = module, package, type_only
        self.found: list[tuple[int, str]] = []

    def visit_If(self, node: ast.If) -> None:
        if not _is_type_checking(node.test):
            self.generic_visit(node)
            return
        for inner in [*node.body] if self.type_only else []:
            self.visit(inner)
        for inner in node.orelse:
            self.visit(inner)

    def visit_Import(self, node: ast.Import) -> None:
        self.found.extend((node.lineno, alias.name) for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = node.module or ""
        if node.level:
            parts = self.package.split(".")
            parts = parts[: len(parts) - (node.level - 1)]
            base = ".".join([*parts, *([node.module] if node.module else [])])
        for alias in node.names:
            full = f"{base}.{alias.name}"
            self.found.append((node.lineno, full if full in MODULES else base))


def imports(module: str, *, type_only: bool) -> dict[str, int]:
    """The gait-core modules `module` imports, each with the line of its first import.

    An import of an enclosing package is left out: Python runs a package's `__init__` before any
    of its modules anyway, so `from gait import __version__` in `gait.gate` adds no dependency.
    """
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    visitor = _Imports(module, package, type_only)
    visitor.visit(ast.parse(path.read_text(encoding="utf-8")))
    found: dict[str, int] = {}
    for line, name in visitor.found:
        enclosing = module == name or module.startswith(name + ".")
        if name in MODULES and not enclosing:
            found.setdefault(name, line)
    return found


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component: list[str] = []
            while not component or component[-1] != node:
                component.append(stack.pop())
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def describe(graph: dict[str, dict[str, int]], component: list[str]) -> str:
    edges = [
        f"    {source} -> {target} ({MODULES[source].relative_to(REPO)}:{line})"
        for source in component
        for target, line in sorted(graph[source].items())
        if target in component
    ]
    return f"  {len(component)} modules: {', '.join(component)}\n" + "\n".join(edges)


@pytest.mark.parametrize("type_only", [False, True], ids=["runtime", "with-type-checking"])
def test_no_import_cycle_in_gait_core(type_only: bool) -> None:
    """`runtime` counts every import a module runs, inside functions too; `with-type-checking`
    also counts those under `if TYPE_CHECKING:` (the types one layer takes from another)."""
    assert {"gait", "gait.gate", "gait.keys"} <= MODULES.keys()
    graph = {module: imports(module, type_only=type_only) for module in MODULES}
    found = cycles(graph)
    assert not found, f"{len(found)} import cycle(s) in gait-core:\n" + "\n".join(
        describe(graph, component) for component in found
    )


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1, "d": 1}, "d": {}, "e": {"e": 1}}
    assert cycles(graph) == [["a", "b", "c"]]


# ---- file length ----------------------------------------------------------------------------


def source_files() -> Iterator[Path]:
    for root in SOURCE_ROOTS:
        for path in sorted(root.rglob("*")):
            if path.suffix in SOURCE_SUFFIXES and "__pycache__" not in path.parts:
                yield path


def line_count(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def documented_exceptions() -> dict[str, str]:
    """`path -> why` from the bullets under docs/architecture.md's "over 600 lines" heading."""
    section = re.search(
        r"^#+ [^\n]*over 600 lines[^\n]*\n(.*?)(?=^#|\Z)",
        ARCHITECTURE.read_text(encoding="utf-8"),
        re.M | re.S | re.I,
    )
    if section is None:
        return {}
    return dict(re.findall(r"^[-*] `([^`]+)`\s*[:\u2014-]\s*(\S.*)$", section.group(1), re.M))


def test_no_source_file_over_600_lines_unless_documented() -> None:
    exceptions = documented_exceptions()
    long = {
        str(path.relative_to(REPO)): count
        for path in source_files()
        if (count := line_count(path)) > MAX_LINES
    }
    undocumented = {path: count for path, count in long.items() if path not in exceptions}
    assert not undocumented, (
        f"source files over {MAX_LINES} lines that docs/architecture.md does not explain: "
        + ", ".join(f"{path} ({count})" for path, count in sorted(undocumented.items()))
    )
    stale = sorted(set(exceptions) - set(long))
    assert not stale, f"docs/architecture.md excuses files that are not over 600 lines: {stale}"


def test_the_line_rule_sees_every_package() -> None:
    files = [str(path.relative_to(REPO)) for path in source_files()]
    assert "gait-core/src/gait/gate.py" in files
    assert any(f.startswith("gait-cli/src/gait_cli/") for f in files)
    assert any(f.startswith("gait-plugins/gait-plugin-otel/src/") for f in files)
    assert any(f.endswith(".js") for f in files)
