"""`gait gastown hook --bridge beads`: a blocked decision becomes a Beads issue through
gait-plugin-beads' sink (with the stand-in `bd` of that plugin's tests); without the plugin the
hook denies, saying what to install."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from .conftest import POLECAT, REPO, HookRunner, claude_event

FAKE_BD = REPO / "gait-plugins" / "gait-plugin-beads" / "tests" / "fake_bd.py"


@pytest.fixture
def bd_env(tmp_path: Path) -> dict[str, str]:
    folder = tmp_path / "bd-bin"
    folder.mkdir()
    script = folder / "bd"
    script.write_text(f"#!{sys.executable}\n" + FAKE_BD.read_text())
    script.chmod(0o755)
    return {
        "PATH": f"{folder}{os.pathsep}{os.environ['PATH']}",
        "FAKE_BD_STATE": str(tmp_path / "bd-state.json"),
        "FAKE_BD_LOG": str(tmp_path / "bd-calls.jsonl"),
        "GAIT_PLUGINS": "gastown,beads",
        **POLECAT,
    }


def issues(tmp_path: Path) -> list[dict[str, object]]:
    state = tmp_path / "bd-state.json"
    return json.loads(state.read_text()) if state.exists() else []


def test_a_blocked_decision_is_filed_in_beads(
    hook: HookRunner, policy: Path, tmp_path: Path, bd_env: dict[str, str]
) -> None:
    blocked = hook(
        "--policy", str(policy), "--bridge", "beads", event=claude_event("touch blocked.marker"),
        env=bd_env,
    )  # fmt: skip
    assert blocked.code == 2
    reason, note = blocked.stderr.splitlines()
    assert reason.startswith("gait blocked this call (verdict block;")
    [issue] = issues(tmp_path)
    assert note == f"gait --bridge beads: {issue['id']}"
    trace_id = reason.rsplit("trace_id ", 1)[1].rstrip(")")
    assert issue["external_ref"] == f"gait:{trace_id}"
    allowed = hook(
        "--policy", str(policy), "--bridge", "beads", event=claude_event("ls"), env=bd_env
    )
    assert (allowed.code, allowed.stderr) == (0, "")
    assert len(issues(tmp_path)) == 1


def test_a_missing_bd_still_denies_the_blocked_call(
    hook: HookRunner, policy: Path, tmp_path: Path, bd_env: dict[str, str]
) -> None:
    env = {**bd_env, "PATH": str(tmp_path)}  # no bd anywhere
    run = hook(
        "--policy", str(policy), "--bridge", "beads", event=claude_event("touch blocked.marker"),
        env=env,
    )  # fmt: skip
    assert run.code == 2
    assert run.stderr.splitlines()[1].startswith("gait --bridge beads: ")


def test_without_the_beads_plugin_every_call_is_denied(hook: HookRunner, policy: Path) -> None:
    run = hook("--policy", str(policy), "--bridge", "beads", event=claude_event("ls"))
    assert run.code == 2
    assert "--bridge beads: no sink plugin named 'beads' is installed or selected" in run.stderr
    assert "pip install gait-plugin-beads" in run.stderr
