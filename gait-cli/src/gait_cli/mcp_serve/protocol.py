"""The HTTP protocol of `gait mcp serve`: uvicorn's httptools protocol with the limits that a
service facing hostile clients needs and uvicorn lacks (docs/mcp.md, "Limits").

- Header size: the bytes of a request's start line and headers are counted before the parser
  sees them (httptools keeps every header byte until the headers end); past `max_header_bytes`
  the connection gets a 431 and is closed, so a huge header costs at most that much memory.
  Trailers (header lines after a chunked body's last chunk) count against the same limit,
  together with the head: the bytes the parser is fed between two steps of a body (a chunk
  header, body bytes, a chunk's end) may not exceed `max_header_bytes` (httptools keeps a
  header line whole until it ends), nor may the names and values of the head and trailers
  together. Trailers are never added to the request's headers (ASGI has no place for them).
- Header read time: a connection must deliver a whole request head within `header_timeout`
  of its first byte (of being accepted, for the first request), as Go's ReadHeaderTimeout.
- Body read time: a request's body must arrive within `read_timeout` of its headers.
- Write time: a connection whose client stops reading its answers (so that writing is paused)
  for `write_timeout` is closed; otherwise pipelined requests could hold it open for ever.
- Keep-alive idle time: uvicorn's own `timeout_keep_alive`.
- Concurrent connections: a connection beyond `max_connections` (per worker process) is
  answered 503 and closed at once; those not yet accepted wait in the kernel's bounded backlog.

Timers are armed only when a request is left incomplete by a read, so a request that arrives
whole (the usual case) costs no timer. An expired connection is aborted (reset): a client that
stopped reading cannot hold it open with unsent bytes.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import attrs
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


@attrs.frozen(kw_only=True)
class Limits:
    max_header_bytes: int
    header_timeout: float
    read_timeout: float
    write_timeout: float
    max_connections: int


def _answer(status: bytes, message: str) -> bytes:
    body = ('{"ok":false,"error":"' + message + '"}\n').encode()
    return (
        b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\n"
        b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
    )


HEADERS_TOO_LARGE = _answer(
    b"431 Request Header Fields Too Large", "request headers exceed max-header-bytes"
)
TOO_MANY_CONNECTIONS = _answer(b"503 Service Unavailable", "too many connections")


class LimitedProtocol(HttpToolsProtocol):
    limits: ClassVar[Limits]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._write_timer: asyncio.TimerHandle | None = None
        self._header_bytes = 0
        # Bytes fed to the parser since the body last made progress (framing, trailers).
        self._framing_bytes = 0
        # Names and values of the request's head and trailers, for the trailers' limit.
        self._field_bytes = 0
        self._fields_too_large = False
        # Waiting for (the rest of) a request head, or for the rest of a body.
        self._head_pending = True
        self._body_pending = False
        self._admitted = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if len(self.connections) >= self.limits.max_connections:
            self.transport = transport
            transport.write(TOO_MANY_CONNECTIONS)
            transport.close()
            return
        self._admitted = True
        super().connection_made(transport)
        self._timer = self.loop.call_later(self.limits.header_timeout, self._expire)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None
        super().connection_lost(exc)

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._write_timer is None:
            self._write_timer = self.loop.call_later(self.limits.write_timeout, self._expire)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._write_timer is not None:
            self._write_timer.cancel()
            self._write_timer = None

    def data_received(self, data: bytes) -> None:
        if not self._admitted:
            return
        limit = self.limits.max_header_bytes
        while True:
            # Only what the limit still allows reaches the parser; the rest waits for its
            # verdict. A request that arrives whole fits at once (one call, as before).
            used = self._header_bytes if self._head_pending else self._framing_bytes
            room = limit - used
            if len(data) <= room:
                self._count(len(data))
                super().data_received(data)
                if self._fields_too_large:
                    self._too_large()
                    return
                break
            if room <= 0:
                self._too_large()
                return
            self._count(room)
            super().data_received(data[:room])
            if self._fields_too_large:
                self._too_large()
                return
            if self.transport.is_closing():
                return
            data = data[room:]
        if self._timer is None and not self.transport.is_closing():
            if self._head_pending and self._header_bytes:
                self._timer = self.loop.call_later(self.limits.header_timeout, self._expire)
            elif self._body_pending:
                self._timer = self.loop.call_later(self.limits.read_timeout, self._expire)

    def _count(self, size: int) -> None:
        if self._head_pending:
            self._header_bytes += size
        else:
            self._framing_bytes += size

    # The body's steps: the bytes fed since then are all that the parser may be holding.
    def on_body(self, body: bytes) -> None:
        self._framing_bytes = 0
        super().on_body(body)

    def on_chunk_header(self) -> None:
        self._framing_bytes = 0

    def on_chunk_complete(self) -> None:
        self._framing_bytes = 0

    def on_header(self, name: bytes, value: bytes) -> None:
        self._field_bytes += len(name) + len(value)
        if self._head_pending:
            super().on_header(name, value)
        elif self._field_bytes > self.limits.max_header_bytes:
            # A trailer: counted, never kept; past the limit the request is not dispatched.
            self._fields_too_large = True

    def on_headers_complete(self) -> None:
        self._head_pending = False
        self._header_bytes = 0
        self._framing_bytes = 0
        self._body_pending = True
        if self._timer is not None:
            self._cancel()
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        if self._fields_too_large:
            return  # the connection is closed with a 431; the app sees a disconnect
        self._body_pending = False
        self._head_pending = True
        self._field_bytes = 0
        if self._timer is not None:
            self._cancel()
        super().on_message_complete()

    def _cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if not self.transport.is_closing():
            self.transport.abort()

    def _too_large(self) -> None:
        # A response in progress on this connection would be cut by ours: then just close.
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(HEADERS_TOO_LARGE)
        self.transport.close()


def protocol_class(limits: Limits) -> type[LimitedProtocol]:
    """The protocol class for uvicorn's `http=` setting, bound to these limits."""
    return type("GaitHttpProtocol", (LimitedProtocol,), {"limits": limits})
