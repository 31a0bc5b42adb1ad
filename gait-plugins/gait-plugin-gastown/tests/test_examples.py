"""examples/integrations/gastown: the quickstart keeps the adapter-parity contract
(integrations.md §6.1) for the fields a Claude Code hook event carries, and the baseline policy
decides worker calls as the guide says."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import REPO, HookRunner, base_env, claude_event

EXAMPLE = REPO / "examples" / "integrations" / "gastown"


@pytest.mark.parametrize("scenario", ["allow", "block"])
def test_quickstart_keeps_the_parity_contract(tmp_path: Path, scenario: str) -> None:
    done = subprocess.run(
        [sys.executable, str(EXAMPLE / "quickstart.py"), "--scenario", scenario],
        cwd=tmp_path,
        env=base_env(tmp_path, GAIT_PLUGINS=""),  # the quickstart selects the plugin itself
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines())
    assert lines["framework"] == "gastown"
    assert lines["scenario"] == scenario
    assert lines["verdict"] == scenario
    assert lines["executed"] == ("true" if scenario == "allow" else "false")
    trace_path = tmp_path / lines["trace_path"]
    assert lines["trace_path"].endswith(f"gait-out/integrations/gastown/trace_{scenario}.json")
    trace = json.loads(trace_path.read_text())
    assert trace["tool_name"] == "tool.write"
    intent = json.loads((trace_path.parent / f"intent_{scenario}.json").read_text())
    assert intent["targets"] and intent["targets"][0]["endpoint_class"] == "fs.write"
    assert intent["targets"][0]["operation"] == "write"
    context = intent["context"]
    assert context["session_id"] == f"sess-gastown-{scenario}"
    assert context["identity"] == "demo/polecats/polecat-01"
    assert context["auth_context"]["framework"] == "gastown"
    executor = trace_path.parent / f"executor_{scenario}.json"
    if scenario == "allow":
        assert tmp_path / lines["executor_output"] == executor
        assert json.loads(executor.read_text())["scenario"] == "allow"
    else:
        assert "executor_output" not in lines and not executor.exists()
        assert lines["reason"].startswith("gait blocked this call (verdict block;")


@pytest.mark.parametrize(
    ("tool", "tool_input", "verdict", "code"),
    [
        ("Read", {"file_path": "README.md"}, "allow", 0),
        ("Grep", {"pattern": "TODO"}, "allow", 0),
        ("Edit", {"file_path": "src/app.py", "old_string": "a", "new_string": "b"}, "allow", 0),
        ("Bash", {"command": "make test"}, "require_approval", 0),
        ("Bash", {"command": "git push --force"}, "block", 2),
        ("Task", {"prompt": "refactor everything"}, "block", 2),
        ("mcp__github__create_issue", {"title": "x"}, "block", 2),
    ],
)
def test_the_baseline_policy(
    hook: HookRunner,
    tmp_path: Path,
    tool: str,
    tool_input: dict[str, str],
    verdict: str,
    code: int,
) -> None:
    event = claude_event("", tool_name=tool, tool_input=tool_input)
    policy = EXAMPLE / "policy_baseline.yaml"
    run = hook("--policy", str(policy), "--trace-out", "trace_x.json", event=event)
    assert run.code == code, run.stderr
    assert json.loads((tmp_path / "intent_x.json").read_text())["verdict"] == verdict
    if verdict == "require_approval":
        assert json.loads(run.stdout)["hookSpecificOutput"]["permissionDecision"] == "ask"
