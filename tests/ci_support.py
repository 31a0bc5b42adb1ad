"""Helpers of the CI-lane tests: a drifted candidate, the `run` steps of a GitHub composite
action executed as a GitHub runner executes them, and the shell commands of CI templates."""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml

from gait.ci import CIProvider, installed_providers
from gait.plugin_discovery import gait_entry_points
from gait.plugins import PluginHost
from tests.conftest import REPO

BIN = Path(sys.executable).parent
GAIT = BIN / "gait"
UV = REPO / ".tools" / "bin" / "uv"
ACTION = REPO / ".github" / "actions" / "gait-regress" / "action.yml"
WORKFLOWS = REPO / ".github" / "workflows"


def tool_env(**extra: str) -> dict[str, str]:
    """The environment for actionlint, zizmor and friends: this venv first on PATH (shellcheck
    comes from it), no GitHub token (zizmor stays offline), installed gait plugins off."""
    env = {k: v for k, v in os.environ.items() if k not in ("GH_TOKEN", "GITHUB_TOKEN")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["GAIT_PLUGINS"] = ""
    env.update(extra)
    return env


def run_tool(*argv: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / argv[0]), *argv[1:]],
        cwd=cwd,
        env=tool_env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def load_yaml(path: Path) -> dict[Any, Any]:
    data = yaml.safe_load(path.read_text())
    assert isinstance(data, dict)
    return data


def drift(work: Path, env: Mapping[str, str] | None = None) -> None:
    """Record a candidate run that does something else (it writes where the demo searched, and
    fails) and point the run_demo fixture at it, as docs/regress.md shows."""
    run = {"run_id": "run_demo_candidate", "created_at": "2026-02-06T00:00:00Z"}
    record = {
        "run": {**run, "env": {"os": "linux", "arch": "amd64", "runtime": "python"}},
        "intents": [
            {**run, "intent_id": "intent_1", "tool_name": "tool.write", "args": {"path": "x"}}
        ],
        "results": [{**run, "intent_id": "intent_1", "status": "error", "result": {"ok": False}}],
        "refs": run,
    }
    (work / "candidate.json").write_text(json.dumps(record, indent=2))
    subprocess.run(
        [str(GAIT), "run", "record", "--input", "candidate.json", "--out-dir", "fixtures/run_demo"],
        cwd=work,
        env={**tool_env(), **(env or {})},
        check=True,
        capture_output=True,
    )
    (work / "candidate.json").unlink()
    meta_path = work / "fixtures" / "run_demo" / "fixture.json"
    meta = json.loads(meta_path.read_text())
    meta["candidate_runpack"] = "runpack_run_demo_candidate.zip"
    meta_path.write_text(json.dumps(meta, indent=2) + "\n")


def git_repo(path: Path) -> Path:
    """A real git repository with one commit of whatever `path` holds."""
    path.mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "gait tests",
        "GIT_AUTHOR_EMAIL": "tests@gait.invalid",
        "GIT_COMMITTER_NAME": "gait tests",
        "GIT_COMMITTER_EMAIL": "tests@gait.invalid",
    }
    subprocess.run(["git", "init", "-q", "-b", "main", str(path)], check=True, env=env)
    subprocess.run(["git", "add", "-A"], cwd=path, check=True, env=env)
    subprocess.run(
        ["git", "commit", "-q", "--allow-empty", "-m", "fixtures"], cwd=path, check=True, env=env
    )
    return path


def workspace_install_command() -> str:
    """An `install_command` that installs gait (core, cli, the GitHub plugin) from this
    workspace into $GAIT_VENV instead of from the package index."""
    paths = " ".join(
        str(REPO / p) for p in ("gait-core", "gait-cli", "gait-plugins/gait-plugin-github")
    )
    install = f'"{UV}" pip install --python "$GAIT_VENV/bin/python" --quiet'
    return f"{install} --offline {paths} || {install} {paths}"


# --- a GitHub runner for the run steps of a composite action ------------------------------

_EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


@attrs.frozen
class StepRun:
    id: str
    name: str
    code: int | None  # None: skipped (a `uses` step, which needs GitHub itself)
    stdout: str = ""
    stderr: str = ""


@attrs.frozen
class ActionRun:
    steps: list[StepRun]
    outputs: dict[str, str]
    step_summary: str

    @property
    def exit_code(self) -> int:
        """The action's result: the first failing step's code, as GitHub fails the step."""
        return next((s.code for s in self.steps if s.code), 0)

    def step(self, step_id: str) -> StepRun:
        return next(s for s in self.steps if s.id == step_id)


def _parse_outputs(text: str) -> dict[str, str]:
    """GITHUB_OUTPUT: `key=value` lines and `key<<DELIMITER` blocks."""
    outputs: dict[str, str] = {}
    lines = iter(text.splitlines())
    for line in lines:
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            key, delimiter = line.split("<<", 1)
            block = []
            for body in lines:
                if body == delimiter:
                    break
                block.append(body)
            outputs[key] = "\n".join(block)
        elif "=" in line:
            key, value = line.split("=", 1)
            outputs[key] = value
    return outputs


