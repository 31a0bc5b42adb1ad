"""The drop ledger: how many decisions this machine's gait processes could not deliver to the
OTLP endpoint, kept under `$GAIT_HOME/otel/dropped.json` so that `gait doctor` can say so after
the command that dropped them has exited. Every process adds to it under a file lock; remove
the file to start counting again."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from pathlib import Path
from typing import Any, Final

from gait.devkey import gait_home
from gait.errors import GaitError
from gait.fsutil import write_atomic
from gait.timefmt import GoTime

SCHEMA: Final = "gait.otel.dropped"
MAX_ERROR_CHARS: Final = 300


def ledger_path() -> Path:
    return gait_home() / "otel" / "dropped.json"


def read(path: Path | None = None) -> dict[str, Any]:
    """The ledger, or an empty one; a damaged file reads as empty (it is a counter, not
    evidence)."""
    try:
        data = json.loads((path or ledger_path()).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"dropped": 0}
    if not isinstance(data, dict) or not isinstance(data.get("dropped"), int):
        return {"dropped": 0}
    return data


def add(count: int, error: str, endpoint: str, path: Path | None = None) -> None:
    """Add `count` dropped decisions; never raises (a ledger that cannot be written must not
    stop exports)."""
    if count <= 0:
        return
    target = path or ledger_path()
    with contextlib.suppress(OSError, GaitError):  # write_atomic's failures are GaitErrors
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_fd = os.open(target.with_name(target.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX)
            current = read(target)
            record = {
                "schema": SCHEMA,
                "dropped": current["dropped"] + count,
                "last_dropped_at": GoTime.now().format(),
                "last_error": error[:MAX_ERROR_CHARS],
                "endpoint": endpoint,
            }
            data = json.dumps(record, indent=2, sort_keys=True) + "\n"
            write_atomic(target, data.encode("utf-8"))
        finally:
            os.close(lock_fd)
