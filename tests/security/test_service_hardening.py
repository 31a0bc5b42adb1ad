"""The service review's findings (docs/security.md): trailers count against --max-header-bytes;
bodies read before their HMAC is checked share a per-worker budget; a captured HMAC request is
decided once by every worker of a service (the nonce ledger), which leaves nothing behind; a Unix
socket gets its mode without a chmod by path; a policy read settles only when its bytes read
again the same. Real `gait mcp serve` processes on loopback; every loop is bounded in count and
time."""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import socket
import stat
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gait.mcp import serviceauth
from gait_cli.mcp_serve import nonces, policy
from gait_cli.mcp_serve import server as serve_server
from tests.mcp_server import Server, rss_kib

HEAD = "schema_id: gait.gate.policy\nschema_version: 1.0.0\n"
TOKEN = "a-service-token-of-32-bytes-long"
KEY = TOKEN.encode()
AUTH = ("--auth-mode", "token", "--auth-token-env", "GAIT_TOKEN")
CALL = {
    "name": "tool.write",
    "args": {"path": "/tmp/out.txt"},
    "targets": [{"kind": "path", "value": "/tmp/out.txt", "operation": "write"}],
    "context": {"identity": "alice", "workspace": "/repo", "risk_class": "low"},
}
BODY = json.dumps({"call": CALL}).encode()


def _work(factory: pytest.TempPathFactory, name: str) -> Path:
    work = factory.mktemp(name)
    (work / "policy.yaml").write_text(HEAD + "default_verdict: allow\n")
    return work


def _hmac_raw(body: bytes = BODY, path: str = "/v1/evaluate") -> bytes:
    """A whole HMAC request as a client sends it (and as a squatter would capture it)."""
    headers = serviceauth.client_headers(
        KEY, "POST", path, body, nonce=serviceauth.new_nonce(), unix_time=int(time.time())
    )
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Connection: close\r\n".encode()
        + b"".join(f"{k}: {v}\r\n".encode() for k, v in headers.items())
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )


def _exchange(port: int, raw: bytes, timeout: float = 5) -> tuple[int, dict[str, object]]:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(raw)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(body)


def _peak_rss(pids: list[int], stop: threading.Event, peak: dict[int, int]) -> None:
    while not stop.is_set():
        for pid in pids:
            peak[pid] = max(peak.get(pid, 0), rss_kib(pid))
        time.sleep(0.02)


# -- 1. trailers --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = Server(
        _work(tmp_path_factory, "trailers"),
        "--policy", "policy.yaml", "--max-header-bytes", "16384", "--read-timeout", "5s",
    )  # fmt: skip
    yield started
    started.stop(signal.SIGKILL)


CHUNKED = (
    b"POST /v1/evaluate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n"
    + hex(len(BODY))[2:].encode()
    + b"\r\n"
    + BODY
    + b"\r\n0\r\n"
)


@pytest.mark.parametrize(
    "line", [b"X-T: " + b"a" * 8000 + b"\r\n", b"X-T: " + b"a" * 65536], ids=["lines", "one-line"]
)
def test_trailers_count_against_max_header_bytes(plain: Server, line: bytes) -> None:
    before = rss_kib(plain.process.pid)
    peak: dict[int, int] = {}
    stop = threading.Event()
    sampler = threading.Thread(target=_peak_rss, args=([plain.process.pid], stop, peak))
    sampler.start()
    sent = 0
    answer = b""
    try:
        with socket.create_connection(("127.0.0.1", plain.port), timeout=5) as sock:
            sock.sendall(CHUNKED)
            deadline = time.monotonic() + 5
            try:
                while sent < 64 << 20 and time.monotonic() < deadline:
                    sock.sendall(line * 16)
                    sent += len(line) * 16
            except (BrokenPipeError, ConnectionResetError, TimeoutError):
                pass
            try:
                while chunk := sock.recv(65536):
                    answer += chunk
            except (ConnectionResetError, TimeoutError):
                pass
    finally:
        stop.set()
        sampler.join()
    # Cut off long before 64 MiB, with a 431 (or a reset), and the server did not grow.
    assert sent < 64 << 20, sent
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:100]
    assert peak[plain.process.pid] - before < 10 * 1024, (before, peak)
    # Trailers within the limit are accepted (and ignored); the service still decides.
    with socket.create_connection(("127.0.0.1", plain.port), timeout=5) as sock:
        sock.sendall(CHUNKED + b"X-Small: 1\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 ")
    assert plain.evaluate({"call": CALL}, timeout=5).status == 200


# -- 2. bodies read before authentication -------------------------------------------------------


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    started = Server(
        _work(tmp_path_factory, "preauth"),
        "--policy", "policy.yaml", *AUTH, "--max-request-bytes", "1048576",
        "--read-timeout", "10s", env={"GAIT_TOKEN": TOKEN},
    )  # fmt: skip
    yield started
    started.stop(signal.SIGKILL)


