"""Decisions as OpenTelemetry log records, sent by the official SDK's OTLP exporter.

Imported only by the exporter's factory, i.e. when a command runs with `--export otel`: the
SDK never loads at `gait` start-up.

    decision --export()--> bounded queue of DecisionEvents
        --(worker thread, batches)--> SDK ReadableLogRecords (resource, scope, LogRecord)
        --> OTLPLogExporter (SDK, OTLP/HTTP protobuf or gRPC) --> collector

`export` only queues the decision: neither SDK work nor network happens on the caller's thread,
so no verdict waits for either. A full queue (OTEL_BLRP_MAX_QUEUE_SIZE), a batch the endpoint
refused or could not be reached for, and whatever is still queued when the exporter must stop,
are counted as dropped, in `stats()` (the service's /healthz) and in the drop ledger
(`gait doctor`).

The SDK's `LoggerProvider` and `BatchLogRecordProcessor` are not used. The processor drops the
oldest record without counting it and its force_flush ignores the timeout, so a one-shot
command could neither report a drop nor bound its exit; and the logger validates and copies
every attribute on the caller's thread (the records built here are valid by construction).
Their cost mattered: `gait mcp serve` may lose at most 10 % of its throughput to this export
(benchmarks/exports.py), and the SDK's own encoding already takes most of that.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope

from gait import __version__ as gait_version
from gait.exports import DecisionEvent, ExporterStats
from gait_plugin_otel import config, ledger
from gait_plugin_otel.contract import EVENT_NAME, SCOPE_NAME, decision_attributes, severity

JOIN_SECONDS = 1.0


class DecisionQueue:
    """A bounded queue of decisions and one worker thread that sends them in batches through an
    SDK log exporter, with delivery counts."""

    def __init__(
        self,
        exporter: LogRecordExporter,
        settings: config.QueueSettings,
        to_record: Callable[[DecisionEvent], ReadableLogRecord],
        on_drop: Callable[[int, str], None],
    ) -> None:
        self._exporter = exporter
        self._settings = settings
        self._to_record = to_record
        self._on_drop = on_drop
        self._queue: deque[DecisionEvent] = deque()
        self._cond = threading.Condition()
        self._in_flight = 0
        self._exported = 0
        self._dropped = 0
        self._unrecorded = 0  # drops not yet added to the ledger
        self._closing = False
        self._abandoned = False
        self.sdk_error = ""  # the SDK's first warning about the batch in flight
        self.last_error = ""
        self._worker = threading.Thread(target=self._run, name="gait-otel-export", daemon=True)
        self._worker.start()

    def put(self, event: DecisionEvent) -> None:
        with self._cond:
            if self._closing or len(self._queue) >= self._settings.max_queue_size:
                self._count_drop(1, "exporter closed" if self._closing else "queue full")
                return
            self._queue.append(event)
            if len(self._queue) == self._settings.max_batch_size:
                self._cond.notify_all()

    def stats(self) -> ExporterStats:
        with self._cond:
            return ExporterStats(
                exported=self._exported,
                dropped=self._dropped,
                queued=len(self._queue) + self._in_flight,
            )

    def close(self, timeout: float) -> None:
        """Send what is queued within `timeout` seconds; what is left then is dropped (and
        counted), and the exporter's retries are cut short."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            delivered = self._cond.wait_for(self._idle, max(timeout, 0))
            if not delivered:
                lost = len(self._queue) + self._in_flight
                self._queue.clear()
                self._in_flight = 0  # counted as dropped now, whatever the request does
                self._abandoned = True
                self._count_drop(lost, f"not delivered within {timeout:g} s of closing")
        if delivered:
            self._worker.join(JOIN_SECONDS)
        self._exporter.shutdown()  # type: ignore[no-untyped-call]
        self._record_drops()

    def _idle(self) -> bool:
        return not self._queue and not self._in_flight

    def _count_drop(self, count: int, reason: str) -> None:
        """Under the lock."""
        self._dropped += count
        self._unrecorded += count
        self.last_error = config.redact(reason)

    def _record_drops(self) -> None:
        with self._cond:
            count, self._unrecorded = self._unrecorded, 0
            error = self.last_error
        if count:
            self._on_drop(count, error)

    def _run(self) -> None:
        batch_size = self._settings.max_batch_size
        while True:
            with self._cond:
                deadline = time.monotonic() + self._settings.schedule_delay_seconds
                while not (self._closing or len(self._queue) >= batch_size):
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                if self._abandoned or (self._closing and not self._queue):
                    return
                batch = [self._queue.popleft() for _ in range(min(batch_size, len(self._queue)))]
                self._in_flight = len(batch)
            if batch:
                self._send(batch)
            self._record_drops()

    def _send(self, batch: Sequence[DecisionEvent]) -> None:
        self.sdk_error = ""
        try:
            result = self._exporter.export([self._to_record(event) for event in batch])
            error = "" if result is LogRecordExportResult.SUCCESS else "OTLP export failed"
        except Exception as exc:  # the exporter must never take the worker down
            error = f"{type(exc).__name__}: {exc}"
        with self._cond:
            self._in_flight = 0
            if not self._abandoned:
                if error:
                    self._count_drop(len(batch), self.sdk_error or error)
                else:
                    self._exported += len(batch)
            self._cond.notify_all()


