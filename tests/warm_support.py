"""Run `gait` with warm start on, in a runtime folder of the test's, and tell whether the process
that ran answered by itself or handed its command to a warm process.

The tell is memory, not time: a `gait` that evaluated a policy itself imported the gate,
PyYAML and cryptography (over 30 MB resident here); one that handed its command over stayed a
bare interpreter (about 12 MB). `os.wait4` gives the peak of exactly that process, counting the
process it was forked from: so a bare Python (LAUNCHER) forks it, not the test's big one.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import attrs

from gait_cli.warm import socket_path
from tests.conftest import GAIT

HANDED_OVER_MAX_KIB = 20_000

# argv: REPORT CLOSE PROGRAM ARGS...; runs PROGRAM with this process's streams (but descriptor
# CLOSE, unless it is -1), writes its peak resident size (KiB) to REPORT and exits as it did.
LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    if sys.argv[2] != "-1":
        os.close(int(sys.argv[2]))
    os.execv(sys.argv[3], sys.argv[3:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as report:
    report.write(str(usage.ru_maxrss))
code = os.waitstatus_to_exitcode(status)
sys.exit(code if code >= 0 else 128 - code)
"""


@attrs.frozen
class Measured:
    code: int
    stdout: str
    stderr: str
    peak_kib: int

    @property
    def handed_over(self) -> bool:
        return self.peak_kib < HANDED_OVER_MAX_KIB


def warm_env(runtime: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "GAIT_PLUGINS"}
    env.update({"GAIT_WARM": "1", "XDG_RUNTIME_DIR": str(runtime), "GAIT_PLUGINS": ""})
    env.update(extra)
    return env


def run_measured(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    stdin: bytes | None = None,
    stdin_fd: int | None = None,
    close_fd: int = -1,
    prefix: Sequence[str] = (),
) -> Measured:
    """Run `prefix + gait + argv` (a prefix execs the rest, as `setpriv ...` does)."""
    with tempfile.TemporaryDirectory() as folder:
        report = Path(folder) / "peak"
        done = subprocess.run(
            [sys.executable, "-c", LAUNCHER, str(report), str(close_fd), *prefix, str(GAIT), *argv],
            cwd=cwd,
            env=dict(env),
            input=stdin,
            stdin=None if stdin is not None else stdin_fd or subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
        return Measured(
            done.returncode, done.stdout.decode(), done.stderr.decode(), int(report.read_text())
        )


def servers(runtime: Path) -> dict[str, int]:
    """Key to process id of the warm processes that hold a lock in `runtime`."""
    found = {}
    for lock in (runtime / "gait").glob("*.lock"):
        text = lock.read_text().strip()
        if text:
            found[lock.stem] = int(text)
    return found


def wait_for_server(runtime: Path, *, timeout: float = 30.0) -> int:
    """The process id of the one warm process in `runtime`, once its socket is up."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        running = servers(runtime)
        if len(running) == 1:
            key, pid = next(iter(running.items()))
            if Path(socket_path(str(runtime / "gait"), key)).exists():
                return pid
        time.sleep(0.05)
    raise AssertionError(f"no warm process came up in {runtime}: {servers(runtime)}")


def alive(pid: int) -> bool:
    """Running, not a zombie (an exited warm process's parent may never reap it here)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def stop_servers(runtime: Path) -> None:
    for pid in servers(runtime).values():
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
        wait_until(lambda pid=pid: not alive(pid))


def wait_until(condition: Callable[[], bool], *, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)
