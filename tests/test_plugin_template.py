"""The plugin template installs into a fresh environment, shows up in gait, and passes its tests."""

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
            f"{REPO / 'examples' / 'plugin-template'}[test]",
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
    tests = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            str(REPO / "examples" / "plugin-template" / "tests"),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
