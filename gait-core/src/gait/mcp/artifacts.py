"""The files a decision leaves: names (run ids, UTC timestamps), durable new files written many
at a time (`write_new`, group-commit directory fsync), stale temporaries, and the one-decision
runpack (integrations.md §1.5 step 15). Used by the pipeline's persist stage (gait.pipeline) and
the service's trace writer (gait.mcp.groupwrite).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Final

from gait import __version__
from gait.errors import InvalidInputError
from gait.fsutil import writing
from gait.gostrings import go_trim_space

if TYPE_CHECKING:
    from gait.contracts.trace import TraceRecord
    from gait.gate import GateOutcome
    from gait.keys import SigningKey

_RUN_ID_JUNK: Final = re.compile(r"[^A-Za-z0-9_-]+")


def normalize_run_id(raw: str) -> str:
    """`"my run id"` -> `run_my_run_id`; empty stays empty."""
    value = _RUN_ID_JUNK.sub("_", go_trim_space(raw)).strip("_")
    if not value:
        return ""
    return value if value.startswith("run_") else "run_" + value


def timestamp_ns(now_ns: int | None = None) -> str:
    """UTC `YYYYMMDDTHHMMSS.nnnnnnnnn`, the reference's artifact-name timestamp."""
    ns = time.time_ns() if now_ns is None else now_ns
    seconds, nanos = divmod(ns, 1_000_000_000)
    return time.strftime("%Y%m%dT%H%M%S", time.gmtime(seconds)) + f".{nanos:09d}"


def check_output_path(path: Path, what: str) -> Path:
    """A relative artifact path may not leave the working directory."""
    if not path.is_absolute() and ".." in path.parts:
        raise InvalidInputError(f"relative {what} path must not traverse parent directories")
    return path


class DirectorySync:
    """Group commit of a directory's fsync: one fsync makes durable every name linked into the
    directory before it started, so concurrent writers share it instead of queueing for one
    each."""

    def __init__(self, directory: Path) -> None:
        self.fd = os.open(directory, os.O_RDONLY)
        self._cond = threading.Condition()
        self._requested = 0
        self._done = 0
        self._running = False

    def sync(self) -> None:
        with self._cond:
            self._requested += 1
            ticket = self._requested  # our link happened before this point
            while self._done < ticket:
                if self._running:
                    self._cond.wait()
                    continue
                self._running = True
                covered = self._requested
                self._cond.release()
                try:
                    os.fsync(self.fd)
                finally:
                    self._cond.acquire()
                    self._running = False
                    self._cond.notify_all()
                self._done = max(self._done, covered)


_SYNCS: dict[Path, DirectorySync] = {}
_SYNCS_LOCK = threading.Lock()
_SEQUENCE = itertools.count()


def _directory_sync(directory: Path) -> DirectorySync:
    sync = _SYNCS.get(directory)
    if sync is None:
        with _SYNCS_LOCK:
            sync = _SYNCS.setdefault(directory, DirectorySync(directory))
    return sync


def remove_stale_temporaries(directory: Path) -> int:
    """Remove the temporary files of writers that are gone (a SIGKILLed server leaves the one it
    was writing); a temporary file names its writer's process id."""
    removed = 0
    try:
        entries = list(os.scandir(directory))
    except OSError:
        return 0
    for entry in entries:
        match = _TEMPORARY.match(entry.name)
        if match is None or _alive(int(match.group(1))):
            continue
        with contextlib.suppress(FileNotFoundError):
            os.unlink(entry.path)
            removed += 1
    return removed


_TEMPORARY: Final = re.compile(r"^\.[\w-]*?(\d+)\.\d+\.tmp$")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process nobody has reaped yet is gone too
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def write_new(directory: Path, prefix: str, suffix: str, data: bytes) -> Path:
    """Write `data` under a new `<prefix><UTC time><suffix>` name in `directory`, atomically and
    durably: the data goes into a file with no name yet (O_TMPFILE; where that is missing, a
    temporary name), is `fdatasync`ed, then linked to its name (a name taken by another writer,
    thread or process, moves to the next nanosecond), and the directory is fsynced with the
    other writers of the moment. A reader, or a crash, sees the whole file or none (mode 0600).
    """
    sync = _directory_sync(directory)
    try:
        fd = os.open(directory, _TMPFILE_FLAGS, 0o600)
        tmp = None
    except OSError:  # no O_TMPFILE (other systems, some file systems)
        tmp = directory / f".{prefix}{os.getpid()}.{next(_SEQUENCE)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fdatasync(fd)
        source = f"/proc/self/fd/{fd}" if tmp is None else tmp
        now = time.time_ns()
        while True:
            path = directory / f"{prefix}{timestamp_ns(now)}{suffix}"
            try:
                # linkat(AT_SYMLINK_FOLLOW) gives the unnamed file its name; a directory fd
                # makes os.link call linkat rather than link.
                os.link(source, path, src_dir_fd=sync.fd, follow_symlinks=True)
            except FileExistsError:
                now += 1
                continue
            break
    finally:
        os.close(fd)
        if tmp is not None:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    sync.sync()
    return path


_TMPFILE_FLAGS: Final = getattr(os, "O_TMPFILE", 0) | os.O_WRONLY | os.O_CLOEXEC


def write_runpack(
    path: Path, run_id: str, outcome: GateOutcome, trace: TraceRecord, key: SigningKey
) -> Path:
    """The one-decision runpack of §1.5 step 15, in reference capture mode (digests only)."""
    from gait.canonical import digest
    from gait.runpack.record import RecordInput, build_runpack
    from gait.runpack.zipio import write_runpack_zip

    check_output_path(path, "runpack output")
    intent = outcome.decision.evaluation.intent
    assert intent is not None
    created = trace.created_at.format()
    result = {
        "verdict": outcome.verdict,
        "reason_codes": list(outcome.reason_codes),
        "violations": list(outcome.violations),
        "trace_id": trace.trace_id,
    }
    common = {"created_at": created, "producer_version": __version__, "run_id": run_id}
    source = RecordInput.from_json(
        {
            "run": {
                **common,
                "timeline": [
                    {"event": "proxy_eval_start", "ts": created},
                    {"event": "proxy_eval_finish", "ts": created},
                ],
            },
            "intents": [
                {
                    **common,
                    "intent_id": "intent_1",
                    "tool_name": intent.tool_name,
                    "args_digest": intent.args_digest,
                }
            ],
            "results": [
                {
                    **common,
                    "intent_id": "intent_1",
                    "status": "ok" if outcome.verdict in ("allow", "dry_run") else "error",
                    "result_digest": digest(result),
                }
            ],
            "refs": {**common, "receipts": []},
        }
    )
    built = build_runpack(source, capture_mode="reference", signing_key=key)
    if path.parent != Path():
        with writing(path, "runpack"):
            os.makedirs(path.parent, mode=0o750, exist_ok=True)
    write_runpack_zip(path, built.members)
    return path
