"""The Beads sink for long-running services: file an issue per non-allow decision, in the
background, so that no verdict ever waits for `bd`.

A service gets it as the sink `beads` (`registry.add_sink` in the plugin's `gait_register`,
selected with `gait mcp serve --bridge beads`) and hands it each decision after the trace is
written:

    sink = host.sinks()["beads"].factory(verify_key=signer_public_key)
    if not sink.available:
        warn("bd is not on PATH: no Beads issues will be filed")
    ...
    sink.submit(trace_path, decision=response_body)   # returns at once, never raises
    ...
    sink.close(timeout=5)                              # on shutdown: finish what is queued

Each queued trace is read, its signature verified (with `verify_key`, else this machine's dev
key), summarized exactly as `gait beads bridge --live` does it (reason codes from `decision`),
looked up by its external ref `gait:<trace_id>` and created only when no issue has it. A
trace id filed once by a sink is not looked up again. Outcomes are kept in `results` (the
latest `keep_results`) and passed to `on_result`; failures never leave the sink.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs

from gait.keys import VerifyKey
from gait_plugin_beads.bd import DEFAULT_TIMEOUT, BdClient, default_bd
from gait_plugin_beads.summary import check_signature, decision_from_json, summarize


@attrs.frozen(kw_only=True)
class SinkResult:
    """What happened to one submitted trace."""

    trace_path: str
    trace_id: str = ""
    issue_id: str = ""
    created: bool = False
    skipped: str = ""  # why nothing was filed on purpose (verdict allow, already filed)
    error: str = ""
    warnings: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.error


class BeadsSink:
    """A queue and one worker thread in front of `bd`."""

    name = "beads"

    def __init__(
        self,
        *,
        bd: str | None = None,
        verify_key: VerifyKey | None = None,
        cwd: str | None = None,
        env: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_pending: int = 256,
        keep_results: int = 256,
        on_result: Callable[[SinkResult], None] | None = None,
    ) -> None:
        self.client = BdClient(bd or default_bd(), cwd=cwd, env=env, timeout=timeout)
        self.verify_key = verify_key
        self.max_pending = max_pending
        self.on_result = on_result
        self._results: collections.deque[SinkResult] = collections.deque(maxlen=keep_results)
        self._queue: collections.deque[tuple[str, Mapping[str, Any] | None]] = collections.deque()
        self._pending = 0
        self._closed = False
        self._filed: dict[str, str] = {}
        self._dev_key_loaded = False
        self._condition = threading.Condition()
        self._worker: threading.Thread | None = None

    @property
    def available(self) -> bool:
        """Whether `bd` can be found; without it every submitted trace ends as an error."""
        return self.client.available

    @property
    def results(self) -> list[SinkResult]:
        with self._condition:
            return list(self._results)

    def submit(
        self, trace_path: str | os.PathLike[str], decision: Mapping[str, Any] | None = None
    ) -> bool:
        """Queue a trace; returns at once. False when it was not queued: its decision says
        allow, the sink is closed, or `max_pending` traces are already waiting (recorded)."""
        path = os.fspath(trace_path)
        if decision is not None and decision.get("verdict") == "allow":
            return False
        with self._condition:
            if self._closed:
                return False
            if self._pending >= self.max_pending:
                dropped = SinkResult(
                    trace_path=path, error=f"dropped: {self.max_pending} traces already queued"
                )
                self._results.append(dropped)
            else:
                self._pending += 1
                self._queue.append((path, dict(decision) if decision is not None else None))
                self._condition.notify_all()
                self._start()
                return True
        self._report(dropped)
        return False

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything queued has been handled; False if `timeout` ran out first."""
        with self._condition:
            return self._condition.wait_for(lambda: self._pending == 0, timeout)

    def close(self, timeout: float | None = 5.0) -> None:
        """Stop taking traces, finish the queued ones (waiting at most `timeout` seconds)."""
        with self._condition:
            self._closed = True
            self._condition.notify_all()
            worker = self._worker
        if worker is not None:
            worker.join(timeout)

    # -- the worker ------------------------------------------------------------------------

    def _start(self) -> None:
        if self._worker is None:
            self._worker = threading.Thread(target=self._run, name="gait-beads-sink", daemon=True)
            self._worker.start()

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: bool(self._queue) or self._closed)
                if not self._queue:
                    return
                path, decision = self._queue.popleft()
            result = self._handle(path, decision)
            with self._condition:
                self._results.append(result)
            self._report(result)
            with self._condition:
                self._pending -= 1
                self._condition.notify_all()

    def _report(self, result: SinkResult) -> None:
        if self.on_result is not None:
            with contextlib.suppress(Exception):  # a logging callback must not stop the sink
                self.on_result(result)

    def _key(self) -> VerifyKey | None:
        if self.verify_key is None and not self._dev_key_loaded:
            from gait.devkey import existing_dev_verify_key

            self._dev_key_loaded = True
            self.verify_key = existing_dev_verify_key()
        return self.verify_key

    def _handle(self, path: str, decision: Mapping[str, Any] | None) -> SinkResult:
        trace_id = ""
        try:
            from gait.trace import read_trace

            record = read_trace(Path(path))
            trace_id = str(record.get("trace_id", ""))
            if record.get("verdict") == "allow":
                return SinkResult(trace_path=path, trace_id=trace_id, skipped="verdict allow")
            if trace_id in self._filed:
                return SinkResult(
                    trace_path=path,
                    trace_id=trace_id,
                    issue_id=self._filed[trace_id],
                    skipped="already filed by this sink",
                )
            signature = check_signature(
                record,
                self._key(),
                path=Path(path),
                allow_unverified=False,
                no_key_hint="give the sink verify_key=",
            )
            summary = summarize(
                record,
                path=Path(path),
                signature=signature,
                decision=decision_from_json(decision, "") if decision is not None else None,
            )
            filed = self.client.file(summary, self.client.external_refs())
        except Exception as exc:  # every failure is a result, never an exception in a service
            return SinkResult(trace_path=path, trace_id=trace_id, error=str(exc))
        self._filed[trace_id] = filed.issue_id
        return SinkResult(
            trace_path=path,
            trace_id=trace_id,
            issue_id=filed.issue_id,
            created=filed.created,
            warnings=filed.warnings,
        )
