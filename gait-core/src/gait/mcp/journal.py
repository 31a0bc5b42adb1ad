"""Session journals: one append-only JSONL file per session, safe across threads and processes.

The record shapes are the reference's (`gait.runpack.session_journal` header line, then one
`gait.runpack.session_event` line per decision, each wrapped as `{"record_type": ..., ...}`).

An append costs the same whatever the journal's length. Under an exclusive `flock` on the
journal itself, the writer reads the first line (whose run the journal belongs to) and the last
line (the previous sequence number), each with one `pread`, then appends one line with one
`write` on an `O_APPEND` descriptor and `fdatasync`s it before the lock is released. The journal
is never re-read or rewritten. A line torn by a crash (no final newline) is cut off by the next
writer before it appends, so the file only ever holds whole records.

Durability: the event is on disk before the service answers with its sequence number (one
`fdatasync` per append; appends to one journal are serialized by the lock anyway).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from gait import __version__
from gait.errors import InvalidInputError, StateContentionError
from gait.fsutil import writing
from gait.timefmt import GoTime

JOURNAL_SCHEMA: Final = "gait.runpack.session_journal"
EVENT_SCHEMA: Final = "gait.runpack.session_event"
LOCK_TIMEOUT_SECONDS: Final = 2.0
_LOCK_RETRY_SECONDS: Final = 0.005
_HEAD_BYTES: Final = 4096
_TAIL_CHUNK: Final = 8192


def journal_base(session_id: str) -> str:
    """The file-name base of a session: `/`, `\\`, space and `:` become `_`, then `.` and `_`
    are trimmed from both ends (empty: `session`)."""
    value = session_id.strip()
    for char in "/\\ :":
        value = value.replace(char, "_")
    return value.strip("._") or "session"


def _lock(fd: int, path: Path) -> None:
    deadline = time.monotonic() + LOCK_TIMEOUT_SECONDS
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise StateContentionError(f"session journal lock timeout: {path}") from None
            time.sleep(_LOCK_RETRY_SECONDS)


@contextlib.contextmanager
def _locked_journal(path: Path) -> Any:
    """An exclusively locked descriptor of the journal file that is at `path` now (a journal
    removed by retention while we waited is not appended to)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            _lock(fd, path)
            try:
                same = os.stat(path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                yield fd
                return
        finally:
            os.close(fd)


def _first_line(fd: int) -> bytes:
    head = os.pread(fd, _HEAD_BYTES, 0)
    end = head.find(b"\n")
    offset = len(head)
    while end < 0 and len(head) == offset:  # a header longer than one read
        more = os.pread(fd, _HEAD_BYTES, offset)
        if not more:
            break
        head += more
        offset += len(more)
        end = head.find(b"\n")
    return head[:end] if end >= 0 else b""


def _last_line(fd: int, size: int) -> tuple[bytes, int]:
    """The last whole line and the length of the file's whole lines. Reads backwards from the
    end, so it costs one read for any journal length."""
    end = size
    buffer = b""
    while True:
        start = max(end - _TAIL_CHUNK, 0)
        buffer = os.pread(fd, end - start, start) + buffer
        end = start
        last_newline = buffer.rfind(b"\n")
        whole = end + last_newline + 1 if last_newline >= 0 else 0
        if last_newline >= 0:
            previous = buffer.rfind(b"\n", 0, last_newline)
            if previous >= 0 or start == 0:
                return buffer[previous + 1 : last_newline], whole
        elif start == 0:
            return b"", 0


def _record(kind: str, body: Mapping[str, Any]) -> bytes:
    return (
        json.dumps({"record_type": kind, kind: body}, ensure_ascii=False, separators=(",", ":"))
        + "\n"
    ).encode("utf-8")


def _owner(fd: int) -> tuple[str, str] | None:
    try:
        header = json.loads(_first_line(fd))["header"]
        return str(header["session_id"]), str(header["run_id"])
    except (ValueError, KeyError, TypeError):
        return None


def _sequence(line: bytes) -> int:
    try:
        record = json.loads(line)
    except ValueError:
        return 0
    if not isinstance(record, dict) or not isinstance(record.get("event"), dict):
        return 0
    sequence = record["event"].get("sequence", 0)
    return sequence if isinstance(sequence, int) else 0


def append_event(
    session_dir: Path, session_id: str, run_id: str, event: Mapping[str, Any]
) -> tuple[Path, int]:
    """Append one decision event to the session's journal; returns the journal and the event's
    sequence number.

    The journal is `<session_dir>/<base>.journal.jsonl`, or `<base>_<run_id>.journal.jsonl`
    when that one belongs to another run.
    """
    base = journal_base(session_id)
    for path in (
        session_dir / f"{base}.journal.jsonl",
        session_dir / f"{base}_{run_id}.journal.jsonl",
    ):
        appended = _append(path, session_id, run_id, event)
        if appended is not None:
            return path, appended
    raise InvalidInputError("session journal already initialized with different session/run")


def append_to(path: Path, session_id: str, run_id: str, event: Mapping[str, Any]) -> int:
    """Append to the journal at `path` (a client-chosen one); it must be this session's."""
    sequence = _append(path, session_id, run_id, event)
    if sequence is None:
        raise InvalidInputError("session journal already initialized with different session/run")
    return sequence


def _append(path: Path, session_id: str, run_id: str, event: Mapping[str, Any]) -> int | None:
    with writing(path, "session journal"):
        return _append_event(path, session_id, run_id, event)


def _append_event(path: Path, session_id: str, run_id: str, event: Mapping[str, Any]) -> int | None:
    now = GoTime.now().format()
    with _locked_journal(path) as fd:
        size = os.fstat(fd).st_size
        last = b""
        if size:
            last, whole = _last_line(fd, size)
            if whole != size:  # a torn last line: drop it
                os.ftruncate(fd, whole)
                size = whole
        created = size == 0
        if created:
            header = {
                "schema_id": JOURNAL_SCHEMA,
                "schema_version": "1.0.0",
                "created_at": now,
                "producer_version": __version__,
                "session_id": session_id,
                "run_id": run_id,
                "started_at": now,
                "events": [],
            }
            os.write(fd, _record("header", header))
        elif _owner(fd) != (session_id, run_id):
            return None
        sequence = _sequence(last) + 1
        record = {
            "schema_id": EVENT_SCHEMA,
            "schema_version": "1.0.0",
            "created_at": now,
            "producer_version": __version__,
            "session_id": session_id,
            "run_id": run_id,
            "sequence": sequence,
            **event,
        }
        os.write(fd, _record("event", record))
        os.fdatasync(fd)
    if created:
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    return sequence


def read_events(path: Path) -> list[dict[str, Any]]:
    """Every event of a journal, in order (for tests and tools; the service never reads)."""
    events = []
    for line in path.read_bytes().splitlines():
        record = json.loads(line)
        if record.get("record_type") == "event":
            events.append(record["event"])
    return events
