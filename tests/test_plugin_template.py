"""The plugin template, copied out of the repository, installs into a fresh environment, shows
up in gait, and passes its tests there with only the fixtures of gait-core's pytest plugin
(`gait.testing`): no conftest, nothing of this repository's tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from .conftest import REPO


def _uv() -> str:
    bundled = REPO / ".tools" / "bin" / "uv"
    found = str(bundled) if bundled.exists() else shutil.which("uv")
    if found is None:
        pytest.fail("uv is needed: run `make install` first")
    return found


def test_template_installs_and_is_listed(tmp_path: Path) -> None:
    uv = _uv()
    template = tmp_path / "gait-plugin-example"
    shutil.copytree(
        REPO / "examples" / "plugin-template",
        template,
        ignore=shutil.ignore_patterns("build", "__pycache__", "*.egg-info", ".pytest_cache"),
    )
    assert not list(template.rglob("conftest.py"))
    venv = tmp_path / "venv"
    env = {**os.environ, "VIRTUAL_ENV": str(venv)}
    env.pop("GAIT_PLUGINS", None)
    subprocess.run([uv, "venv", "-q", str(venv)], check=True, env=env)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "-q",
            "--python",
            str(venv / "bin" / "python"),
            "-e",
            str(REPO / "gait-core"),
            "-e",
            str(REPO / "gait-cli"),
            "-e",
            f"{template}[test]",
        ],
        check=True,
        env=env,
    )
    listed = subprocess.run(
        [str(venv / "bin" / "gait"), "plugins", "list", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    plugins = {p["name"]: p for p in json.loads(listed.stdout)["plugins"]}
    assert plugins["example"]["status"] == "loaded"
    assert plugins["example"]["dist"] == "gait-plugin-example"
    assert plugins["example"]["hooks"] == ["gait_commands", "gait_evaluate", "gait_register"]
    assert plugins["example"]["provides"] == ["adapter:example"]
    command = subprocess.run(
        [str(venv / "bin" / "gait"), "example-prefixes", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    assert json.loads(command.stdout) == {"ok": True, "prefixes": ["shell."]}
    run_tests = [str(venv / "bin" / "python"), "-m", "pytest", "-v", "-p", "no:cacheprovider"]
    run_tests += ["-W", "error", "--rootdir", str(template), str(template / "tests")]
    tests = subprocess.run(
        run_tests, capture_output=True, text=True, env=env, cwd=template, check=False
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    # the tests that use the gait runner, key pair and policy writer ran, from the copy
    assert "test_the_installed_gait_blocks_a_denied_tool_with_the_plugin_loaded PASSED" in (
        tests.stdout
    ), tests.stdout
    assert str(REPO) not in tests.stdout
    # ... and their fixtures are gait.testing's: without the plugin they are missing
    without = subprocess.run(
        [*run_tests, "-p", "no:gait"],
        capture_output=True,
        text=True,
        env=env,
        cwd=template,
        check=False,
    )
    assert without.returncode != 0
    assert "fixture 'gait' not found" in without.stdout, without.stdout