class _ProcessResource(Resource):
    """The resource of this process's records. The SDK's encoder groups a batch's records by
    resource, hashing the resource once per record (a JSON dump of its attributes, an eighth
    of the encoding time); this one never changes, so its hash is computed once."""

    def __init__(self, resource: Resource) -> None:
        super().__init__(resource.attributes, resource.schema_url)
        self._hash = super().__hash__()

    def __hash__(self) -> int:
        return self._hash


class _CaptureErrors(logging.Handler):
    """Keeps the SDK's warning about a failed export for the drop ledger, instead of letting it
    reach stderr: gait's own output is the verdict."""

    def __init__(self, queue: DecisionQueue) -> None:
        super().__init__(logging.WARNING)
        self.queue = queue

    def emit(self, record: logging.LogRecord) -> None:
        # The first message of a failed batch names the cause (connection refused, status
        # 400, read timeout); the last one only says that the retries ran out.
        if not self.queue.sdk_error:
            self.queue.sdk_error = config.redact(record.getMessage())


def _request_timeout(lifetime: str) -> float | None:
    """None lets the SDK read OTEL_EXPORTER_OTLP[_LOGS]_TIMEOUT (or use its 10 s)."""
    configured = os.environ.get("OTEL_EXPORTER_OTLP_LOGS_TIMEOUT") or os.environ.get(
        "OTEL_EXPORTER_OTLP_TIMEOUT"
    )
    if lifetime == "command" and not configured:
        return config.COMMAND_REQUEST_TIMEOUT_SECONDS
    return None


def _otlp_exporter(protocol: str, lifetime: str) -> LogRecordExporter:
    timeout = _request_timeout(lifetime)
    if protocol == config.GRPC:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import (  # type: ignore[import-not-found]
            OTLPLogExporter as GrpcLogExporter,
        )

        exporter: LogRecordExporter = GrpcLogExporter(timeout=timeout)
        return exporter
    from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter

    return OTLPLogExporter(timeout=timeout)


class OtelExporter:
    """The `otel` exporter: one OTLP log record per decision (docs/otel_contract.md)."""

    def __init__(self, options: Mapping[str, str]) -> None:
        protocol = config.check_protocol()
        self.endpoint = config.redact(config.logs_endpoint())
        attributes: dict[str, Any] = {"service.version": gait_version}
        name = config.service_name()
        if name is not None:
            attributes["service.name"] = name
        # Resource detection reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
        self._resource = _ProcessResource(Resource.create(attributes))
        self._scope = InstrumentationScope(SCOPE_NAME, gait_version)
        self._queue = DecisionQueue(
            _otlp_exporter(protocol, options.get("lifetime", "command")),
            config.queue_settings(),
            to_record=self._record,
            on_drop=self._on_drop,
        )
        self._errors = _CaptureErrors(self._queue)
        sdk_logger = logging.getLogger("opentelemetry")
        sdk_logger.addHandler(self._errors)
        self._propagated = sdk_logger.propagate
        sdk_logger.propagate = False

    def _record(self, event: DecisionEvent) -> ReadableLogRecord:
        text, number = severity(event.verdict)
        return ReadableLogRecord(
            log_record=LogRecord(
                timestamp=event.observed_at.unix_nanos(),
                severity_text=text,
                severity_number=SeverityNumber(number),
                body=EVENT_NAME,
                event_name=EVENT_NAME,
                attributes=decision_attributes(event),
            ),
            resource=self._resource,
            instrumentation_scope=self._scope,
        )

    def _on_drop(self, count: int, error: str) -> None:
        ledger.add(count, error, self.endpoint)

    def export(self, event: DecisionEvent) -> None:
        self._queue.put(event)

    def stats(self) -> ExporterStats:
        return self._queue.stats()

    def close(self, timeout: float) -> None:
        self._queue.close(timeout)
        sdk_logger = logging.getLogger("opentelemetry")
        sdk_logger.removeHandler(self._errors)
        sdk_logger.propagate = self._propagated
