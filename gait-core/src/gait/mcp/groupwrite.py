"""Durable new files, written many at a time: the trace writer of `gait mcp serve`.

One thread per directory takes every file waiting to be written and writes each into an
unnamed file (O_TMPFILE). One `syncfs` makes the batch's data durable together with the names
given to the previous batch; then the batch's files are linked to their names, and answered
after the next flush (the next batch's `syncfs`, or a directory fsync when nothing else waits).
The answers of a batch go back to the event loop in one call. A file is named only after its
data is on disk, so a reader or a crash (power loss or SIGKILL) sees a whole file or none, and
no answer is sent before its file and its name are durable.

Where `syncfs` or O_TMPFILE is missing, it falls back to `artifacts.write_new` per file.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import threading
import time
from pathlib import Path
from typing import Any, Final

from gait.mcp.artifacts import timestamp_ns, write_new

_BATCH: Final = 256


def _syncfs() -> Any:
    """libc's syncfs, or None (loaded on first use: only the service needs it)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.syncfs
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int]
    return function


def _unnamed_files(directory: Path) -> bool:
    """Whether the directory's file system makes files without names (O_TMPFILE)."""
    if not hasattr(os, "O_TMPFILE"):
        return False
    try:
        os.close(os.open(directory, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600))
    except OSError:
        return False
    return True


class GroupWriter:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._fd = os.open(directory, os.O_RDONLY)
        self._syncfs: Any = _syncfs() if _unnamed_files(directory) else None
        self._jobs: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="gait-trace-writer", daemon=True)
        self._thread.start()

    def write(self, prefix: str, suffix: str, data: bytes) -> asyncio.Future[Path]:
        """Queue one file; the future resolves to its path once it is durable, name included."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Path] = loop.create_future()
        self._jobs.put((loop, future, prefix, suffix, data))
        return future

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=30)
        os.close(self._fd)

    def _run(self) -> None:
        """Each flush makes two things durable: the data of the batch being written, and the
        names given to the previous batch (a `syncfs` commits the file system's journal), so a
        busy writer flushes once per batch. With nothing more to write, a directory fsync
        makes the last names durable at once."""
        linked: list[tuple[Any, Any]] = []  # named, but the names are not yet durable
        while True:
            if linked:
                try:
                    first = self._jobs.get_nowait()
                except queue.Empty:
                    linked = self._answer(linked, self._fsync_directory())
                    continue
            else:
                first = self._jobs.get()
            batch = [first]
            while len(batch) < _BATCH:
                try:
                    batch.append(self._jobs.get_nowait())
                except queue.Empty:
                    break
            jobs = [job for job in batch if job is not None]
            if self._syncfs is None:
                self._answer([(job, self._one(job)) for job in jobs], None)
            else:
                written = [(job, self._unnamed(job)) for job in jobs]
                error = self._flush() if jobs or linked else None
                linked = self._answer(linked, error)
                linked = [
                    (job, error or (self._link(r, job) if isinstance(r, int) else r))
                    for job, r in written
                ]
            if None in batch:
                self._answer(linked, self._fsync_directory() if linked else None)
                return

    def _answer(self, done: list[tuple[Any, Any]], error: OSError | None) -> list[Any]:
        by_loop: dict[Any, list[tuple[asyncio.Future[Path], Any]]] = {}
        for job, result in done:
            by_loop.setdefault(job[0], []).append((job[1], error or result))
        for loop, answers in by_loop.items():
            with contextlib.suppress(RuntimeError):  # a loop that has closed
                loop.call_soon_threadsafe(_resolve, answers)
        return []

    def _unnamed(self, job: Any) -> int | OSError:
        try:
            fd = os.open(self.directory, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            return exc
        try:
            view = memoryview(job[4])
            while view:
                view = view[os.write(fd, view) :]
        except OSError as exc:
            os.close(fd)
            return exc
        return fd

    def _flush(self) -> OSError | None:
        assert self._syncfs is not None
        if self._syncfs(self._fd) != 0:
            import ctypes

            error = ctypes.get_errno()
            return OSError(error, os.strerror(error))
        return None

    def _fsync_directory(self) -> OSError | None:
        try:
            os.fsync(self._fd)
        except OSError as exc:
            return exc
        return None

    def _link(self, fd: int, job: Any) -> Path | OSError:
        now = time.time_ns()
        try:
            while True:
                path = self.directory / f"{job[2]}{timestamp_ns(now)}{job[3]}"
                try:
                    os.link(f"/proc/self/fd/{fd}", path, src_dir_fd=self._fd, follow_symlinks=True)
                except FileExistsError:
                    now += 1
                    continue
                return path
        except OSError as exc:
            return exc
        finally:
            os.close(fd)

    def _one(self, job: Any) -> Any:
        try:
            return write_new(self.directory, job[2], job[3], job[4])
        except OSError as exc:
            return exc


def _resolve(answers: list[tuple[asyncio.Future[Path], Any]]) -> None:
    for future, result in answers:
        if future.done():
            continue
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)
