"""The reference's two JSONL decision exports (integrations.md §2.2-§2.3): the lines and the
locked append.

- `log_line`: the JSONL log (`--export-log-out`), keys in the reference's order, empty optional
  keys left out.
- `otel_line`: the "OTEL-style" line (`--export-otel-out`): a flat object with sorted keys, not
  an OTLP envelope (gait-plugin-otel speaks real OTLP).
- `append_line`: one whole line per call. The file is created with mode 0600 (parent folders
  0750) and fsynced after every append (its folder too when the file was created). Writers in
  other processes, the reference's included, are kept apart by its lock protocol
  (`gait.fsutil.lock_file`): the lock is the exclusive creation of `<file>.lock`, retried every
  10 ms for up to 30 s, and a lock older than 2 minutes is taken as left by a dead writer and
  removed. Threads of one process append as a group: the first takes the lock and writes every
  line waiting, with one fsync for all.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final

from gait.errors import InvalidInputError, write_failure
from gait.exports import (
    DecisionEvent,
    Exporter,
    ExporterStats,
    check_export_path,
)
from gait.fsutil import lock_file
from gait.gostrings import go_json_text

LOCK_RETRY_SECONDS: Final = 0.01
LOCK_TIMEOUT_SECONDS: Final = 30.0
STALE_LOCK_SECONDS: Final = 120.0
GATE_BODY: Final = "gait.gate.decision"
MCP_BODY: Final = "gait.mcp.proxy.decision"


def _go_json(value: Mapping[str, Any], *, sort_keys: bool) -> bytes:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    return (go_json_text(text) + "\n").encode("utf-8")


def log_line(event: DecisionEvent) -> bytes:
    line: dict[str, Any] = {
        "created_at": event.created_at.format(),
        "producer_version": event.producer_version,
        "run_id": event.run_id,
    }
    if event.session_id:
        line["session_id"] = event.session_id
    line["trace_id"] = event.trace_id
    if event.trace_path:
        line["trace_path"] = event.trace_path
    line["tool_name"] = event.tool_name
    line["verdict"] = event.verdict
    if event.reason_codes:
        line["reason_codes"] = list(event.reason_codes)
    line["policy_digest"] = event.policy_digest
    line["intent_digest"] = event.intent_digest
    if event.decision_latency_ms:
        line["decision_latency_ms"] = event.decision_latency_ms
    if event.delegation_ref:
        line["delegation_ref"] = event.delegation_ref
    if event.delegation_depth:
        line["delegation_depth"] = event.delegation_depth
    return _go_json(line, sort_keys=False)


def otel_line(event: DecisionEvent) -> bytes:
    attributes = {
        "gait.run_id": event.run_id,
        "gait.session_id": event.session_id,
        "gait.trace_path": event.trace_path,
        "gait.tool_name": event.tool_name,
        "gait.verdict": event.verdict,
        "gait.policy_digest": event.policy_digest,
        "gait.intent_digest": event.intent_digest,
        "gait.decision_latency_ms": event.decision_latency_ms,
        "gait.delegation_ref": event.delegation_ref,
        "gait.delegation_depth": event.delegation_depth,
        "gait.reason_codes": list(event.reason_codes) or None,
    }
    line = {
        "time_unix_nano": event.created_at.unix_nanos(),
        "severity_text": "INFO",
        "body": GATE_BODY if event.source == "gate.eval" else MCP_BODY,
        "trace_id": event.trace_id,
        "attributes": attributes,
    }
    return _go_json(line, sort_keys=True)


# ---- the locked append -------------------------------------------------------------------------


class _Pending:
    __slots__ = ("data", "done", "error")

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.done = False
        self.error: Exception | None = None


class LockedAppender:
    """Appends whole lines to one file; see the module docstring for the protocol."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock_path = path.with_name(path.name + ".lock")
        self._cond = threading.Condition()
        self._waiting: list[_Pending] = []
        self._writing = False

    def append(self, data: bytes) -> None:
        """Append `data` (whole lines) and return once it is on disk; raises GaitError."""
        item = _Pending(data)
        with self._cond:
            self._waiting.append(item)
            while not item.done:
                if self._writing:
                    self._cond.wait()
                    continue
                self._writing = True
                batch, self._waiting = self._waiting, []
                error: Exception | None = None
                self._cond.release()
                try:
                    self._write(b"".join(pending.data for pending in batch))
                except Exception as exc:
                    error = exc
                except BaseException:
                    error = InvalidInputError(f"append export {self.path}: interrupted")
                    raise
                finally:
                    self._cond.acquire()
                    self._writing = False
                    for pending in batch:
                        pending.done, pending.error = True, error
                    self._cond.notify_all()
        if item.error is not None:
            # A copy for each waiting writer (a raised exception collects its traceback), with
            # the category and hint of the original.
            raise copy.copy(item.error)

    def _write(self, data: bytes) -> None:
        try:
            self.path.parent.mkdir(mode=0o750, parents=True, exist_ok=True)
            with lock_file(
                self.lock_path,
                timeout=LOCK_TIMEOUT_SECONDS,
                stale_after=STALE_LOCK_SECONDS,
                retry=LOCK_RETRY_SECONDS,
                what="append",
            ):
                self._append(data)
        except OSError as exc:
            raise write_failure(self.path, exc, doing="append export") from None

    def _append(self, data: bytes) -> None:
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags | os.O_EXCL, 0o600)
            created = True
        except FileExistsError:
            fd = os.open(self.path, flags, 0o600)
            created = False
        start = -1
        try:
            start = os.fstat(fd).st_size  # under the lock: no other writer moves the end
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        except OSError:
            # Lines cut short (a disk that filled up mid-write) would glue themselves to the
            # next writer's line: take them back, and the file too when this append made it.
            with contextlib.suppress(OSError):
                if created:
                    os.unlink(self.path)
                elif start >= 0:
                    os.ftruncate(fd, start)
            raise
        finally:
            os.close(fd)
        if created:
            folder = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)


