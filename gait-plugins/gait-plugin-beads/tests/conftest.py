"""Fixtures: real signed traces made by the installed `gait`, and a stand-in `bd` on PATH."""

from __future__ import annotations

import json
import os
import shutil
import stat
import sys
from pathlib import Path
from typing import Any

import attrs
import pytest

from gait.testing import RunGait

REPO = Path(__file__).resolve().parents[3]  # the repository (examples, docs, shared data)
HERE = Path(__file__).resolve().parent
QUICKSTART = REPO / "examples" / "quickstart"


def bridge(gait: RunGait, *args: str, cwd: Path, env: dict[str, str] | None = None) -> Any:
    """`gait beads bridge ...` with the beads plugin loaded."""
    return gait("beads", "bridge", *args, cwd=cwd, plugins="beads", env=env)


@attrs.frozen
class Work:
    """A folder with a signing key pair and one signed trace (and decision) per verdict."""

    root: Path
    public_key: Path
    traces: Path

    def trace(self, verdict: str) -> str:
        return str(self.traces / f"{verdict}.json")

    def decision(self, verdict: str) -> str:
        return str(self.root / "decisions" / f"{verdict}.json")


@pytest.fixture
def work(gait: RunGait, tmp_path: Path) -> Work:
    root = tmp_path / "work"
    shutil.copytree(QUICKSTART, root)
    keys = gait("keys", "init", "--out-dir", "keys", cwd=root)
    assert keys.code == 0, keys.stdout + keys.stderr
    (root / "traces").mkdir()
    (root / "decisions").mkdir()
    for name, intent, code in (
        ("block", "intent_delete.json", 3),
        ("require_approval", "intent_write.json", 4),
        ("allow", "intent_read.json", 0),
    ):
        run = gait(
            "gate",
            "eval",
            "--policy",
            "policy.yaml",
            "--intent",
            intent,
            "--key-mode",
            "prod",
            "--private-key",
            "keys/gait_private.key",
            "--trace-out",
            f"traces/{name}.json",
            "--json",
            cwd=root,
        )
        assert run.code == code, run.stdout + run.stderr
        assert run.json["verdict"] == name
        (root / "decisions" / f"{name}.json").write_text(run.stdout)
    return Work(root=root, public_key=root / "keys" / "gait_public.key", traces=root / "traces")


@attrs.frozen
class FakeBd:
    """The stand-in `bd` (tests/fake_bd.py) installed as an executable in its own folder."""

    bin: Path
    state: Path
    log: Path

    @property
    def path(self) -> str:
        return str(self.bin / "bd")

    def env(self, **extra: str) -> dict[str, str]:
        return {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "FAKE_BD_STATE": str(self.state),
            "FAKE_BD_LOG": str(self.log),
            **extra,
        }

    def calls(self) -> list[list[str]]:
        if not self.log.exists():
            return []
        return [json.loads(line)["argv"] for line in self.log.read_text().splitlines()]

    def commands(self) -> list[str]:
        return [argv[0] for argv in self.calls()]

    def issues(self) -> list[dict[str, Any]]:
        return json.loads(self.state.read_text()) if self.state.exists() else []


@pytest.fixture
def fake_bd(tmp_path: Path) -> FakeBd:
    folder = tmp_path / "fake-bd-bin"
    folder.mkdir()
    script = folder / "bd"
    script.write_text(f"#!{sys.executable}\n" + (HERE / "fake_bd.py").read_text())
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return FakeBd(bin=folder, state=tmp_path / "bd-state.json", log=tmp_path / "bd-calls.jsonl")


@pytest.fixture
def no_bd_path(tmp_path: Path) -> dict[str, str]:
    """An environment whose PATH holds no bd at all (not even a real one)."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    return {"PATH": str(empty)}
