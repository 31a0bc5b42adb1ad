"""Against the real Beads CLI, where it is installed (it cannot be fetched on the build machine:
its npm package downloads the binary from GitHub). Skipped when `bd` is not on PATH."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from gait.testing import RunGait

from .conftest import Work, bridge

BD = shutil.which("bd")
pytestmark = pytest.mark.skipif(BD is None, reason="the real bd is not on PATH")


def test_real_bd_files_once(gait: RunGait, work: Work, tmp_path: Path) -> None:
    assert BD is not None
    repo = tmp_path / "repo"
    repo.mkdir()
    env = {"BD_NON_INTERACTIVE": "1", "HOME": str(tmp_path / "home")}
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    subprocess.run(
        [BD, "init", "--prefix", "gt", "--skip-hooks", "--skip-agents", "-q"],
        cwd=repo,
        env={**os.environ, **env},
        check=True,
    )
    args = ["--trace", work.trace("block"), "--decision", work.decision("block")]
    args += ["--public-key", str(work.public_key), "--live", "--json"]
    first = bridge(gait, *args, cwd=repo, env=env)
    assert first.code == 0, first.stdout + first.stderr
    assert first.json["created"] is True and first.json["warnings"] == []
    second = bridge(gait, *args, cwd=repo, env=env)
    assert second.code == 0, second.stdout + second.stderr
    assert second.json["created"] is False
    assert second.json["issue_id"] == first.json["issue_id"]
    listed = subprocess.run(
        [BD, "list", "--all", "--json"],
        cwd=repo,
        env={**os.environ, **env, "BD_JSON_ENVELOPE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    issues = json.loads(listed.stdout)["data"]
    ours = [i for i in issues if i.get("external_ref") == first.json["external_ref"]]
    assert len(ours) == 1
    assert {"gait", "gait-block"} <= set(ours[0].get("labels") or [])
