"""A real `gait mcp serve` process on a free loopback port, and plain HTTP requests to it."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from gait.testing import GAIT


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@attrs.frozen
class Response:
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        value = json.loads(self.body)
        assert isinstance(value, dict)
        return value


class Server:
    def __init__(self, cwd: Path, *args: str, env: Mapping[str, str] | None = None) -> None:
        self.cwd = cwd
        self.port = free_port()
        self.env = {
            **{k: v for k, v in os.environ.items() if k != "GAIT_PLUGINS"},
            "GAIT_PLUGINS": "",
            "GAIT_HOME": str(cwd / "home"),
            **(env or {}),
        }
        argv = [str(GAIT), "mcp", "serve", "--listen", f"127.0.0.1:{self.port}", *args]
        self.process = subprocess.Popen(
            argv,
            cwd=cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                out, err = self.process.communicate()
                raise RuntimeError(f"gait mcp serve exited {self.process.returncode}: {out}{err}")
            try:
                self.request("GET", "/healthz", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("gait mcp serve did not answer /healthz")

    def request(
        self,
        method: str,
        path: str,
        body: bytes | dict[str, Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        timeout: float = 30,
    ) -> Response:
        if isinstance(body, dict):
            body = json.dumps(body).encode()
        all_headers = {"Content-Type": "application/json"} if body is not None else {}
        all_headers.update(headers or {})
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            return Response(
                response.status,
                {k.lower(): v for k, v in response.getheaders()},
                response.read(),
            )
        finally:
            connection.close()

    def evaluate(self, body: dict[str, Any], path: str = "/v1/evaluate", **kw: Any) -> Response:
        return self.request("POST", path, body, **kw)

    def worker_pids(self) -> list[int]:
        """The processes serving requests: the workers, or the server itself."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = [int(p) for p in children.read_text().split()] if children.exists() else []
        return [p for p in pids if _is_worker(p)] or [self.process.pid]

    def stop(self, signum: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Signal the server and wait for it; a SIGKILL also takes its workers (which a killed
        supervisor cannot stop)."""
        workers = self.worker_pids() if self.process.poll() is None else []
        if self.process.poll() is None:
            self.process.send_signal(signum)
        if signum == signal.SIGKILL:
            for pid in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        try:
            self.stdout, self.stderr = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stdout = self.stderr = ""
        return self.process.returncode


def _is_worker(pid: int) -> bool:
    try:
        command = Path(f"/proc/{pid}/cmdline").read_text(errors="replace")
    except OSError:
        return False
    return "spawn_main" in command and "resource_tracker" not in command


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise LookupError(pid)
