"""The service's policy: compiled once, and again when the file changes, from a read that
settled (docs/mcp.md, "Policy").

A decision never uses a policy read that did not settle. A read counts only when the file's
stat (device, inode, size, mtime, ctime) is the same before and after it, the bytes are as
many as the file's size, and SETTLE_SECONDS after the read began a stat still finds the file
unchanged and a second read finds the same bytes (where timestamps are coarse, an edit in
place that keeps the size can leave the stat as it was): a writer that truncates the file and
writes it in pieces leaves half a file, which may well parse, for as long as it pauses. (The
file's own times cannot tell: on ext4 a stat can see a truncated size with the times of before
the truncation.) A request that finds the file changed waits for the new policy (at most
WAIT_SECONDS, so the next decision after an edit uses it), else decides with the last good
one. An edit that does not load (it does not parse, the file is gone, is not a regular file,
or does not settle within SETTLE_LIMIT_SECONDS) leaves the last good policy in force, and
says so (`stale`); there is no policy only when none ever loaded, and then evaluations answer
503.

Reads and compiles run on the thread pool, never on the event loop; a request costs one stat.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, Final

import attrs

from gait.errors import GaitError
from gait.fsutil import read_regular_file
from gait.gate import Gate
from gait.limits import MAX_POLICY_BYTES

SETTLE_SECONDS: Final = 0.1
WAIT_SECONDS: Final = 0.3
SETTLE_LIMIT_SECONDS: Final = 3.0
LOG = logging.getLogger("gait.mcp.serve")
Signature = tuple[int, ...]


@attrs.frozen
class PolicyView:
    """What a request decides with: `gate` is None only when no policy ever loaded."""

    gate: Gate | None
    path: str
    status: str = "current"  # current | stale | unavailable
    error: str = ""


@attrs.frozen
class _Read:
    signature: Signature
    data: bytes
    began: float  # time.monotonic() before the first stat


def _signature(st: os.stat_result) -> Signature:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def read_consistent(path: str) -> _Read | None:
    """One read of the policy file; None when the file changed while it was read."""
    began = time.monotonic()
    before = os.stat(path)
    data = read_regular_file(path, MAX_POLICY_BYTES, what="policy")
    after = os.stat(path)
    if _signature(before) != _signature(after) or len(data) != after.st_size:
        return None
    return _Read(_signature(after), data, began)


def unchanged_since(path: str, read: _Read) -> bool:
    """The file has the stat and the bytes of `read` (read again only when the stat matches:
    this runs only after a change)."""
    try:
        if _signature(os.stat(path)) != read.signature:
            return False
        return read_regular_file(path, MAX_POLICY_BYTES, what="policy") == read.data
    except (GaitError, OSError):
        return False


def load_initial(path: str, host: Any) -> Gate:
    """The policy at start-up, read as settled as a reload (blocking: no loop runs yet).
    Raises the error that makes `gait mcp serve` exit 6."""
    return _load_initial(path, host)[0]


def _load_initial(path: str, host: Any) -> tuple[Gate, Signature]:
    deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
    while time.monotonic() < deadline:
        read = read_consistent(path)
        if read is None:
            time.sleep(0.01)
            continue
        time.sleep(max(0.0, read.began + SETTLE_SECONDS - time.monotonic()))
        if unchanged_since(path, read):
            return Gate.from_yaml(read.data, plugins=host), read.signature
    raise GaitError(f"policy {path} kept changing while it was read")


class PolicyHolder:
    def __init__(
        self,
        path: Path,
        host: Any,
        run: Callable[..., Awaitable[Any]],
    ) -> None:
        self.path = str(path)
        self.host = host
        self._run = run
        self._loading: asyncio.Task[PolicyView] | None = None
        self._signature: Signature | None = None
        self._good: Gate | None = None
        try:
            self._good, self._signature = _load_initial(self.path, host)
            self._view = PolicyView(self._good, self.path)
        except (GaitError, OSError) as exc:
            self._view = PolicyView(None, self.path, "unavailable", _message(self.path, exc))
            LOG.warning("%s", self._view.error)

    def peek(self) -> PolicyView | None:
        """The policy to decide with, or None when the file changed (then await `reload`)."""
        try:
            signature = _signature(os.stat(self.path))
        except OSError as exc:
            error = _message(self.path, exc)
            if self._view.error != error:
                self._signature = None
                self._view = self._failed(error)
            return self._view
        return self._view if signature == self._signature else None

    async def current(self) -> PolicyView:
        view = self.peek()
        return view if view is not None else await self.reload()

    async def reload(self) -> PolicyView:
        """Read the changed file (one read at a time, shared by the requests that wait); the
        last good policy when the new one is not there within WAIT_SECONDS."""
        task = self._loading
        if task is None:
            task = self._loading = asyncio.get_running_loop().create_task(self._reload())
            task.add_done_callback(self._loaded)
        try:
            return await asyncio.wait_for(asyncio.shield(task), WAIT_SECONDS)
        except TimeoutError:
            return self._view

    def _loaded(self, task: asyncio.Task[PolicyView]) -> None:
        if self._loading is task:
            self._loading = None

    async def _reload(self) -> PolicyView:
        deadline = time.monotonic() + SETTLE_LIMIT_SECONDS
        while True:
            if time.monotonic() > deadline:
                return self._set_failed(f"policy {self.path} kept changing while it was read")
            try:
                read = await self._run(read_consistent, self.path)
            except (GaitError, OSError) as exc:
                return self._set_failed(_message(self.path, exc))
            if read is None:
                await asyncio.sleep(0.01)
                continue
            await asyncio.sleep(max(0.0, read.began + SETTLE_SECONDS - time.monotonic()))
            if await self._run(unchanged_since, self.path, read):
                break
        try:
            gate = await self._run(_compile, read.data, self.host)
        except (GaitError, ValueError) as exc:
            return self._set_failed(_message(self.path, exc), read.signature)
        self._good = gate
        self._signature = read.signature
        self._view = PolicyView(gate, self.path)
        return self._view

    def _set_failed(self, error: str, signature: Signature | None = None) -> PolicyView:
        """Keep the last good policy; a file that did not change is not read again for it."""
        if signature is None:
            try:
                signature = _signature(os.stat(self.path))
            except OSError:
                signature = None
        self._signature = signature
        self._view = self._failed(error)
        return self._view

    def _failed(self, error: str) -> PolicyView:
        if self._view.error != error:
            kept = "; the last good policy stays in force" if self._good else ""
            LOG.warning("%s%s", error, kept)
        return PolicyView(self._good, self.path, "stale" if self._good else "unavailable", error)


def _compile(data: bytes, host: Any) -> Gate:
    return Gate.from_yaml(data, plugins=host)


def _message(path: str, exc: Exception) -> str:
    if isinstance(exc, OSError):
        return f"policy {path} is unavailable: {exc.strerror or exc}"
    text = str(exc)
    return text if path in text else f"policy {path} is invalid: {text}"
