"""Named backends by kind, through the installed gait: a name of one kind is refused where
another kind is meant, and the workspace's plugins use only the declared CLI plugin API."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import gait_cli.plugin_api
from tests.conftest import REPO, RunGait

HEAD = "schema_id: gait.gate.policy\nschema_version: 1.0.0\n"


@pytest.mark.parametrize(
    ("plugins", "sinks"), [("github", "none installed"), ("github,beads", "beads")]
)
def test_serve_bridge_takes_only_sinks(
    gait: RunGait, tmp_path: Path, plugins: str, sinks: str
) -> None:
    """`ci.github` is a CI provider, `mcp` an adapter: neither is a sink for `--bridge`."""
    (tmp_path / "policy.yaml").write_text(HEAD + "default_verdict: allow\n")
    for name in ("ci.github", "github", "mcp"):
        out = gait(
            "mcp", "serve", "--policy", "policy.yaml", "--listen", "127.0.0.1:0",
            "--bridge", name, "--json", plugins=plugins,
        )  # fmt: skip
        assert out.code == 6, out.stdout + out.stderr
        assert f"unknown --bridge {name!r} (sinks: {sinks})" in out.stdout + out.stderr
        assert "TypeError" not in out.stdout + out.stderr


def test_ci_providers_are_listed_by_kind(gait: RunGait) -> None:
    out = gait("plugins", "list", "--json", plugins="github,beads")
    provides = {p["name"]: p["provides"] for p in out.json["plugins"]}
    assert provides["github"] == ["ci_provider:github"]
    assert provides["beads"] == ["sink:beads"]
    assert provides["gait.ed25519"] == ["signer:ed25519"]


def _gait_cli_imports(path: Path) -> list[tuple[str, tuple[str, ...]]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "gait_cli":
            found.append((node.module or "", tuple(alias.name for alias in node.names)))
        elif isinstance(node, ast.Import):
            found += [(a.name, ()) for a in node.names if a.name.split(".")[0] == "gait_cli"]
    return found


def test_plugins_import_only_the_declared_cli_api() -> None:
    roots = [*REPO.glob("gait-plugins/*/src"), REPO / "examples" / "plugin-template" / "src"]
    allowed = set(gait_cli.plugin_api.__all__)
    checked = 0
    for path in sorted(p for root in roots for p in root.rglob("*.py")):
        for module, names in _gait_cli_imports(path):
            checked += 1
            assert module == "gait_cli.plugin_api", f"{path}: imports {module}"
            assert set(names) <= allowed, f"{path}: {set(names) - allowed} is not plugin API"
    assert checked >= 5
