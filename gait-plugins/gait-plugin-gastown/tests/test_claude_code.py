"""The real Claude Code CLI (npm @anthropic-ai/claude-code 2.1.330) as a Gas Town polecat runs
it: `--dangerously-skip-permissions` (IS_SANDBOX=1, since the tests run as root), Gas Town's
identity in the environment, and the settings file `gt hooks sync` would generate from the
override `gait gastown install` wrote. A fake Anthropic Messages API on loopback asks for one
Bash call; the marker file that call would create shows whether the tool ran."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import attrs
import pytest

from gait.testing import RunGait
from tests.npm_peers import npm_peer, peer_bin

from .conftest import POLECAT, base_env, gt_settings
from .fake_anthropic import FakeAnthropic

CLAUDE_CODE = ["@anthropic-ai/claude-code@2.1.330"]


@pytest.fixture(scope="module")
def claude() -> Path:
    return peer_bin(npm_peer("claude-code", CLAUDE_CODE), "claude")


@attrs.frozen
class Town:
    root: Path
    worktree: Path
    settings: Path
    policy: Path

    @property
    def traces(self) -> Path:
        return self.root / "gait-out" / "integrations" / "gastown"


@pytest.fixture
def town(tmp_path: Path, gait: RunGait, policy: Path) -> Town:
    """A town whose polecats get the gate: `gait gastown install`, then the settings gt would
    write for myrig's polecats (an explicit empty base, so gt's own guards stay out)."""
    root = tmp_path / "town"
    (root / ".gt").mkdir(parents=True)
    (root / ".gt" / "hooks-base.json").write_text("{}\n")
    installed = gait(
        "gastown", "install", "--town", str(root), "--target", "polecats", "--matcher", "Bash",
        "--policy", str(policy), "--no-sync", "--json",
        plugins="gastown",
        env={"GAIT_HOME": str(tmp_path / "gait-home")},
    )  # fmt: skip
    assert installed.code == 0, installed.stdout + installed.stderr
    settings = gt_settings(root / ".gt", "myrig/polecats")
    entry = settings["hooks"]["PreToolUse"][0]
    assert entry["matcher"] == "Bash"
    assert [set(hook) for hook in entry["hooks"]] == [{"type", "command"}]
    path = root / "myrig" / "polecats" / ".claude" / "settings.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(settings, indent=2))
    worktree = root / "myrig" / "polecats" / "toast" / "myrig"
    worktree.mkdir(parents=True)
    return Town(root=root, worktree=worktree, settings=path, policy=policy)


@attrs.frozen
class Session:
    code: int
    tool_results: list[dict[str, Any]]
    stderr: str


def run_claude(claude: Path, town: Town, tmp_path: Path, command: str) -> Session:
    """One headless session whose model asks for `command`."""
    home = tmp_path / "claude-home"
    home.mkdir(exist_ok=True)
    scratch = tmp_path / "claude-tmp"
    scratch.mkdir(exist_ok=True)
    with FakeAnthropic(command) as model:
        env = base_env(
            tmp_path,
            **POLECAT,
            GT_ROOT=str(town.root),
            HOME=str(home),
            TMPDIR=str(scratch),
            ANTHROPIC_BASE_URL=model.url,
            ANTHROPIC_API_KEY="sk-ant-test",
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            DISABLE_TELEMETRY="1",
            IS_SANDBOX="1",
        )
        done = subprocess.run(
            [
                str(claude), "-p", "go", "--settings", str(town.settings),
                "--dangerously-skip-permissions", "--output-format", "stream-json", "--verbose",
                "--model", "claude-sonnet-4-5",
            ],
            cwd=town.worktree,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )  # fmt: skip
    results = []
    for line in done.stdout.splitlines():
        event = json.loads(line) if line.startswith("{") else {}
        if event.get("type") == "user":
            results += [
                block
                for block in event["message"]["content"]
                if isinstance(block, dict) and block.get("type") == "tool_result"
            ]
    assert results, done.stdout[-2000:] + done.stderr[-2000:]
    return Session(done.returncode, results, done.stderr)


def _text(result: dict[str, Any]) -> str:
    content = result.get("content")
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def test_a_blocked_bash_call_never_runs_and_the_model_gets_the_reason(
    claude: Path, town: Town, tmp_path: Path
) -> None:
    session = run_claude(claude, town, tmp_path, "touch blocked.marker")
    assert not (town.worktree / "blocked.marker").exists()
    [result] = session.tool_results
    assert result["is_error"] is True
    text = _text(result)
    assert "gait blocked this call (verdict block; reason_codes " in text
    assert "gastown_test_blocked" in text
    [record_path] = town.traces.glob("intent_*.json")
    record = json.loads(record_path.read_text())
    assert record["verdict"] == "block"
    assert f"trace_id {record['trace_id']}" in text
    assert record["context"]["identity"] == "myrig/polecats/toast"
    assert record["context"]["workspace"] == str(town.worktree)
    assert record["context"]["auth_context"]["permission_mode"] == "bypassPermissions"


def test_an_allowed_bash_call_runs(claude: Path, town: Town, tmp_path: Path) -> None:
    session = run_claude(claude, town, tmp_path, "touch allowed.marker")
    assert (town.worktree / "allowed.marker").exists()
    assert [result.get("is_error") for result in session.tool_results] == [False]
    [record_path] = town.traces.glob("intent_*.json")
    assert json.loads(record_path.read_text())["verdict"] == "allow"


def test_require_approval_is_not_run_where_nobody_can_be_asked(
    claude: Path, town: Town, tmp_path: Path
) -> None:
    session = run_claude(claude, town, tmp_path, "touch approval.marker")
    assert not (town.worktree / "approval.marker").exists()
    [result] = session.tool_results
    assert result["is_error"] is True
    assert "gait: approval required" in _text(result)


def _break_policy(town: Town) -> None:
    """The policy file becomes a directory: it cannot be read at all."""
    town.policy.unlink()
    town.policy.mkdir()


def _break_gait(town: Town) -> None:
    """The hook's program is gone (an uninstalled plugin): the shell exits 127."""
    settings = json.loads(town.settings.read_text())
    hook = settings["hooks"]["PreToolUse"][0]["hooks"][0]
    hook["command"] = hook["command"].replace("/gait-gastown-hook ", "/gait-removed ", 1)
    town.settings.write_text(json.dumps(settings))


def _break_key_home(town: Town) -> None:
    """GAIT_HOME is a file, so the dev signing key cannot be made: an error inside gait."""
    home = town.root.parent / "gait-home"  # base_env's GAIT_HOME
    shutil.rmtree(home, ignore_errors=True)
    home.write_text("not a directory")


@pytest.mark.parametrize(
    ("breakage", "shown"),
    [
        (_break_policy, "the gate failed closed: read policy"),
        (_break_gait, "gait-removed: not found"),  # the `|| exit 2` guard of the command
        (_break_key_home, "the gate failed closed"),
    ],
    ids=["policy", "program", "internal"],
)
def test_a_crashing_gate_still_blocks(
    claude: Path, town: Town, tmp_path: Path, breakage: Any, shown: str
) -> None:
    breakage(town)
    session = run_claude(claude, town, tmp_path, "touch allowed.marker")
    assert not (town.worktree / "allowed.marker").exists()
    [result] = session.tool_results
    assert result["is_error"] is True
    assert "PreToolUse:Bash hook error" in _text(result)
    assert shown in _text(result)