def run_action(
    action: Path,
    inputs: Mapping[str, str],
    *,
    workspace: Path,
    runner_temp: Path,
    env: Mapping[str, str] | None = None,
) -> ActionRun:
    """Execute the `run` steps of a composite action as a GitHub runner does: bash with
    `--noprofile --norc -eo pipefail`, the step's `env` and `working-directory` with their
    expressions evaluated, a fresh GITHUB_OUTPUT per step whose values feed
    `steps.<id>.outputs`, and GITHUB_STEP_SUMMARY. `uses` steps are skipped (they need GitHub);
    an expression other than inputs/steps/always() is an error, not a guess."""
    spec = load_yaml(action)
    values = {name: str(field.get("default", "")) for name, field in spec["inputs"].items()}
    unknown = set(inputs) - set(values)
    assert not unknown, f"not inputs of the action: {unknown}"
    values.update(inputs)
    step_outputs: dict[str, dict[str, str]] = {}

    def evaluate(expression: str) -> str:
        if match := re.fullmatch(r"inputs\.([A-Za-z0-9_-]+)", expression):
            return values[match.group(1)]
        if match := re.fullmatch(r"steps\.([A-Za-z0-9_-]+)\.outputs\.([A-Za-z0-9_-]+)", expression):
            return step_outputs.get(match.group(1), {}).get(match.group(2), "")
        raise AssertionError(f"expression not supported by the test runner: {expression}")

    def substitute(text: str) -> str:
        return _EXPRESSION.sub(lambda m: evaluate(m.group(1)), str(text))

    runner_temp.mkdir(parents=True, exist_ok=True)
    summary_parts: list[str] = []
    results: list[StepRun] = []
    for index, step in enumerate(spec["runs"]["steps"]):
        step_id = step.get("id", f"step{index}")
        if "uses" in step:
            results.append(StepRun(step_id, step.get("name", ""), None))
            continue
        condition = step.get("if", "success()")
        failed = any(r.code for r in results)
        if condition not in ("always()", "success()"):
            raise AssertionError(f"condition not supported by the test runner: {condition}")
        if failed and condition == "success()":
            results.append(StepRun(step_id, step.get("name", ""), None))
            continue
        assert step.get("shell") == "bash", "composite run steps name their shell"
        output_file = runner_temp / f"output_{index}"
        summary_file = runner_temp / f"summary_{index}"
        output_file.write_text("")
        summary_file.write_text("")
        script = runner_temp / f"step_{index}.sh"
        script.write_text(step["run"])
        step_env = {
            **{k: v for k, v in os.environ.items() if k != "GAIT_PLUGINS"},
            **(env or {}),
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_WORKSPACE": str(workspace),
            "RUNNER_TEMP": str(runner_temp),
            "GITHUB_OUTPUT": str(output_file),
            "GITHUB_STEP_SUMMARY": str(summary_file),
            **{key: substitute(value) for key, value in step.get("env", {}).items()},
        }
        cwd = workspace / substitute(step.get("working-directory", "."))
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
            cwd=cwd,
            env=step_env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        step_outputs[step_id] = _parse_outputs(output_file.read_text())
        summary_parts.append(summary_file.read_text())
        results.append(StepRun(step_id, step["name"], done.returncode, done.stdout, done.stderr))
    outputs = {name: substitute(field["value"]) for name, field in spec["outputs"].items()}
    return ActionRun(results, outputs, "".join(summary_parts))


# --- the shell commands of provider templates ----------------------------------------------


def jenkins_blocks(text: str) -> dict[str, Any]:
    """The block structure of a Jenkinsfile, as nested dicts keyed by block header
    (`pipeline`, `stage('Gait regress')`, ...), with each block's statements under "".
    Comments and strings are honoured; braces must balance."""
    root: dict[str, Any] = {"": []}
    stack = [root]
    statement = ""
    i = 0
    while i < len(text):
        if text.startswith("//", i):
            i = text.index("\n", i)
            continue
        if text.startswith("'''", i):
            end = text.index("'''", i + 3) + 3
            statement += text[i:end]
            i = end
            continue
        char = text[i]
        if char in "'\"":
            end = text.index(char, i + 1) + 1
            statement += text[i:end]
            i = end
            continue
        if char == "{":
            block: dict[str, Any] = {"": []}
            stack[-1][statement.strip()] = block
            stack.append(block)
            statement = ""
        elif char == "}":
            if statement.strip():
                stack[-1][""].append(statement.strip())
            statement = ""
            stack.pop()
            assert stack, "unbalanced }"
        elif char == "\n":
            if statement.strip():
                stack[-1][""].append(statement.strip())
            statement = ""
        else:
            statement += char
        i += 1
    assert len(stack) == 1, "unbalanced {"
    return root


@functools.cache
def ci_providers() -> dict[str, tuple[CIProvider, str]]:
    """Every CI provider of the installed plugins: (provider, the plugin's entry-point name),
    so the CI-lane tests cover a new provider plugin without a table of their own."""
    host = PluginHost()
    for ep in gait_entry_points():
        host.load_entry_point(ep)
    providers, problems = installed_providers(host)
    assert problems == [], problems
    owners = dict(host.registry().owned_by_kind("ci_provider"))
    return {name: (p, owners[name].rpartition(":")[2]) for name, p in providers.items()}


def template_commands(provider: str, text: str) -> list[str]:
    """Every shell command line a provider template runs, in order (the provider says which:
    `CIProvider.shell_commands`)."""
    found = ci_providers()[provider][0].shell_commands
    assert found is not None, f"the {provider} provider does not list its shell commands"
    return found(text)
