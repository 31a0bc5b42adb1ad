"""Fixtures: the installed `gait-gastown-hook` run as Claude Code runs it (the event on standard
input, Gas Town's identity in the environment), test policies, and gt's hook-file merge."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from gait.testing import Run, RunGait

REPO = Path(__file__).resolve().parents[3]  # the repository (examples, docs, shared data)
HOOK = Path(sys.executable).parent / "gait-gastown-hook"  # what `gait gastown install` writes

IDENTITY_VARIABLES = (
    "GT_ROLE",
    "GT_RIG",
    "GT_POLECAT",
    "GT_CREW",
    "BD_ACTOR",
    "GT_ROOT",
    "GT_SESSION",
    "GT_AGENT",
)
POLECAT = {
    "GT_ROLE": "myrig/polecats/toast",
    "GT_RIG": "myrig",
    "GT_POLECAT": "toast",
    "BD_ACTOR": "myrig/polecats/toast",
    "GT_SESSION": "gt-myrig-toast",
}

# allow by default; one call per other verdict (target values match exactly)
POLICY = """schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: allow
rules:
  - name: block-marker
    priority: 10
    effect: block
    match:
      tool_names: [tool.exec]
      target_values: ["touch blocked.marker"]
    reason_codes: [gastown_test_blocked]
    violations: [test_violation]
  - name: approve-marker
    priority: 20
    effect: require_approval
    match:
      tool_names: [tool.exec]
      target_values: ["touch approval.marker"]
    reason_codes: [gastown_test_approval]
  - name: dry-run-marker
    priority: 30
    effect: dry_run
    match:
      tool_names: [tool.read]
      target_values: ["dry.txt"]
    reason_codes: [gastown_test_dry_run]
"""


def claude_event(
    command: str,
    *,
    cwd: str = "/work/town/myrig/polecats/toast/myrig",
    tool_name: str = "Bash",
    tool_input: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A PreToolUse event in the shape captured from Claude Code 2.1.330 (peers.md §4)."""
    return {
        "session_id": "0b7c1f5e-5a37-4b8e-9d7e-2f1a4c3b6d90",
        "transcript_path": "/root/.claude/projects/x/0b7c1f5e.jsonl",
        "cwd": cwd,
        "prompt_id": "prompt-1",
        "permission_mode": "bypassPermissions",
        "hook_event_name": "PreToolUse",
        "tool_name": tool_name,
        "tool_input": dict(tool_input or {"command": command, "description": "test"}),
        "tool_use_id": "toolu_gastown_1",
    }


def base_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a worker: no identity variable of the test runner's own, the gastown
    plugin selected, a dev key of the test's."""
    env = {k: v for k, v in os.environ.items() if k not in IDENTITY_VARIABLES}
    env.update({"GAIT_PLUGINS": "gastown", "GAIT_HOME": str(tmp_path / "gait-home")})
    env.update(extra)
    return env


HookRunner = Callable[..., Run]


@pytest.fixture
def hook(tmp_path: Path) -> HookRunner:
    """Run `gait-gastown-hook ARGS` with `event` (a dict, or raw bytes) on standard input."""

    def run(
        *args: str,
        event: dict[str, Any] | bytes,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = 60,
    ) -> Run:
        data = event if isinstance(event, bytes) else json.dumps(event).encode()
        done = subprocess.run(
            [str(HOOK), *args],
            input=data,
            cwd=cwd or tmp_path,
            env={**base_env(tmp_path), **(env or {})},
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        return Run(done.returncode, done.stdout.decode(), done.stderr.decode())

    return run


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(POLICY)
    return path


def proxy(gait: RunGait, *args: str, cwd: Path, plugins: str = "") -> Run:
    return gait("mcp", "proxy", *args, "--json", cwd=cwd, plugins=plugins)


# ---- what `gt hooks sync` writes (internal/hooks/config.go and merge.go) ----------------------


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """gt's Merge: per event, an override entry with a known matcher replaces the base entry,
    a new matcher is appended, an empty hooks list removes the matcher."""
    merged = {event: list(entries) for event, entries in base.items()}
    for event, entries in override.items():
        result = merged.setdefault(event, [])
        for entry in entries:
            at = next((i for i, e in enumerate(result) if e["matcher"] == entry["matcher"]), None)
            if not entry.get("hooks"):
                if at is not None:
                    result.pop(at)
            elif at is None:
                result.append(entry)
            else:
                result[at] = entry
        if not result:
            del merged[event]
    return merged


def gt_settings(config_dir: Path, target: str) -> dict[str, Any]:
    """The Claude Code settings gt generates for `target` (`myrig/polecats`): the base, then the
    role override, then the rig+role one; hooks keep only `type` and `command`."""
    hooks = _load(config_dir / "hooks-base.json")
    rig, _, role = target.rpartition("/")
    for key in [role, target] if rig else [role]:
        hooks = _merge(
            hooks, _load(config_dir / "hooks-overrides" / f"{key.replace('/', '__')}.json")
        )
    return {
        "hooks": {
            event: [
                {
                    "matcher": entry["matcher"],
                    "hooks": [
                        {"type": hook["type"], "command": hook["command"]}
                        for hook in entry["hooks"]
                    ],
                }
                for entry in entries
            ]
            for event, entries in hooks.items()
        }
    }
