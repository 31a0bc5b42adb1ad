"""The intent and policy layers import each other in one direction only (no cycle), counting
imports inside functions too (TYPE_CHECKING blocks aside)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "gait"
LAYERS = sorted(
    path.stem
    for path in PACKAGE.glob("*.py")
    if path.stem.startswith(("intent", "policy", "evaluate", "gate"))
)


def _imports(module: str) -> set[str]:
    tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
    skipped = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for inner in ast.walk(node)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.ImportFrom) and node.module == "gait":
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("gait."):
            found.add(node.module.removeprefix("gait."))
        elif isinstance(node, ast.Import):
            found.update(
                a.name.removeprefix("gait.") for a in node.names if a.name.startswith("gait.")
            )
    return found & set(LAYERS)


def test_no_import_cycle_among_intent_and_policy_modules() -> None:
    graph = {module: _imports(module) - {module} for module in LAYERS}
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, "import cycle: " + " -> ".join((*path, module))
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, (*path, module))
        done.add(module)

    for module in LAYERS:
        visit(module, ())
    assert {"intent", "intent_sections", "policy", "policy_model", "evaluate"} <= set(LAYERS)


def test_no_module_imports_private_names_of_intent_or_policy() -> None:
    for module in LAYERS:
        tree = ast.parse((PACKAGE / f"{module}.py").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gait.intent"):
                private = [a.name for a in node.names if a.name.startswith("_")]
                assert not private, f"{module} imports {private} from {node.module}"
