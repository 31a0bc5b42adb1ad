"""Atomic file writes (a reader sees the old file or the whole new one, never half of it), and
the lock file that keeps writers in different processes apart."""

from __future__ import annotations

import contextlib
import os
import stat
import time
from collections.abc import Iterator
from pathlib import Path

from gait.errors import InvalidInputError, StateContentionError, write_failure

# tempfile.mkstemp's flags: create the file or fail, and never follow a planted symlink.
_CREATE_FLAGS = (
    os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0)
)


def _create_beside(path: Path) -> tuple[int, str]:
    """Create and open a new owner-only file in the folder of `path`, as tempfile.mkstemp would.

    Not tempfile itself: importing it costs start-up time, and every decision writes a trace.
    """
    while True:
        name = os.path.join(path.parent, f".{path.name}.{os.urandom(6).hex()}.tmp")
        try:
            return os.open(name, _CREATE_FLAGS, 0o600), name
        except FileExistsError:
            continue


def write_atomic(
    path: Path, data: bytes, mode: int = 0o600, *, overwrite: bool = True, what: str = "file"
) -> None:
    """Write to a temporary file beside `path`, fsync, chmod, then move it into place.

    With `overwrite=False` the move is a hard link, which fails with FileExistsError instead of
    replacing a file that appeared in the meantime. An existing `path` that is not a regular file
    (a device such as /dev/null, a FIFO, a folder) is refused: renaming over it would replace
    the device for every program on the machine when run as root. Any other failure (a full or
    read-only file system, no permission) is a GaitError naming `what` and `path`, and leaves no
    temporary file behind.
    """
    directory = path.parent
    tmp_name = ""
    linking = False
    try:
        _refuse_special(path)
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = _create_beside(path)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, mode)
        if overwrite:
            os.replace(tmp_name, path)
        else:
            linking = True
            os.link(tmp_name, path)
            linking = False
            os.unlink(tmp_name)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        if linking and isinstance(exc, FileExistsError):
            raise  # the caller's answer to a file that appeared meanwhile, not a failure
        raise write_failure(path, exc, what) from exc
    finally:
        if tmp_name:
            # Already gone once moved into place. Otherwise best effort: the error being raised
            # says more than a failed clean-up would.
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)


@contextlib.contextmanager
def writing(path: str | os.PathLike[str], what: str = "file") -> Iterator[None]:
    """Turn an OSError raised in the block into the error envelope's write failure for `path`."""
    try:
        yield
    except OSError as exc:
        raise write_failure(path, exc, what) from exc


def _refuse_special(path: Path) -> None:
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise InvalidInputError(f"refusing to write {path}: it exists and is not a regular file")


@contextlib.contextmanager
def lock_file(
    lock: Path, *, timeout: float, stale_after: float, retry: float, what: str, body: bytes = b""
) -> Iterator[None]:
    """Hold `lock`, taken by creating it exclusively (the reference's lock between processes),
    and remove it on exit. Taking it is retried every `retry` seconds for up to `timeout`
    (then StateContentionError: "<what> lock timeout"); a lock older than `stale_after`
    seconds is taken as left by a dead holder and removed. `body` is written into it."""
    deadline = time.monotonic() + timeout
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    while True:
        try:
            fd = os.open(lock, flags, 0o600)
            break
        except FileExistsError:
            pass
        except OSError as exc:
            raise write_failure(lock, exc, f"{what} lock") from exc
        try:
            age = time.time() - os.stat(lock).st_mtime
        except FileNotFoundError:
            continue
        if age > stale_after:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(lock)
            continue
        if time.monotonic() >= deadline:
            raise StateContentionError(f"{what} lock timeout: {lock}")
        time.sleep(retry)
    try:
        try:
            if body:
                with writing(lock, f"{what} lock"):
                    os.write(fd, body)
        finally:
            os.close(fd)
        yield
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(lock)


class FileReadError(InvalidInputError):
    """A document that cannot be read; `reason` is the message without the file's name
    ("No such file or directory", "it is not a regular file", "exceeds 1048576 bytes")."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class NotRegularFileError(FileReadError):
    """A path handed in as a document names a FIFO, device, socket or folder."""


def _cannot_read(what: str, path: object, reason: str) -> FileReadError:
    return FileReadError(f"cannot read {what} {path}: {reason}", reason)


def _not_regular(what: str, path: object) -> NotRegularFileError:
    reason = "it is not a regular file"
    return NotRegularFileError(f"cannot read {what} {path}: {reason}", reason)


def _too_large(what: str, path: object, limit: int) -> FileReadError:
    reason = f"exceeds {limit} bytes"
    return FileReadError(f"{what} {path} {reason}", reason)


_READ_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_BINARY", 0)
)


def read_regular_file(path: str | os.PathLike[str], limit: int, *, what: str = "file") -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them; FileReadError otherwise.

    Opened non-blocking (opening a FIFO must not wait for a writer), then checked on the open
    descriptor (no race with a swap after a stat): a FIFO, device, socket or folder is refused
    with NotRegularFileError ("cannot read policy p: it is not a regular file").
    A file larger than `limit` is refused without reading more than `limit + 1` bytes. `what`
    names the document in messages ("cannot read policy p.yaml: ...").
    """
    try:
        fd = os.open(path, _READ_FLAGS)
    except OSError as exc:
        # A socket cannot be opened (ENXIO); say what it is rather than the errno.
        with contextlib.suppress(OSError):
            if not stat.S_ISREG(os.stat(path).st_mode):
                raise _not_regular(what, path) from None
        raise _cannot_read(what, path, exc.strerror or str(exc)) from exc
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(what, path)
        if st.st_size > limit:
            raise _too_large(what, path, limit)
        chunks: list[bytes] = []
        remaining = limit + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, max(st.st_size + 1, 65536)))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as exc:
        raise _cannot_read(what, path, exc.strerror or str(exc)) from exc
    finally:
        os.close(fd)
    data = b"".join(chunks) if len(chunks) != 1 else chunks[0]
    if len(data) > limit:
        raise _too_large(what, path, limit)
    return data
