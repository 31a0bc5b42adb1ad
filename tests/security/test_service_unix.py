"""Issue 15 §2, the service's side of the Unix-socket listener: `gait mcp serve --listen
unix:PATH` creates its socket mode 0600 (or `--socket-mode`), refuses a path that is not a
socket or on which a server answers, replaces a stale socket, removes its own at shutdown,
and serves with auth off, in token mode and with several workers."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import GAIT, RunGait

HEAD = "schema_id: gait.gate.policy\nschema_version: 1.0.0\n"
CALL = {"name": "tool.write", "args": {"path": "/tmp/x"}}


@pytest.fixture
def folder() -> Iterator[Path]:
    # short: a Unix socket's path holds at most 107 bytes
    path = Path(tempfile.mkdtemp(prefix="gait-sock-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "policy.yaml").write_text(HEAD + "default_verdict: block\n")
    return tmp_path


def _request(
    path: Path, method: str, target: str, body: bytes = b"", **headers: str
) -> tuple[int, Any]:
    lines = [f"{method} {target} HTTP/1.1", "Host: localhost", "Connection: close"]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(10)
        connection.connect(str(path))
        connection.sendall(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, payload = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), json.loads(payload)


def _start(
    work: Path, sock: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [str(GAIT), "mcp", "serve", "--policy", "policy.yaml", "--listen", f"unix:{sock}", *args],
        cwd=work,
        env={**os.environ, "GAIT_PLUGINS": "", "GAIT_HOME": str(work / "home"), **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited {process.returncode}: {process.communicate()}")
        try:
            _request(sock, "GET", "/healthz")
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError("no answer on the socket")


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=60)
    return process.returncode


def test_the_socket_is_owner_only_serves_and_is_removed_at_shutdown(
    work: Path, folder: Path
) -> None:
    sock = folder / "serve.sock"
    process = _start(work, sock)
    try:
        mode = os.lstat(sock).st_mode
        assert stat.S_ISSOCK(mode) and stat.S_IMODE(mode) == 0o600
        assert _request(sock, "GET", "/healthz") == (200, {"ok": True, "service": "gait.mcp.serve"})
        status, decided = _request(
            sock, "POST", "/v1/evaluate", json.dumps({"call": CALL}).encode()
        )
        assert (status, decided["verdict"]) == (200, "block")
    finally:
        assert _stop(process) == 0
    assert not sock.exists()


def test_socket_mode_widens_for_a_group_and_workers_share_the_socket(
    work: Path, folder: Path
) -> None:
    sock = folder / "serve.sock"
    process = _start(work, sock, "--socket-mode", "0660", "--workers", "2")
    try:
        assert stat.S_IMODE(os.lstat(sock).st_mode) == 0o660
        body = json.dumps({"call": CALL}).encode()
        for _ in range(20):
            assert _request(sock, "POST", "/v1/evaluate", body)[0] == 200
    finally:
        assert _stop(process) == 0
    assert not sock.exists()


def test_token_mode_on_a_socket(work: Path, folder: Path) -> None:
    sock = folder / "serve.sock"
    token = "a-token-of-more-than-16-bytes"
    auth = ("--auth-mode", "token", "--auth-token-env", "GAIT_TOKEN")
    process = _start(work, sock, *auth, env={"GAIT_TOKEN": token})
    try:
        body = json.dumps({"call": CALL}).encode()
        assert _request(sock, "POST", "/v1/evaluate", body)[0] == 401
        authorized = _request(sock, "POST", "/v1/evaluate", body, Authorization=f"Bearer {token}")
        assert authorized[0] == 200
    finally:
        _stop(process)


def test_a_path_that_is_not_a_socket_or_is_served_is_refused(
    work: Path, folder: Path, gait: RunGait
) -> None:
    plain = folder / "plain"
    plain.write_text("not a socket")
    run = gait(
        "mcp", "serve", "--policy", "policy.yaml", "--listen", f"unix:{plain}", "--json", cwd=work
    )
    assert run.code == 6
    assert run.json["error"] == f"listen unix {plain}: the path exists and is not a socket"
    assert plain.read_text() == "not a socket"
    sock = folder / "serve.sock"
    process = _start(work, sock)
    try:
        run = gait(
            "mcp",
            "serve",
            "--policy",
            "policy.yaml",
            "--listen",
            f"unix:{sock}",
            "--json",
            cwd=work,
        )
        assert run.code == 6 and "a server answers on this socket" in run.json["error"]
        assert _request(sock, "GET", "/healthz")[0] == 200  # the first server is untouched
    finally:
        _stop(process)


def test_a_stale_socket_is_replaced(work: Path, folder: Path) -> None:
    sock = folder / "serve.sock"
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stale.bind(str(sock))
    stale.close()  # left behind, as by a server that was killed
    assert stat.S_ISSOCK(os.lstat(sock).st_mode)
    process = _start(work, sock)
    try:
        assert stat.S_IMODE(os.lstat(sock).st_mode) == 0o600
    finally:
        assert _stop(process) == 0
    assert not sock.exists()


def test_invalid_socket_modes_are_refused(work: Path, gait: RunGait) -> None:
    for mode in ("777x", "0400", "01600"):
        run = gait(
            "mcp", "serve", "--policy", "policy.yaml", "--listen", "unix:/tmp/gait-x.sock",
            "--socket-mode", mode, "--json", cwd=work,
        )  # fmt: skip
        assert run.code == 6 and run.json["error"].startswith("invalid --socket-mode"), mode
