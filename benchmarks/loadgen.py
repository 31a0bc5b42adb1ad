"""A small HTTP/1.1 load generator: N keep-alive connections, each sending the same POST as fast
as the answers come back, for a fixed time. Raw asyncio streams (uvloop when installed) keep
its own cost per request low, since it shares the machine with the server it measures."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Mapping

import attrs


@attrs.frozen
class LoadResult:
    seconds: float
    latencies: tuple[float, ...]  # seconds, sorted
    statuses: Mapping[int, int]
    errors: tuple[str, ...]

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    def percentile_ms(self, fraction: float) -> float:
        if not self.latencies:
            return 0.0
        index = min(int(len(self.latencies) * fraction), len(self.latencies) - 1)
        return self.latencies[index] * 1000


def request_bytes(
    path: str, body: bytes, *, host: str = "127.0.0.1", headers: Mapping[str, str] | None = None
) -> bytes:
    lines = [
        f"POST {path} HTTP/1.1",
        f"Host: {host}",
        "Content-Type: application/json",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in (headers or {}).items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _connection(
    host: str,
    port: int,
    requests: list[bytes],
    deadline: float,
    latencies: list[float],
    statuses: Counter[int],
    errors: list[str],
    per_connection: int | None,
    unix: str = "",
) -> None:
    try:
        if unix:
            reader, writer = await asyncio.open_unix_connection(unix)
        else:
            reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        errors.append(f"connect: {exc}")
        return
    sent = 0
    try:
        while time.perf_counter() < deadline and (per_connection is None or sent < per_connection):
            started = time.perf_counter()
            writer.write(requests[sent % len(requests)])
            sent += 1
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            status = int(lines[0].split()[1])
            length = 0
            for line in lines[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            if length:
                await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            statuses[status] += 1
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


async def _run(
    host: str,
    port: int,
    requests: list[bytes],
    connections: int,
    seconds: float,
    per_connection: int | None,
    unix: str,
) -> LoadResult:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    errors: list[str] = []
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            _connection(
                host, port, requests, deadline, latencies, statuses, errors, per_connection, unix
            )
            for _ in range(connections)
        )
    )
    elapsed = time.perf_counter() - started
    return LoadResult(elapsed, tuple(sorted(latencies)), dict(statuses), tuple(errors))


def run_load(
    port: int,
    requests: list[bytes],
    *,
    connections: int,
    seconds: float,
    host: str = "127.0.0.1",
    per_connection: int | None = None,
    unix: str = "",
) -> LoadResult:
    """Drive the server for `seconds` (or `per_connection` requests on each connection), on
    `host`:`port` or on the Unix socket `unix`."""
    main = _run(host, port, requests, connections, seconds, per_connection, unix)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency where it installs
        return asyncio.run(main)
    return uvloop.run(main)
