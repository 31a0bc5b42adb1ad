"""End-to-end helpers: run the installed `gait` as a user would, in a directory of the test's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CONFORMANCE = SHARED / "conformance"
INTEROP = CONFORMANCE / "interop"
GAIT = Path(sys.executable).parent / "gait"


@attrs.frozen
class Run:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> dict[str, Any]:
        value = json.loads(self.stdout)
        assert isinstance(value, dict)
        return value


RunGait = Callable[..., Run]


@pytest.fixture
def gait(tmp_path: Path) -> RunGait:
    """Run the installed gait in `tmp_path`; installed plugins stay off unless `plugins=` says."""

    def run(
        *args: str,
        cwd: Path | None = None,
        plugins: str | None = "",
        env: Mapping[str, str] | None = None,
        pythonpath: Path | None = None,
    ) -> Run:
        full_env = {k: v for k, v in os.environ.items() if k != "GAIT_PLUGINS"}
        if plugins is not None:
            full_env["GAIT_PLUGINS"] = plugins
        if pythonpath is not None:
            full_env["PYTHONPATH"] = str(pythonpath)
        full_env.update(env or {})
        done = subprocess.run(
            [str(GAIT), *args],
            cwd=cwd or tmp_path,
            env=full_env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        return Run(done.returncode, done.stdout, done.stderr)

    return run
