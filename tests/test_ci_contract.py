"""`gait ci regress`, the one CI contract, and its copy-paste form scripts/gait-ci-contract.sh:
fixture creation, the four artifacts, exit codes 0/5/6, and the same bytes locally and in CI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.ci_support import BIN, GAIT, UV, drift, run_tool
from tests.conftest import REPO, RunGait

SCRIPT = REPO / "scripts" / "gait-ci-contract.sh"
ARTIFACTS = ("junit.xml", "regress_result.json", "summary.json", "summary.md")


def artifacts(work: Path) -> dict[str, bytes]:
    folder = work / "gait-out" / "ci"
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def test_demo_fixture_passes_and_writes_every_artifact(gait: RunGait, tmp_path: Path) -> None:
    out = gait("ci", "regress", "--fixture", "demo", "--json")
    assert out.code == 0, out.stdout + out.stderr
    data = out.json
    assert data["ok"] is True and data["status"] == "pass" and data["exit_code"] == 0
    assert data["fixture_created"] == "run_demo" and data["graders"] == 4
    assert "error" not in data and "error_code" not in data
    assert sorted(artifacts(tmp_path)) == sorted(ARTIFACTS)
    assert data["artifacts"] == [
        "gait-out/ci/regress_result.json",
        "gait-out/ci/junit.xml",
        "gait-out/ci/summary.md",
        "gait-out/ci/summary.json",
    ]
    summary = json.loads((tmp_path / "gait-out" / "ci" / "summary.json").read_text())
    assert {k: v for k, v in data.items() if k not in ("ok", "correlation_id")} == {
        k: v for k, v in summary.items() if k not in ("error", "error_code", "hint")
    }
    result = json.loads((tmp_path / "gait-out" / "ci" / "regress_result.json").read_text())
    assert result["schema_id"] == "gait.regress.result" and result["status"] == "pass"
    assert (tmp_path / "gait-out" / "ci" / "junit.xml").read_text().startswith("<?xml")
    assert not (tmp_path / "regress_result.json").exists()  # nothing outside gait-out/ci
    # A second run finds the config, so it creates nothing.
    again = gait("ci", "regress", "--fixture", "demo", "--json")
    assert again.code == 0 and again.json["fixture_created"] == ""


def test_text_output(gait: RunGait) -> None:
    out = gait("ci", "regress", "--fixture", "demo")
    assert out.stdout.splitlines()[:2] == [
        "fixture created: run_demo (from demo)",
        "ci regress ok: fixture_set=default graders=4",
    ]


def test_a_drifted_candidate_exits_5_naming_the_graders(gait: RunGait, tmp_path: Path) -> None:
    assert gait("ci", "regress", "--fixture", "demo").code == 0
    drift(tmp_path)
    out = gait("ci", "regress", "--json")
    assert out.code == 5
    data = out.json
    assert data["ok"] is False and data["status"] == "fail" and "error" not in data
    assert data["failed_graders"] == [
        {"name": "run_demo/diff", "reason_codes": ["unexpected_diff"]},
        {
            "name": "run_demo/trajectory",
            "reason_codes": ["unexpected_tool_sequence", "unexpected_verdict_sequence"],
        },
    ]
    assert data["top_failure_reason"] == "unexpected_diff"
    assert data["next_command"] == "gait ci regress"
    markdown = (tmp_path / "gait-out" / "ci" / "summary.md").read_text()
    assert markdown.startswith("## Gait regress: fail (exit 5)\n")
    assert "| `run_demo/diff` | `unexpected_diff` |" in markdown
    assert "- Top failure reason: `unexpected_diff`" in markdown
    junit = (tmp_path / "gait-out" / "ci" / "junit.xml").read_text()
    assert 'failures="2"' in junit
    text = gait("ci", "regress")
    assert "failed: run_demo/diff unexpected_diff" in text.stdout.splitlines()


def test_a_suite_that_cannot_run_keeps_only_its_summary(gait: RunGait, tmp_path: Path) -> None:
    assert gait("ci", "regress", "--fixture", "demo").code == 0
    (tmp_path / "gait.yaml").write_text("{not json or yaml: [")
    out = gait("ci", "regress", "--json")
    assert out.code == 6
    data = out.json
    assert data["status"] == "error" and data["error_code"] == "invalid_input"
    assert data["error_category"] == "invalid_input" and data["retryable"] is False
    assert data["error"].startswith("parse config")
    # The earlier run's result and report are gone: the folder holds one run's files.
    assert sorted(artifacts(tmp_path)) == ["summary.json", "summary.md"]
    markdown = (tmp_path / "gait-out" / "ci" / "summary.md").read_text()
    assert markdown.startswith("## Gait regress: error (exit 6)\n")


def test_missing_config_without_fixture_says_how_to_start(gait: RunGait) -> None:
    out = gait("ci", "regress", "--json")
    assert out.code == 6
    assert "pass --fixture demo" in out.json["hint"]
    assert out.json["next_command"] == "gait ci regress"


def test_fixture_from_a_runpack_path(gait: RunGait) -> None:
    assert gait("demo").code == 0
    out = gait("ci", "regress", "--fixture", "gait-out/runpack_run_demo.zip", "--json")
    assert out.code == 0 and out.json["fixture_created"] == "run_demo"


def test_fixture_cannot_create_another_config(gait: RunGait, tmp_path: Path) -> None:
    out = gait("ci", "regress", "--config", "suite.json", "--fixture", "demo", "--json")
    assert out.code == 6
    assert "cannot create the missing config suite.json" in out.json["error"]
    assert not (tmp_path / "gait.yaml").exists()


def test_the_contract_script_is_posix_sh() -> None:
    done = run_tool("shellcheck", "--shell=sh", str(SCRIPT))
    assert done.returncode == 0, done.stdout
    assert SCRIPT.read_text().startswith("#!/bin/sh\n")


def _contract(work: Path, how: str, ci: bool, extra_env: dict[str, str] | None = None) -> int:
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS", "GAIT_PLUGINS")}
    env.update({"GAIT_PLUGINS": "", "GAIT_HOME": str(work.parent / f"home-{work.name}")})
    if ci:
        env["CI"] = "true"
    env.update(extra_env or {})
    if how == "command":
        argv = [str(GAIT), "ci", "regress", "--fixture", "demo"]
    else:
        env.setdefault("GAIT_BIN", str(GAIT))
        argv = ["sh", str(SCRIPT), "--fixture", "demo"]
    done = subprocess.run(argv, cwd=work, env=env, capture_output=True, text=True, check=False)
    return done.returncode


@pytest.mark.parametrize("drifted", [False, True], ids=["passing", "drifted"])
def test_same_bytes_locally_and_in_ci_from_the_script_and_the_command(
    tmp_path: Path, drifted: bool
) -> None:
    """One repository state, four runs: the command and the script, each locally and with
    CI=true, in their own copies. Every artifact is byte-identical."""
    base = tmp_path / "base"
    base.mkdir()
    assert _contract(base, "command", ci=False) == 0
    if drifted:
        drift(base)
    shutil.rmtree(base / "gait-out")
    expected_code = 5 if drifted else 0
    runs = {}
    for how in ("command", "script"):
        for ci in (False, True):
            work = tmp_path / f"{how}-{'ci' if ci else 'local'}"
            shutil.copytree(base, work)
            assert _contract(work, how, ci) == expected_code, work.name
            runs[work.name] = artifacts(work)
    first = runs["command-local"]
    assert sorted(first) == sorted(ARTIFACTS)
    for name, files in runs.items():
        assert files == first, name


def test_the_script_installs_gait_into_its_venv(tmp_path: Path) -> None:
    """The script's own install path, with gait installed from this workspace instead of the
    index (GAIT_INSTALL_COMMAND), gives the same artifacts as the command."""
    reference = tmp_path / "reference"
    reference.mkdir()
    assert _contract(reference, "command", ci=True) == 0
    work = tmp_path / "work"
    work.mkdir()
    venv = tmp_path / "venv"
    paths = f"{REPO / 'gait-core'} {REPO / 'gait-cli'}"
    install = f'"{UV}" pip install --python "$GAIT_VENV/bin/python" --quiet'
    env = {
        "GAIT_BIN": "",
        "GAIT_VENV": str(venv),
        "GAIT_PYTHON": sys.executable,
        "GAIT_INSTALL_COMMAND": f"{install} --offline {paths} || {install} {paths}",
        "PATH": f"/usr/local/bin:/usr/bin:/bin:{BIN}",
    }
    assert _contract(work, "script", ci=True, extra_env=env) == 0
    assert (venv / "bin" / "gait").is_file()
    assert artifacts(work) == artifacts(reference)


@pytest.mark.parametrize("command", ["regress", "init", "providers"])
def test_ci_commands_have_help_with_json_and_exit_codes(gait: RunGait, command: str) -> None:
    out = gait("ci", command, "--help")
    assert out.code == 0, out.stderr
    assert "--json" in out.stdout and "Exit codes:" in out.stdout