def test_bodies_before_authentication_share_a_budget(guarded: Server) -> None:
    pid = guarded.process.pid
    before = rss_kib(pid)
    count = 100
    head = (
        "POST /v1/evaluate HTTP/1.1\r\nHost: x\r\n"
        f"X-Gait-Auth-Nonce: {serviceauth.new_nonce()}\r\nX-Gait-Auth-Time: {int(time.time())}\r\n"
        "X-Gait-Auth: v1=00\r\nContent-Length: 1048576\r\n\r\n"
    ).encode()
    almost = b"a" * ((1 << 20) - 1)  # one byte short: the body never ends
    held: list[socket.socket] = []
    refused = 0
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", guarded.port), timeout=5)
            held.append(sock)
            sock.sendall(head)
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(almost)
        selector = selectors.DefaultSelector()
        for sock in held:
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ)
        deadline = time.monotonic() + 5
        while refused < count - 20 and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=max(0.0, deadline - time.monotonic())):
                assert isinstance(key.fileobj, socket.socket)
                selector.unregister(key.fileobj)
                key.fileobj.settimeout(2)
                data = b""
                try:
                    while chunk := key.fileobj.recv(65536):  # the answer, then the close
                        data += chunk
                except (TimeoutError, ConnectionResetError):
                    pass
                if data.startswith(b"HTTP/1.1 503 "):
                    assert b"too many unauthenticated request bodies in progress" in data
                    refused += 1
        selector.close()
        time.sleep(0.5)
        grown = rss_kib(pid) - before
        # A real client is served meanwhile.
        status, decided = _exchange(guarded.port, _hmac_raw())
        assert status == 200 and decided["verdict"] == "allow"
    finally:
        for sock in held:
            sock.close()
    # 16 MiB of budget (16 bodies of --max-request-bytes): most were refused at once, and the
    # server holds about that much, not 100 MiB.
    assert refused >= count - 20, refused
    assert grown < 40 * 1024, grown


# -- 3. replays -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = _work(tmp_path_factory, "replay")
    started = Server(
        work, "--policy", "policy.yaml", *AUTH, "--workers", "2", "--trace-dir", "traces",
        env={"GAIT_TOKEN": TOKEN},
    )  # fmt: skip
    yield started
    started.stop(signal.SIGKILL)


def test_a_replayed_request_is_refused_by_every_worker(workers: Server) -> None:
    assert len(workers.worker_pids()) == 2
    traces = workers.cwd / "traces"
    existing = set(traces.iterdir()) if traces.exists() else set()
    captured = _hmac_raw()
    status, decided = _exchange(workers.port, captured)
    assert status == 200 and decided["verdict"] == "allow"
    # Fresh connections are spread over both workers (SO_REUSEPORT); none decides it again.
    for _ in range(16):
        status, refused = _exchange(workers.port, captured)
        assert (status, refused) == (401, {"ok": False, "error": "replayed request"})
    assert len(set(traces.iterdir()) - existing) == 1
    # Other requests go on being decided.
    for _ in range(4):
        status, decided = _exchange(workers.port, _hmac_raw())
        assert status == 200


def test_the_ledger_fails_closed_and_reuses_expired_slots() -> None:
    ledger = nonces.NonceLedger.create(slots=4, window=2)
    try:
        now = time.time()
        names = [serviceauth.new_nonce() for _ in range(40)]
        outcomes = [ledger.record(name, int(now) + 60, now) for name in names]
        assert outcomes.count(nonces.FRESH) <= 5 and nonces.FULL in outcomes
        fresh = [name for name, seen in zip(names, outcomes, strict=True) if seen == nonces.FRESH]
        assert all(ledger.record(name, int(now) + 60, now) == nonces.REPLAYED for name in fresh)
        # Once expired, their slots are free again, and the nonces are forgotten.
        later = now + 61
        assert ledger.record(names[-1], int(later) + 60, later) == nonces.FRESH
        assert ledger.record(names[-1], int(later) + 60, later) == nonces.REPLAYED
    finally:
        ledger.close()


def test_the_window_is_60_seconds() -> None:
    assert serviceauth.MAX_CLOCK_SKEW_SECONDS == 60


def _shm() -> set[str]:
    folder = Path("/dev/shm")
    if not folder.is_dir():
        return set()
    return {p.name for p in folder.iterdir() if p.name.startswith(("psm_", "sem.", "gait"))}


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["stop", "kill"])
def test_the_ledger_leaves_nothing_behind(
    tmp_path_factory: pytest.TempPathFactory, how: signal.Signals
) -> None:
    before = _shm()
    started = Server(
        _work(tmp_path_factory, "shm"), "--policy", "policy.yaml", *AUTH, "--workers", "2",
        env={"GAIT_TOKEN": TOKEN},
    )  # fmt: skip
    try:
        assert _exchange(started.port, _hmac_raw())[0] == 200
    finally:
        started.stop(how)
    assert _shm() - before == set()


# -- 4. the Unix socket's mode ------------------------------------------------------------------


def test_a_unix_socket_gets_its_mode_without_a_chmod(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[object] = []
    monkeypatch.setattr(os, "chmod", lambda *a, **k: calls.append(a))
    mask = os.umask(0o022)
    try:
        for mode in (0o600, 0o660, 0o666):
            path = tmp_path / f"s{mode:o}.sock"
            sock = serve_server.bind_unix(str(path), mode)
            sock.close()
            assert stat.S_IMODE(os.lstat(path).st_mode) == mode
        assert os.umask(0o022) == 0o022  # restored
    finally:
        os.umask(mask)
    assert calls == []


# -- 5. a policy read settles on its bytes ------------------------------------------------------


def test_a_same_size_edit_with_the_same_stat_is_not_settled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(HEAD + "default_verdict: allow\n")
    read = policy.read_consistent(str(path))
    assert read is not None and policy.unchanged_since(str(path), read)
    # A coarse clock: the edit in place keeps size and times, so the stat cannot tell.
    monkeypatch.setattr(policy, "_signature", lambda st: (st.st_dev, st.st_ino, st.st_size))
    read = policy.read_consistent(str(path))
    assert read is not None
    with path.open("r+b") as handle:
        handle.write(HEAD.encode() + b"default_verdict: block")
    assert not policy.unchanged_since(str(path), read)
