"""The hook with a local policy, handed to a warm process (gait_cli.warm): the same answers,
records and exit codes as a cold hook; a warm process that fails is a deny."""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.warm_support import run_measured, stop_servers, wait_for_server, warm_env

from .conftest import POLECAT, claude_event


@pytest.fixture
def runtime() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="gait-warm-", dir="/tmp"))  # short: a socket's path
    yield folder
    stop_servers(folder)
    shutil.rmtree(folder)


def test_warm_decisions_equal_cold_ones(runtime: Path, policy: Path, tmp_path: Path) -> None:
    env = warm_env(runtime, GAIT_PLUGINS="gastown", GAIT_HOME=str(tmp_path / "home"), **POLECAT)
    argv = ("gastown", "hook", "--policy", str(policy))
    first = run_measured(argv, cwd=tmp_path, env=env, stdin=json.dumps(claude_event("ls")).encode())
    assert first.code == 0 and not first.handed_over
    wait_for_server(runtime)
    (tmp_path / "warm").mkdir()
    (tmp_path / "cold").mkdir()
    for command in ("ls", "touch blocked.marker", "touch approval.marker"):
        event = json.dumps(claude_event(command)).encode()
        warm = run_measured(argv, cwd=tmp_path / "warm", env=env, stdin=event)
        cold_env = {**env, "GAIT_WARM": "0"}
        cold = run_measured(argv, cwd=tmp_path / "cold", env=cold_env, stdin=event)
        assert warm.handed_over and not cold.handed_over
        assert (warm.code, warm.stdout, warm.stderr) == (cold.code, cold.stdout, cold.stderr)
    out = Path("gait-out/integrations/gastown")
    for start in ("warm", "cold"):  # a signed trace and an intent record per call, in its folder
        for kind in ("trace", "intent"):
            assert len(list((tmp_path / start / out).glob(f"{kind}_*.json"))) == 3
