"""A real OTLP/HTTP receiver on loopback: it decodes each `ExportLogsServiceRequest` with
`opentelemetry-proto` and keeps the log records, as a collector's OTLP receiver would.

`mode` says how it answers: `accept` (200 with an empty response), `refuse` (400, which the
exporter does not retry) or `slow` (waits `delay` seconds, then accepts).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import attrs
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue

MAX_BODY = 64 << 20


def any_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return {item.key: any_value(item.value) for item in value.kvlist_value.values}
    return None if kind is None else getattr(value, kind)


@attrs.frozen
class Record:
    """One received log record, with its resource and scope."""

    attributes: Mapping[str, Any]
    resource: Mapping[str, Any]
    scope: str
    scope_version: str
    body: Any
    event_name: str
    severity_text: str
    severity_number: int
    time_unix_nano: int
    observed_time_unix_nano: int


class Receiver:
    def __init__(self, *, mode: str = "accept", delay: float = 0.0, keep: bool = True) -> None:
        self.mode = mode
        self.delay = delay
        self.keep = keep
        self.records: list[Record] = []
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.paths: list[str] = []
        self.count = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        port: int = self._server.server_address[1]
        return port

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self) -> dict[str, str]:
        """The standard variables that point an OTLP exporter here."""
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": self.endpoint}

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Record]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.count >= count:
                    return list(self.records)
            time.sleep(0.02)
        raise AssertionError(f"received {self.count} records, expected {count}")

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _receive(self, path: str, headers: dict[str, str], body: bytes) -> None:
        request = ExportLogsServiceRequest()
        request.ParseFromString(body)
        if not self.keep:  # a benchmark's receiver: decode and count, as fast as it can
            count = sum(
                len(scope.log_records)
                for logs in request.resource_logs
                for scope in logs.scope_logs
            )
            with self._lock:
                self.count += count
            return
        records = []
        for resource_logs in request.resource_logs:
            resource = {a.key: any_value(a.value) for a in resource_logs.resource.attributes}
            for scope_logs in resource_logs.scope_logs:
                for log in scope_logs.log_records:
                    records.append(
                        Record(
                            attributes={a.key: any_value(a.value) for a in log.attributes},
                            resource=resource,
                            scope=scope_logs.scope.name,
                            scope_version=scope_logs.scope.version,
                            body=any_value(log.body),
                            event_name=log.event_name,
                            severity_text=log.severity_text,
                            severity_number=log.severity_number,
                            time_unix_nano=log.time_unix_nano,
                            observed_time_unix_nano=log.observed_time_unix_nano,
                        )
                    )
        with self._lock:
            self.count += len(records)
            self.records.extend(records)
            self.bodies.append(body)
            self.headers.append(headers)
            self.paths.append(path)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(min(length, MAX_BODY))
                if receiver.mode == "refuse":
                    self._answer(400, b"refused by the test receiver")
                    return
                if receiver.mode == "slow":
                    time.sleep(receiver.delay)
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver._receive(self.path, headers, body)
                self._answer(200, ExportLogsServiceResponse().SerializeToString())

            def _answer(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                """Quiet: the test reads what was received."""

        return Handler


@contextlib.contextmanager
def receiving(**options: Any) -> Iterator[Receiver]:
    receiver = Receiver(**options)
    try:
        yield receiver
    finally:
        receiver.close()


def closed_port() -> int:
    """A loopback port nothing listens on (a collector that is down)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def main() -> None:
    """A receiver in its own process (for benchmarks: a collector is not the load generator's
    thread). Prints its port; each line read from stdin is answered with the records counted
    so far; exits at end of input."""
    import sys

    receiver = Receiver(keep=False)
    print(receiver.port, flush=True)
    for _ in sys.stdin:
        print(receiver.count, flush=True)
    receiver.close()


if __name__ == "__main__":
    main()