_APPENDERS: dict[Path, LockedAppender] = {}
_APPENDERS_LOCK = threading.Lock()


def appender(path: Path) -> LockedAppender:
    """The one appender of `path` in this process (threads share its group commit)."""
    key = Path(os.path.abspath(path))
    with _APPENDERS_LOCK:
        found = _APPENDERS.get(key)
        if found is None:
            found = _APPENDERS[key] = LockedAppender(key)
        return found


def append_line(path: Path, line: bytes) -> None:
    appender(path).append(line)


# ---- the built-in exporters ---------------------------------------------------------------------


class JsonlExporter:
    """A built-in file exporter: each decision becomes one line of `path`, written before the
    command answers."""

    def __init__(self, path: Path, line: Callable[[DecisionEvent], bytes]) -> None:
        self.path = path
        self._line = line
        self._appender = appender(path)
        self._count_lock = threading.Lock()
        self._exported = 0

    def export(self, event: DecisionEvent) -> None:
        self._appender.append(self._line(event))
        with self._count_lock:
            self._exported += 1

    def stats(self) -> ExporterStats:
        return ExporterStats(exported=self._exported)

    def close(self, timeout: float) -> None:
        """Every line is on disk when `export` returns: nothing is pending."""


def _factory(flag: str, line: Callable[[DecisionEvent], bytes]) -> Any:
    def build(options: Mapping[str, str]) -> JsonlExporter:
        path = options.get("path", "")
        if not path:
            raise InvalidInputError(f"this exporter writes a file: use {flag} FILE")
        return JsonlExporter(check_export_path(path), line)

    return build


BUILTIN_EXPORTERS: Final = (
    Exporter(
        name="jsonl-log",
        factory=_factory("--export-log-out", log_line),
        description="one JSON line per decision (--export-log-out FILE)",
        fail_closed=True,
    ),
    Exporter(
        name="jsonl-otel",
        factory=_factory("--export-otel-out", otel_line),
        description="one OTEL-style JSON line per decision (--export-otel-out FILE)",
        fail_closed=True,
    ),
)
