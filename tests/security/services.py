"""Real processes on real sockets for the service-authentication tests: `gait mcp serve` on a Unix
socket, and a squatter (tests/security/squatter.py) on the port or socket a client expects,
under another uid when the tests run as root."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.conftest import GAIT

SQUATTER = Path(__file__).with_name("squatter.py")
NOBODY = 65534


def unix_get(path: Path, target: str = "/healthz", timeout: float = 2) -> tuple[int, bytes]:
    """One GET over a Unix socket; (status, body)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        connection.connect(str(path))
        connection.sendall(
            f"GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := connection.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


class UnixServe:
    """`gait mcp serve --listen unix:PATH ARGS` in `cwd`, ready when /healthz answers."""

    def __init__(self, cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        # short: a Unix socket's path holds at most 107 bytes
        self.folder = Path(_short_tempdir())
        self.path = self.folder / "serve.sock"
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "GAIT_PLUGINS"},
            "GAIT_PLUGINS": "",
            "GAIT_HOME": str(cwd / "home"),
            **(env or {}),
        }
        argv = [str(GAIT), "mcp", "serve", "--listen", f"unix:{self.path}", *args]
        self.process = subprocess.Popen(
            argv, cwd=cwd, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out, err = self.process.communicate()
                raise RuntimeError(f"gait mcp serve exited {self.process.returncode}: {out}{err}")
            try:
                unix_get(self.path)
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("gait mcp serve did not answer /healthz on its socket")

    @property
    def url(self) -> str:
        return f"unix:{self.path}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            self.process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()
        shutil.rmtree(self.folder, ignore_errors=True)


def _short_tempdir() -> str:
    import tempfile

    return tempfile.mkdtemp(prefix="gait-sock-", dir="/tmp")


def python_for(uid: int | None) -> str:
    """An interpreter `uid` may run (this one's may live in a folder only root can enter)."""
    if uid is None:
        return sys.executable
    for candidate in (sys.executable, os.path.realpath(sys.executable), "/usr/bin/python3"):
        try:
            done = subprocess.run(
                [candidate, "-c", "import http.server"],
                user=uid,
                cwd="/",
                capture_output=True,
                check=False,
            )
        except OSError:
            continue
        if done.returncode == 0:
            return candidate
    raise RuntimeError(f"no Python that uid {uid} can run")


class Squatter:
    """tests/security/squatter.py listening at `where` (tcp:HOST:PORT or unix:PATH), as `uid`
    (None: this process's). `received()` stops it and returns every request it got, raw."""

    def __init__(self, where: str, *, uid: int | None = None, forge_mac: bool = False) -> None:
        source = SQUATTER.read_text()  # run with -c: uid may not read this checkout
        argv = [python_for(uid), "-c", source, where, *(["--forge-mac"] if forge_mac else [])]
        self.process = subprocess.Popen(
            argv,
            user=uid,
            cwd="/",
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if line.strip() != "ready":
            self.process.kill()
            raise RuntimeError(f"the squatter did not start: {line}{self.process.stderr}")
        self._requests: list[str] | None = None

    def received(self) -> list[str]:
        if self._requests is None:
            self.process.send_signal(signal.SIGTERM)
            out, _ = self.process.communicate(timeout=30)
            self._requests = [json.loads(line)["raw"] for line in out.splitlines() if line]
        return self._requests

    def __enter__(self) -> Squatter:
        return self

    def __exit__(self, *exc: Any) -> None:
        with contextlib.suppress(Exception):
            self.received()
