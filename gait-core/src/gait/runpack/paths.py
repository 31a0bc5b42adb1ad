"""Where runpacks are found: a path, or a run_id looked up in the usual directories."""

from __future__ import annotations

from pathlib import Path

from gait.devkey import gait_home
from gait.errors import InvalidInputError

DEFAULT_OUT_DIR = Path("gait-out")


def runpack_file_name(run_id: str) -> str:
    return f"runpack_{run_id}.zip"


def resolve_runpack(value: str) -> Path:
    """A value with a path separator or a `.zip` suffix is a path and must be an existing file;
    anything else is a run_id, looked up as `./gait-out/runpack_<id>.zip`, then under
    `$GAIT_HOME/runpacks/` (default `~/.gait/runpacks/`). InvalidInputError when not found."""
    if not value:
        raise InvalidInputError("missing run_id or path")
    if "/" in value or "\\" in value or value.lower().endswith(".zip"):
        path = Path(value)
        if not path.is_file():
            if path.exists():  # a FIFO, device, socket or folder
                raise InvalidInputError(f"runpack {value} is not a regular file")
            raise InvalidInputError(f"runpack not found: {value}")
        return path
    for candidate in (
        DEFAULT_OUT_DIR / runpack_file_name(value),
        gait_home() / "runpacks" / runpack_file_name(value),
    ):
        if candidate.is_file():
            return candidate
    raise InvalidInputError(f"runpack not found for run_id: {value}")
