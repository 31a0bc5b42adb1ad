"""The GitHub lane: the composite action and the workflows pass actionlint, zizmor and the
GitHub schemas; the action's run steps work in a fresh git repository, with gait installed from
this workspace, for a passing and a drifted fixture."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from gait_cli import __version__
from tests.ci_support import (
    ACTION,
    WORKFLOWS,
    drift,
    git_repo,
    load_yaml,
    run_action,
    run_tool,
    workspace_install_command,
)
from tests.conftest import REPO

CONTRACT_SCRIPT = REPO / "scripts" / "gait-ci-contract.sh"
GITHUB_PLUGIN = REPO / "gait-plugins" / "gait-plugin-github" / "src" / "gait_plugin_github"


def _ok(done: subprocess.CompletedProcess[str]) -> None:
    assert done.returncode == 0, done.stdout + done.stderr


def test_zizmor_passes_on_the_action_and_every_workflow() -> None:
    _ok(run_tool("zizmor", "--offline", "--no-progress", str(REPO / ".github")))


def test_actionlint_passes_on_every_workflow() -> None:
    # Run from the repository so that `uses: ./.github/actions/gait-regress` in ci.yml is
    # checked against the action's inputs.
    _ok(run_tool("actionlint", *map(str, sorted(WORKFLOWS.glob("*.yml")))))


def test_actionlint_passes_on_the_action_steps(tmp_path: Path) -> None:
    """actionlint reads workflows only; the action's steps go through it inside a reusable
    workflow whose inputs are the action's, so every expression and run script is checked
    (scripts by shellcheck)."""
    action = load_yaml(ACTION)
    inputs = {
        name: {"type": "string", "required": False, "default": str(field.get("default", ""))}
        for name, field in action["inputs"].items()
    }
    wrapper: dict[str, Any] = {
        "name": "action-steps",
        "on": {"workflow_call": {"inputs": inputs}},
        "permissions": {},
        "jobs": {"steps": {"runs-on": "ubuntu-latest", "steps": action["runs"]["steps"]}},
    }
    folder = tmp_path / ".github" / "workflows"
    folder.mkdir(parents=True)
    (folder / "action-steps.yml").write_text(yaml.safe_dump(wrapper, sort_keys=False))
    _ok(run_tool("actionlint", "action-steps.yml", cwd=folder))
    # The same check with a careless script fails, so shellcheck really ran on the steps.
    wrapper["jobs"]["steps"]["steps"].append({"shell": "bash", "run": "cd $GAIT_DIR && ls"})
    (folder / "action-steps.yml").write_text(yaml.safe_dump(wrapper, sort_keys=False))
    careless = run_tool("actionlint", "action-steps.yml", cwd=folder)
    assert careless.returncode == 1 and "shellcheck" in careless.stdout, careless.stdout


def test_github_schemas_pass() -> None:
    _ok(run_tool("check-jsonschema", "--builtin-schema", "vendor.github-actions", str(ACTION)))
    _ok(
        run_tool(
            "check-jsonschema",
            "--builtin-schema",
            "vendor.github-workflows",
            *map(str, sorted(WORKFLOWS.glob("*.yml"))),
        )
    )


def test_the_schemas_are_vendored_so_they_work_offline(tmp_path: Path) -> None:
    """A wrong file fails: the check really ran (offline, from check-jsonschema's copies)."""
    bad = tmp_path / "action.yml"
    bad.write_text("name: x\nruns:\n  using: composite\n  steps: nope\n")
    done = run_tool("check-jsonschema", "--builtin-schema", "vendor.github-actions", str(bad))
    assert done.returncode == 1, done.stdout


def _uses(path: Path) -> list[str]:
    return re.findall(r"uses: (\S+@[0-9a-f]{40} # v[0-9.]+)", path.read_text())


def test_actions_are_pinned_by_commit_the_same_everywhere() -> None:
    from gait_plugin_github.provider import PINNED_ACTIONS

    files = [ACTION, *sorted(WORKFLOWS.glob("*.yml"))]
    pins = {pin for path in files for pin in _uses(path)}
    assert pins <= set(PINNED_ACTIONS), pins - set(PINNED_ACTIONS)
    for path in files:
        for line in path.read_text().splitlines():
            code = line.split("#", 1)[0]
            if "uses:" in code and "./.github/actions/" not in code:
                assert re.search(r"@[0-9a-f]{40} ", line), f"{path.name}: {line.strip()}"


def _steps_by_name(steps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {step["name"]: step for step in steps}


def test_the_reusable_workflow_runs_the_action_steps() -> None:
    """The reusable workflow cannot use the action by path (the path would be the caller's
    checkout), so it carries the same steps; they must not drift apart."""
    action = _steps_by_name(load_yaml(ACTION)["runs"]["steps"])
    workflow = load_yaml(WORKFLOWS / "gait-regress.yml")
    assert set(workflow[True]) == {"workflow_call"}
    steps = _steps_by_name(workflow["jobs"]["regress"]["steps"])
    for name in ("Install gait", "Run gait ci regress", "Exit with gait's code"):
        assert steps[name]["run"] == action[name]["run"], name
        assert steps[name]["env"] == action[name]["env"], name
    called = workflow[True]["workflow_call"]["inputs"]
    assert set(called) == set(load_yaml(ACTION)["inputs"]) - {"upload_artifacts"}


def test_the_pinned_version_is_this_release() -> None:
    assert load_yaml(ACTION)["inputs"]["version"]["default"] == __version__
    reusable = load_yaml(WORKFLOWS / "gait-regress.yml")
    assert reusable[True]["workflow_call"]["inputs"]["version"]["default"] == __version__
    assert f'GAIT_VERSION="${{GAIT_VERSION:-{__version__}}}"' in CONTRACT_SCRIPT.read_text()


def test_the_action_never_downloads_a_binary() -> None:
    text = ACTION.read_text()
    for word in ("curl", "wget", "releases/download", "checksums.txt"):
        assert word not in text
    assert '"gait-cli==$GAIT_VERSION"' in text


@pytest.fixture
def repo_with_fixture(tmp_path: Path) -> Path:
    """A real git repository whose committed fixture is the demo run (made by the contract)."""
    work = tmp_path / "repo"
    work.mkdir()
    done = subprocess.run(
        [str(REPO / ".venv" / "bin" / "gait"), "ci", "regress", "--fixture", "demo"],
        cwd=work,
        capture_output=True,
        text=True,
        env={"GAIT_PLUGINS": "", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (work / ".gitignore").write_text("gait-out/\n")
    return work


def _run(work: Path, tmp_path: Path, **inputs: str) -> Any:
    return run_action(
        ACTION,
        {"install_command": workspace_install_command(), "python_version": "", **inputs},
        workspace=work,
        runner_temp=tmp_path / "runner_temp",
    )


def test_the_action_passes_a_passing_fixture(repo_with_fixture: Path, tmp_path: Path) -> None:
    work = git_repo(repo_with_fixture)
    run = _run(work, tmp_path)
    assert [s.code for s in run.steps] == [None, 0, 0, None, 0], run.steps
    assert run.outputs["exit_code"] == "0"
    assert run.outputs["status"] == "pass"
    assert run.outputs["artifact_path"] == str(work / "gait-out" / "ci")
    assert run.outputs["summary_path"] == str(work / "gait-out" / "ci" / "summary.md")
    assert run.outputs["junit_path"] == str(work / "gait-out" / "ci" / "junit.xml")
    assert run.step_summary.startswith("## Gait regress: pass (exit 0)")
    assert run.step_summary == (work / "gait-out" / "ci" / "summary.md").read_text() + "\n"
    assert run.exit_code == 0
    assert "::error" not in run.step("run").stderr


def test_the_action_fails_a_drifted_candidate_with_5(
    repo_with_fixture: Path, tmp_path: Path
) -> None:
    drift(repo_with_fixture)
    work = git_repo(repo_with_fixture)
    run = _run(work, tmp_path)
    assert run.outputs["exit_code"] == "5"
    assert run.outputs["status"] == "fail"
    assert run.outputs["top_failure_reason"] == "unexpected_diff"
    assert run.outputs["next_command"] == "gait ci regress --fixture demo"
    assert run.exit_code == 5  # the last step exits with gait's code
    assert [s.code for s in run.steps] == [None, 0, 0, None, 5]
    # The step summary names the failing graders, the top reason and the next command.
    assert "## Gait regress: fail (exit 5)" in run.step_summary
    assert "| `run_demo/diff` | `unexpected_diff` |" in run.step_summary
    assert "`run_demo/trajectory`" in run.step_summary
    assert "Top failure reason: `unexpected_diff`" in run.step_summary
    assert "`gait ci regress --fixture demo`" in run.step_summary
    assert "::error title=Gait regression%3A run_demo/diff::" in run.step("run").stderr
    assert sorted(p.name for p in (work / "gait-out" / "ci").iterdir()) == [
        "junit.xml",
        "regress_result.json",
        "summary.json",
        "summary.md",
    ]


def test_the_action_reports_a_suite_that_cannot_run(tmp_path: Path) -> None:
    work = git_repo(tmp_path / "empty")
    run = _run(work, tmp_path, fixture="")
    assert run.outputs["exit_code"] == "6"
    assert run.outputs["status"] == "error"
    assert "## Gait regress: error (exit 6)" in run.step_summary
    assert "pass --fixture demo" in run.step_summary
    assert run.exit_code == 6


def test_the_action_creates_the_demo_fixture_in_an_empty_repository(tmp_path: Path) -> None:
    work = git_repo(tmp_path / "empty")
    run = _run(work, tmp_path, workdir=".")
    assert run.outputs["exit_code"] == "0"
    assert "Created fixture `run_demo` from `demo`" in run.step_summary
    assert (work / "gait.yaml").is_file()
