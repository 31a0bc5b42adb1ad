"""The default install paths, as users get them: the action and the contract script install the
pinned `gait-cli` (and the action `gait-plugin-github`) with pip. The wheels are built from
this workspace and offered through PIP_FIND_LINKS, as the package index would offer them;
their dependencies come from the index."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gait_cli import __version__
from tests.ci_support import ACTION, UV, git_repo, run_action
from tests.conftest import REPO

SCRIPT = REPO / "scripts" / "gait-ci-contract.sh"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("wheels")
    for package in ("gait-core", "gait-cli", "gait-plugin-github"):
        subprocess.run(
            [str(UV), "build", "-q", "--wheel", "--package", package, "-o", str(folder)],
            cwd=REPO,
            check=True,
        )
    return folder


def test_the_action_installs_the_pinned_packages_with_pip(wheels: Path, tmp_path: Path) -> None:
    work = git_repo(tmp_path / "repo")
    run = run_action(
        ACTION,
        {"python_version": ""},
        workspace=work,
        runner_temp=tmp_path / "runner_temp",
        env={"PIP_FIND_LINKS": str(wheels)},
    )
    install = run.step("install")
    assert install.code == 0, install.stdout + install.stderr
    assert run.outputs["exit_code"] == "0", run.step("run").stdout + run.step("run").stderr
    assert "Created fixture `run_demo` from `demo`" in run.step_summary  # the plugin is there
    venv = tmp_path / "runner_temp" / "gait-venv"
    listed = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    pinned = {f"{name}=={__version__}" for name in ("gait-cli", "gait-core", "gait-plugin-github")}
    assert pinned <= set(listed)


def test_the_script_installs_the_pinned_gait_cli_with_pip(wheels: Path, tmp_path: Path) -> None:
    env = {
        **{k: v for k, v in os.environ.items() if k not in ("GAIT_PLUGINS", "GAIT_BIN")},
        "PIP_FIND_LINKS": str(wheels),
        "GAIT_VENV": str(tmp_path / "venv"),
        "GAIT_PYTHON": sys.executable,
        "GAIT_HOME": str(tmp_path / "home"),
        "CI": "true",
    }
    work = tmp_path / "work"
    work.mkdir()
    done = subprocess.run(
        ["sh", str(SCRIPT), "--fixture", "demo"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "gait ci contract: pass" in done.stdout
    assert (tmp_path / "venv" / "bin" / "gait").is_file()
    # A second run reuses the venv instead of installing again.
    again = subprocess.run(
        ["sh", str(SCRIPT)], cwd=work, env=env, capture_output=True, text=True, check=False
    )
    assert again.returncode == 0 and "installing" not in again.stderr
