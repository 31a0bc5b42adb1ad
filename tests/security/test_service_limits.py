"""Issue 15 §3: `gait mcp serve` survives hostile clients. A real server process on loopback
with small limits: a huge header costs it no memory, slow connections are cut off within the
timeouts, connections beyond the limit are refused at once, and a well-behaved client is
served throughout. Every loop is bounded in count and time; the module takes well under 20 s.
"""

from __future__ import annotations

import json
import selectors
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import RunGait
from tests.mcp_server import Server, rss_kib

HEAD = "schema_id: gait.gate.policy\nschema_version: 1.0.0\n"
CALL = {
    "name": "tool.write",
    "args": {"path": "/tmp/out.txt"},
    "targets": [{"kind": "path", "value": "/tmp/out.txt", "operation": "write"}],
    "context": {"identity": "alice", "workspace": "/repo", "risk_class": "low"},
}
TIMEOUT = 1.0  # --header-timeout, --read-timeout, --write-timeout and --idle-timeout below
MAX_CONNECTIONS = 300
PARTIAL_HEAD = b"POST /v1/evaluate HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("limits")
    (work / "policy.yaml").write_text(HEAD + "default_verdict: allow\n")
    started = Server(
        work,
        "--policy",
        "policy.yaml",
        "--header-timeout",
        "1s",
        "--read-timeout",
        "1s",
        "--idle-timeout",
        "1s",
        "--write-timeout",
        "1s",
        "--max-header-bytes",
        "16384",
        "--max-connections",
        str(MAX_CONNECTIONS),
    )
    yield started
    started.stop(signal.SIGKILL)


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _served(server: Server) -> None:
    """A well-behaved client: /healthz and a decision answer."""
    assert server.request("GET", "/healthz", timeout=5).status == 200
    decided = server.evaluate({"call": CALL}, timeout=5)
    assert decided.status == 200 and decided.json["verdict"] == "allow"


def _closed_within(sockets: list[socket.socket], seconds: float) -> int:
    """How many of `sockets` the server closed (EOF or reset) within `seconds`."""
    selector = selectors.DefaultSelector()
    for sock in sockets:
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ)
    closed = 0
    deadline = time.monotonic() + seconds
    while closed < len(sockets) and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
            conn = key.fileobj
            if not isinstance(conn, socket.socket):
                continue
            try:
                data = conn.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                data = b""
            except BlockingIOError:
                continue
            if not data:
                selector.unregister(conn)
                closed += 1
    selector.close()
    return closed


def test_a_huge_header_costs_no_memory_and_others_are_served(server: Server) -> None:
    _served(server)
    before = rss_kib(server.process.pid)
    peak = [before]
    sent: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], rss_kib(server.process.pid))
            time.sleep(0.02)

    def stream_64_mib_header() -> None:
        chunk = b"a" * (1 << 16)
        total = 0
        with _connect(server.port) as sock:
            try:
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ")
                deadline = time.monotonic() + 5
                while total < 64 << 20 and time.monotonic() < deadline:
                    sock.sendall(chunk)
                    total += len(chunk)
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                pass
        sent.append(total)

    sampler = threading.Thread(target=sample)
    sampler.start()
    attackers = [threading.Thread(target=stream_64_mib_header) for _ in range(4)]
    for attacker in attackers:
        attacker.start()
    try:
        _served(server)
    finally:
        for attacker in attackers:
            attacker.join(10)
        stop.set()
        sampler.join()
    # Each stream was cut off long before 64 MiB, and the server did not grow.
    assert len(sent) == 4 and max(sent) < 64 << 20, sent
    assert peak[0] - before < 10 * 1024, (before, peak[0])
    _served(server)


def test_headers_over_the_limit_are_answered_431(server: Server) -> None:
    with _connect(server.port) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert body == {"ok": False, "error": "request headers exceed max-header-bytes"}
    # Just under the limit is fine, and so is a large body that arrives with such headers in
    # one read (only the head is counted).
    fits = server.request("GET", "/healthz", headers={"X-Fits": "a" * 15000})
    assert fits.status == 200
    call = {**CALL, "args": {"path": "/tmp/out.txt", "text": "b" * 200_000}}
    big = server.evaluate({"call": call}, headers={"X-Fits": "a" * 15000})
    assert big.status == 200 and big.json["verdict"] == "allow"


def test_slow_connections_are_closed_within_the_timeouts(server: Server) -> None:
    slow_heads = [_connect(server.port) for _ in range(200)]
    for sock in slow_heads:
        sock.sendall(PARTIAL_HEAD)
    slow_bodies = [_connect(server.port) for _ in range(20)]
    head = b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{"
    for sock in slow_bodies:
        sock.sendall(head)
    silent = [_connect(server.port) for _ in range(20)]  # connect, then send nothing
    idle = _connect(server.port)
    idle.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    assert idle.recv(65536).startswith(b"HTTP/1.1 200 ")
    started = time.monotonic()
    _served(server)  # during the attack
    everyone = [*slow_heads, *slow_bodies, *silent, idle]
    closed = _closed_within(everyone, TIMEOUT + 2.0)
    elapsed = time.monotonic() - started
    for sock in everyone:
        sock.close()
    assert closed == len(everyone), (closed, len(everyone), elapsed)
    _served(server)


def test_a_client_that_stops_reading_is_cut_off(server: Server) -> None:
    document = server.request("GET", "/openapi.json").body
    count = 1000
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", server.port))
        sock.sendall(b"GET /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n" * count)
        time.sleep(TIMEOUT + 1.5)  # read nothing meanwhile
        sock.settimeout(5)
        received = 0
        try:
            while chunk := sock.recv(1 << 20):
                received += len(chunk)
        except ConnectionResetError:
            pass
    # Cut off long before every answer was written.
    assert received < count * len(document) // 3, (received, count * len(document))
    _served(server)


def test_connections_beyond_the_limit_are_refused_at_once(server: Server) -> None:
    held = []
    try:
        for _ in range(MAX_CONNECTIONS):
            sock = _connect(server.port)
            sock.sendall(PARTIAL_HEAD)
            held.append(sock)
        time.sleep(0.1)  # every one accepted
        with _connect(server.port) as extra:
            extra.settimeout(2)
            answer = extra.recv(65536)
        assert answer.startswith(b"HTTP/1.1 503 "), answer[:100]
        assert b'"too many connections"' in answer
        # The held ones time out; then there is room again.
        assert _closed_within(held, TIMEOUT + 2.0) == len(held)
    finally:
        for sock in held:
            sock.close()
    _served(server)


def test_the_limit_flags_are_checked_at_start(tmp_path: Path, gait: RunGait) -> None:
    (tmp_path / "p.yaml").write_text(HEAD + "default_verdict: allow\n")
    for flag, value, message in (
        ("--header-timeout", "0", "--header-timeout must be > 0"),
        ("--read-timeout", "soon", 'parse --read-timeout: time: invalid duration "soon"'),
        ("--max-header-bytes", "100", "--max-header-bytes must be >= 1024"),
        ("--max-connections", "0", "--max-connections must be >= 1"),
    ):
        run = gait("mcp", "serve", "--policy", "p.yaml", flag, value, "--json", cwd=tmp_path)
        assert run.code == 6, run.stdout + run.stderr
        assert run.json["error"] == message
