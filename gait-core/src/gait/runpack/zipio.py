"""Runpack zip files: the deterministic writer and a reader that treats every zip as hostile.

The writer gives the same bytes for the same members (sorted names, fixed 1980 timestamp, mode
0644, deflate, no directory entries). Its deflate stream is zlib's, not Go's, so the bytes differ
from the reference's; compatibility rests on the member contents and the manifest digest.

The reader never trusts a size written in the zip. Before the central directory is parsed its
declared size is bounded, then the member count; while a member inflates, the bytes actually
produced are counted against the per-member limit and against the compressed bytes it could
have come from, so a zip bomb stops after at most one chunk past a limit.

Reading is the cost of verifying, so the reader does it itself rather than through
`ZipFile.open`: each member's local header is checked and its compressed bytes are read with
`os.pread` (no shared file position, so members can be read by several threads at once) and
inflated by ISA-L, about twice as fast as zlib on the same stream.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import struct
import threading
import zipfile
import zlib
from collections.abc import Collection, Iterator, Mapping, Sequence
from pathlib import Path
from typing import cast

import attrs
from isal import isal_zlib

from gait.errors import InvalidInputError, VerificationError
from gait.fsutil import write_atomic

# The reference's per-member limit (core/runpack/verify.go).
MAX_MEMBER_BYTES = 100 * 1024 * 1024
# A runpack has five members; the reader refuses zips with many more before reading any.
MAX_MEMBERS = 64
# Enough for MAX_MEMBERS entries with long names; bounds what the central directory parse holds.
MAX_CENTRAL_DIRECTORY_BYTES = 1024 * 1024
# Deflate tops out near 1032:1 on degenerate input; runpack JSON stays far below this ratio.
MAX_INFLATE_RATIO = 200
# Below this many inflated bytes the ratio is not checked: small JSON compresses very well.
RATIO_CHECK_FLOOR_BYTES = 1024 * 1024
# Compressed bytes read at a time, and the most inflated bytes one step yields: together with
# the inflater's state, what reading one member holds, whatever the member's size.
READ_BYTES = 64 * 1024
CHUNK_BYTES = 128 * 1024
# A second thread pays for its start only when the members the first one does not take first
# are at least this large (compressed); a demo runpack is read by one thread.
PARALLEL_MIN_BYTES = 128 * 1024

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_MEMBER_MODE = 0o100644  # a regular file, rw-r--r--
_UNIX = 3
# Go's archive/zip writes this "extended timestamp" extra field (mtime 1980-01-01T00:00:00Z).
_EXTENDED_TIMESTAMP = struct.pack("<HHBI", 0x5455, 5, 1, 315532800)

_EOCD = struct.Struct("<4s4H2LH")
_EOCD_SIGNATURE = b"PK\x05\x06"
_ZIP64_MARKER_16, _ZIP64_MARKER_32 = 0xFFFF, 0xFFFFFFFF
_MAX_COMMENT = 0xFFFF
_STORED, _DEFLATED = zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED
# What zipfile raises on malformed structures, beyond its own BadZipFile (NotImplementedError:
# a "version needed to extract" it does not know).
_MALFORMED_ZIP = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    ValueError,
    struct.error,
    NotImplementedError,
)
# signature, version, flags, method, time, date, crc, sizes, name length, extra length
_LOCAL_HEADER = struct.Struct("<4s5H3L2H")
_LOCAL_HEADER_SIGNATURE = b"PK\x03\x04"
_ENCRYPTED_FLAGS = 0x1 | 0x40  # traditional and strong encryption
_PATCHED_DATA_FLAG = 0x20
_UTF8_NAME_FLAG = 0x800
# isal's stub types its exception class as an instance.
_INFLATE_ERROR = cast("type[Exception]", isal_zlib.error)


def unsafe_member_name(name: str) -> bool:
    """Absolute names, drive letters, backslashes and `..` segments never belong in a runpack."""
    if not name or "\\" in name or "\x00" in name:
        return True
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return True
    return ".." in name.split("/")


def write_runpack_zip(path: Path, members: Mapping[str, bytes]) -> None:
    """Write `members` as a deterministic zip, atomically, with file mode 0600."""
    write_atomic(path, runpack_zip_bytes(members), what="runpack")


def runpack_zip_bytes(members: Mapping[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(members, key=lambda n: n.encode("utf-8")):
            if unsafe_member_name(name) or name.endswith("/"):
                raise InvalidInputError(f"unsafe runpack member name: {name!r}")
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = _DEFLATED
            info.create_system = _UNIX
            info.external_attr = _MEMBER_MODE << 16
            info.extra = _EXTENDED_TIMESTAMP
            archive.writestr(info, members[name])
    return buffer.getvalue()


def _check_end_record(handle: io.BufferedReader, file_size: int, path: Path) -> None:
    """Refuse, before zipfile parses anything, a file without an end record or whose central
    directory is larger than a runpack's can be.

    A runpack never needs zip64 (at most 64 members of at most 100 MiB), so an end record that
    defers to a zip64 record is refused rather than followed.
    """
    tail_size = min(file_size, _EOCD.size + _MAX_COMMENT)
    handle.seek(file_size - tail_size)
    tail = handle.read(tail_size)
    position = tail.rfind(_EOCD_SIGNATURE)
    if position < 0 or len(tail) - position < _EOCD.size:
        raise InvalidInputError(f"open zip: {path}: not a zip file")
    fields = _EOCD.unpack_from(tail, position)
    entries, size = fields[4], fields[5]
    if entries == _ZIP64_MARKER_16 or size == _ZIP64_MARKER_32:
        raise InvalidInputError(f"open zip: {path}: zip64 archives are not supported")
    if size > MAX_CENTRAL_DIRECTORY_BYTES:
        raise InvalidInputError(
            f"open zip: {path}: central directory of {size} bytes exceeds "
            f"{MAX_CENTRAL_DIRECTORY_BYTES}"
        )


def _duplicate_names(names: list[str]) -> list[str]:
    seen: set[str] = set()
    duplicates: set[str] = set()
    for name in names:
        normalized = name.strip().replace("\\", "/")
        if normalized in seen:
            duplicates.add(normalized)
        seen.add(normalized)
    return sorted(duplicates)


def _damaged(name: str, why: object) -> VerificationError:
    return VerificationError(f"zip entry {name} is damaged: {why}")


def _inflate(compressed: Iterator[bytes], name: str) -> Iterator[bytes]:
    """Inflate a raw deflate stream, at most CHUNK_BYTES per step, to its end marker."""
    inflater = isal_zlib.decompressobj(-zlib.MAX_WBITS)
    pending = b""
    while not inflater.eof:
        fed = pending or next(compressed, b"")
        chunk = inflater.decompress(fed, CHUNK_BYTES)
        pending = inflater.unconsumed_tail
        if chunk:
            yield chunk
        elif len(pending) == len(fed):
            raise _damaged(name, "deflate stream ends early")


@attrs.frozen
class HashedMember:
    sha256: str
    data: bytes | None  # the member's bytes when the caller asked to keep them


class RunpackArchive:
    """An open runpack zip whose central directory passed the structural checks."""

    def __init__(self, archive: zipfile.ZipFile, fd: int, file_size: int) -> None:
        self._fd = fd
        self._file_size = file_size
        self._directory_start = archive.start_dir
        self.members = {info.filename: info for info in archive.infolist()}

    def _compressed(self, info: zipfile.ZipInfo) -> Iterator[bytes]:
        """The stored bytes of a member, after its local header agrees with the directory."""
        name = info.filename
        if not 0 <= info.header_offset <= self._directory_start - _LOCAL_HEADER.size:
            raise _damaged(name, "local header offset outside the archive")
        header = os.pread(self._fd, _LOCAL_HEADER.size, info.header_offset)
        if len(header) != _LOCAL_HEADER.size:
            raise _damaged(name, "truncated local header")
        fields = _LOCAL_HEADER.unpack(header)
        flags, name_length, extra_length = fields[2], fields[9], fields[10]
        if fields[0] != _LOCAL_HEADER_SIGNATURE:
            raise _damaged(name, "bad local header signature")
        start = info.header_offset + _LOCAL_HEADER.size
        local_name = os.pread(self._fd, name_length, start)
        encoding = "utf-8" if flags & _UTF8_NAME_FLAG else "cp437"
        if local_name.decode(encoding, errors="replace") != info.orig_filename:
            raise _damaged(name, "local header names another file")
        position = start + name_length + extra_length
        remaining = info.compress_size
        if position + remaining > self._directory_start:
            raise _damaged(name, "data runs into the central directory")
        while remaining:
            data = os.pread(self._fd, min(READ_BYTES, remaining), position)
            if not data:
                raise _damaged(name, "file ends inside the member")
            position += len(data)
            remaining -= len(data)
            yield data

    def chunks(self, name: str, *, limit: int = MAX_MEMBER_BYTES) -> Iterator[bytes]:
        """The inflated bytes of a member in chunks, within the size and ratio limits.

        A member whose stored bytes are damaged (bad CRC, broken deflate stream, headers that
        disagree, more bytes than the directory declares) fails verification; a member over a
        limit is refused as input. Fewer bytes than declared is not damage (zipfile's rule):
        declared sizes are not trusted either way, the CRC and the sha256 decide.
        """
        info = self.members[name]
        if info.flag_bits & _ENCRYPTED_FLAGS:
            raise InvalidInputError(f"zip entry {name} is encrypted")
        if info.compress_type not in (_STORED, _DEFLATED):
            raise InvalidInputError(
                f"zip entry {name} uses unsupported compression method {info.compress_type}"
            )
        if info.flag_bits & _PATCHED_DATA_FLAG:
            raise InvalidInputError(f"zip entry {name} uses unsupported patched data")
        compressed = max(1, min(info.compress_size, self._file_size))
        ratio_budget = max(RATIO_CHECK_FLOOR_BYTES, MAX_INFLATE_RATIO * compressed)
        stored = self._compressed(info)
        inflated_chunks = _inflate(stored, name) if info.compress_type == _DEFLATED else stored
        inflated = 0
        crc = 0
        try:
            for chunk in inflated_chunks:
                inflated += len(chunk)
                if inflated > info.file_size:
                    raise _damaged(name, "more bytes than its header declares")
                if inflated > limit:
                    raise InvalidInputError(f"zip entry exceeds max size: {name}")
                if inflated > ratio_budget:
                    raise InvalidInputError(
                        f"zip entry {name} inflates more than {MAX_INFLATE_RATIO}x its "
                        "compressed size"
                    )
                crc = isal_zlib.crc32(chunk, crc)
                yield chunk
        except _INFLATE_ERROR as exc:
            raise _damaged(name, exc) from exc
        if crc != info.CRC:
            raise _damaged(name, "bad CRC-32")

    def read(self, name: str, *, limit: int = MAX_MEMBER_BYTES) -> bytes:
        return b"".join(self.chunks(name, limit=limit))

    def sha256(self, name: str) -> str:
        return self._hash(name, keep=False).sha256

    def _hash(self, name: str, *, keep: bool) -> HashedMember:
        digest = hashlib.sha256()
        kept = []
        for chunk in self.chunks(name):
            digest.update(chunk)
            if keep:
                kept.append(chunk)
        return HashedMember(digest.hexdigest(), b"".join(kept) if keep else None)

    def hash_members(
        self, names: Sequence[str], *, keep: Collection[str] = ()
    ) -> dict[str, HashedMember]:
        """The sha256 of each member (and the bytes of those in `keep`), several at a time.

        Inflating and hashing large buffers release the GIL, so on two cores the two large
        members of a runpack (intents and results) take about the time of one. Threads take
        the largest members first. The first error in the order of `names` is raised, whichever
        thread met it, so the outcome does not depend on timing.
        """
        largest_first = iter(
            sorted(names, key=lambda name: self.members[name].compress_size, reverse=True)
        )
        outcomes: dict[str, HashedMember | Exception] = {}

        def work() -> None:
            for name in largest_first:  # shared: each name goes to exactly one thread
                try:
                    outcomes[name] = self._hash(name, keep=name in keep)
                except Exception as exc:  # raised below, in the caller's thread
                    outcomes[name] = exc

        helpers = [
            threading.Thread(target=work, name="gait-runpack-read", daemon=True)
            for _ in range(self._helper_threads(names))
        ]
        for helper in helpers:
            helper.start()
        try:
            work()
        finally:
            for helper in helpers:
                helper.join()
        hashed = {}
        for name in names:
            outcome = outcomes[name]
            if isinstance(outcome, Exception):
                raise outcome
            hashed[name] = outcome
        return hashed

    def _helper_threads(self, names: Sequence[str]) -> int:
        sizes = sorted((self.members[name].compress_size for name in names), reverse=True)
        if sum(sizes[1:]) < PARALLEL_MIN_BYTES:
            return 0
        return min(len(sizes), os.cpu_count() or 1) - 1


@contextlib.contextmanager
def open_runpack_archive(path: Path) -> Iterator[RunpackArchive]:
    """Open a zip for reading; InvalidInputError for what is not a usable zip, VerificationError
    for duplicate or unsafe member names."""
    try:  # non-blocking: a FIFO named like a runpack must not hang the command
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise InvalidInputError(f"open zip: {path}: {exc.strerror or exc}") from exc
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise InvalidInputError(f"open zip: {path}: it is not a regular file")
    handle = os.fdopen(fd, "rb")
    with handle:
        file_size = os.fstat(handle.fileno()).st_size
        _check_end_record(handle, file_size, path)
        handle.seek(0)
        try:
            archive = zipfile.ZipFile(handle)
        except _MALFORMED_ZIP as exc:
            raise InvalidInputError(f"open zip: {path}: {exc}") from exc
        with archive:
            names = [info.filename for info in archive.infolist()]
            if len(names) > MAX_MEMBERS:
                raise InvalidInputError(
                    f"open zip: {path}: {len(names)} entries exceed the limit of {MAX_MEMBERS}"
                )
            duplicates = _duplicate_names(names)
            if duplicates:
                raise VerificationError("zip contains duplicate entries: " + ", ".join(duplicates))
            unsafe = sorted(name for name in names if unsafe_member_name(name))
            if unsafe:
                raise VerificationError("zip contains unsafe entry names: " + ", ".join(unsafe))
            yield RunpackArchive(archive, handle.fileno(), file_size)
