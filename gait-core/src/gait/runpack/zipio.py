"""Runpack zip files: the deterministic writer and a reader that treats every zip as hostile.

The writer gives the same bytes for the same members (sorted names, fixed 1980 timestamp, mode
0644, deflate, no directory entries). Its deflate stream is zlib's, not Go's, so the bytes differ
from the reference's; compatibility rests on the member contents and the manifest digest.

The reader never trusts a size written in the zip. Before the central directory is parsed its
declared size is bounded, then the member count; while a member inflates, the bytes actually
produced are counted against the per-member limit and against the compressed bytes it could
have come from, so a zip bomb stops after at most one chunk past a limit.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path

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
CHUNK_BYTES = 64 * 1024

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
# What zipfile raises on malformed structures, beyond its own BadZipFile.
_MALFORMED_ZIP = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, struct.error)


def unsafe_member_name(name: str) -> bool:
    """Absolute names, drive letters, backslashes and `..` segments never belong in a runpack."""
    if not name or "\\" in name or "\x00" in name:
        return True
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return True
    return ".." in name.split("/")


def write_runpack_zip(path: Path, members: Mapping[str, bytes]) -> None:
    """Write `members` as a deterministic zip, atomically, with file mode 0600."""
    write_atomic(path, runpack_zip_bytes(members))


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


class RunpackArchive:
    """An open runpack zip whose central directory passed the structural checks."""

    def __init__(self, archive: zipfile.ZipFile, file_size: int) -> None:
        self._archive = archive
        self._file_size = file_size
        self.members = {info.filename: info for info in archive.infolist()}

    def chunks(self, name: str, *, limit: int = MAX_MEMBER_BYTES) -> Iterator[bytes]:
        """The inflated bytes of a member in chunks, within the size and ratio limits.

        A member whose stored bytes are damaged (bad CRC, broken deflate stream, headers that
        disagree) fails verification; a member over a limit is refused as input.
        """
        info = self.members[name]
        if info.flag_bits & 0x1:
            raise InvalidInputError(f"zip entry {name} is encrypted")
        if info.compress_type not in (_STORED, _DEFLATED):
            raise InvalidInputError(
                f"zip entry {name} uses unsupported compression method {info.compress_type}"
            )
        compressed = max(1, min(info.compress_size, self._file_size))
        ratio_budget = max(RATIO_CHECK_FLOOR_BYTES, MAX_INFLATE_RATIO * compressed)
        inflated = 0
        try:
            with self._archive.open(info) as stream:
                while chunk := stream.read(CHUNK_BYTES):
                    inflated += len(chunk)
                    if inflated > limit:
                        raise InvalidInputError(f"zip entry exceeds max size: {name}")
                    if inflated > ratio_budget:
                        raise InvalidInputError(
                            f"zip entry {name} inflates more than {MAX_INFLATE_RATIO}x its "
                            "compressed size"
                        )
                    yield chunk
        except (*_MALFORMED_ZIP, zlib.error) as exc:
            raise VerificationError(f"zip entry {name} is damaged: {exc}") from exc

    def read(self, name: str, *, limit: int = MAX_MEMBER_BYTES) -> bytes:
        return b"".join(self.chunks(name, limit=limit))

    def sha256(self, name: str) -> str:
        digest = hashlib.sha256()
        for chunk in self.chunks(name):
            digest.update(chunk)
        return digest.hexdigest()


@contextlib.contextmanager
def open_runpack_archive(path: Path) -> Iterator[RunpackArchive]:
    """Open a zip for reading; InvalidInputError for what is not a usable zip, VerificationError
    for duplicate or unsafe member names."""
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InvalidInputError(f"open zip: {path}: {exc.strerror or exc}") from exc
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
            yield RunpackArchive(archive, file_size)
