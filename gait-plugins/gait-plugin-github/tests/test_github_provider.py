"""The GitHub provider inside a real plugin host: the workflow template, and the report of real
contract runs into the files GitHub names (step summary, step outputs) and annotations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from gait_plugin_github import plugin, provider

from gait.ci import CIProvider, ContractOptions, TemplateOptions, installed_providers, run_contract
from gait.plugins import PluginHost


def github() -> CIProvider:
    host = PluginHost()
    host.manager.register(plugin, name="gait-plugin-github:github")
    providers, problems = installed_providers(host)
    assert problems == []
    return providers["github"]


def workflow(options: TemplateOptions) -> dict[Any, Any]:
    data = yaml.safe_load(github().render(options))
    assert isinstance(data, dict)
    return data


def test_the_workflow_installs_the_pinned_gait_and_runs_the_contract() -> None:
    data = workflow(TemplateOptions(gait_version="0.1.0"))
    assert set(data[True]) == {"pull_request", "push", "workflow_dispatch"}  # YAML 1.1 `on`
    assert data["permissions"] == {}
    job = data["jobs"]["regress"]
    assert job["permissions"] == {"contents": "read"}
    runs = [step["run"] for step in job["steps"] if "run" in step]
    assert runs == [
        "python -m pip install --disable-pip-version-check --no-input 'gait-cli==0.1.0' "
        "'gait-plugin-github==0.1.0'",
        "gait ci regress --fixture demo",
    ]
    uses = [step["uses"] for step in job["steps"] if "uses" in step]
    assert [u.split("@")[0] for u in uses] == [
        "actions/checkout",
        "actions/setup-python",
        "actions/upload-artifact",
    ]
    assert all(len(u.split("@")[1]) == 40 for u in uses)  # pinned by commit
    assert job["steps"][0]["with"] == {"persist-credentials": False}
    upload = job["steps"][-1]
    assert upload["if"] == "${{ !cancelled() }}"
    assert upload["with"]["path"] == "gait-out/ci/"


def test_active_only_inside_github_actions() -> None:
    assert provider.active({"GITHUB_ACTIONS": "true"})
    assert not provider.active({"CI": "true"})


def _drift(work: Path) -> None:
    """Make the demo fixture's candidate a different run (the regress docs' example)."""
    run = {"run_id": "run_demo_candidate", "created_at": "2026-02-06T00:00:00Z"}
    record = {
        "run": {**run, "env": {"os": "linux", "arch": "amd64", "runtime": "python"}},
        "intents": [{**run, "intent_id": "intent_1", "tool_name": "tool.write", "args": {}}],
        "results": [{**run, "intent_id": "intent_1", "status": "error", "result": {}}],
        "refs": run,
    }
    (work / "candidate.json").write_text(json.dumps(record))
    subprocess.run(
        [
            str(Path(sys.executable).parent / "gait"),
            "run",
            "record",
            "--input",
            "candidate.json",
            "--out-dir",
            "fixtures/run_demo",
        ],
        cwd=work,
        check=True,
        capture_output=True,
        env={"GAIT_PLUGINS": "", "PATH": "/usr/bin:/bin", "GAIT_HOME": str(work / "home")},
    )
    meta_path = work / "fixtures" / "run_demo" / "fixture.json"
    meta = json.loads(meta_path.read_text())
    meta["candidate_runpack"] = "runpack_run_demo_candidate.zip"
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")


@pytest.fixture
def github_files(tmp_path: Path) -> dict[str, str]:
    files = {"GITHUB_STEP_SUMMARY": tmp_path / "step_summary.md", "GITHUB_OUTPUT": tmp_path / "out"}
    for path in files.values():
        path.write_text("")
    return {"GITHUB_ACTIONS": "true", **{key: str(path) for key, path in files.items()}}


def test_report_of_a_regression(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    github_files: dict[str, str],
) -> None:
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    assert run_contract(ContractOptions(fixture="demo")).exit_code == 0
    _drift(work)
    outcome = run_contract(ContractOptions(fixture="demo"))
    assert outcome.exit_code == 5
    github().report(outcome, github_files)  # type: ignore[misc]
    summary = Path(github_files["GITHUB_STEP_SUMMARY"]).read_text()
    assert summary == outcome.markdown + "\n"
    assert "| `run_demo/trajectory` |" in summary
    outputs = Path(github_files["GITHUB_OUTPUT"]).read_text().splitlines()
    assert outputs == [
        "status=fail",
        "failed=2",
        "top_failure_reason=unexpected_diff",
        "next_command=gait ci regress --fixture demo",
    ]
    errors = capsys.readouterr().err.splitlines()
    assert errors == [
        "::error title=Gait regression%3A run_demo/diff::unexpected_diff. "
        "Reproduce with: gait ci regress --fixture demo",
        "::error title=Gait regression%3A run_demo/trajectory::unexpected_tool_sequence, "
        "unexpected_verdict_sequence. Reproduce with: gait ci regress --fixture demo",
    ]


def test_report_of_a_suite_that_did_not_run(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    github_files: dict[str, str],
) -> None:
    monkeypatch.chdir(tmp_path)
    outcome = run_contract(ContractOptions())
    assert outcome.exit_code == 6
    github().report(outcome, github_files)  # type: ignore[misc]
    assert (
        "## Gait regress: error (exit 6)" in Path(github_files["GITHUB_STEP_SUMMARY"]).read_text()
    )
    assert Path(github_files["GITHUB_OUTPUT"]).read_text().startswith("status=error\n")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("::error title=Gait regress could not run (exit 6)::read config: ")


def test_annotation_values_are_escaped() -> None:
    summary = {
        "status": "error",
        "exit_code": 6,
        "error": "bad 100%\nsecond line",
        "hint": "a, b: c",
    }
    (line,) = provider.annotation_lines(summary)
    assert (
        line
        == "::error title=Gait regress could not run (exit 6)::bad 100%25%0Asecond line. a, b: c"
    )


def test_loading_the_plugin_imports_no_provider() -> None:
    code = (
        "import sys, gait_plugin_github.plugin\n"
        "assert 'gait_plugin_github.provider' not in sys.modules\n"
        "assert 'gait.ci' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_provider_names_its_path_schema_and_commands() -> None:
    assert (provider.PROVIDER.template_path, provider.PROVIDER.schema) == (
        ".github/workflows/gait-regress.yml",
        "vendor.github-workflows",
    )
    commands = provider.PROVIDER.shell_commands
    assert commands is not None
    text = github().render(TemplateOptions(gait_version="0.1.0", fixture=""))
    assert commands(text)[-1] == "gait ci regress"
