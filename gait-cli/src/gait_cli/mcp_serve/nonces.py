"""The nonce ledger of `gait mcp serve`: an HMAC request is decided once (docs/security.md,
"Replay").

A request that proves the token (`X-Gait-Auth`) is recorded by its nonce until its time plus
`serviceauth.MAX_CLOCK_SKEW_SECONDS`, when the time check refuses it anyway; a nonce already
recorded is a replay (401 `replayed request`). The ledger is shared by every worker of one
service: `--workers N` spreads connections over N processes, so a replay could reach any of
them.

The table is a file in memory (`memfd_create`; an unlinked temporary file where there is none)
that the server creates before it serves and its workers inherit, so nothing is ever left
behind, not even by SIGKILL. It holds SLOTS slots of (tag, expiry), 16 bytes each: the tag is a
keyed hash of the nonce (the key is random per service), found by linear probing within WINDOW
slots. A slot is free once its expiry has passed. A lookup and its insert are one step under
an fcntl lock on the file (released by the kernel if a worker dies holding it). When no slot of
the window is free the request is refused (503): an unexpired nonce is never forgotten.

Sized for the rate the service reaches (about 2,000 decisions/s): with a 60 s window a nonce
lives at most 120 s (a request may be dated up to 60 s ahead), so 240,000 entries at most,
under half of the 2^19 slots (8 MiB, shared).
"""

from __future__ import annotations

import fcntl
import hashlib
import mmap
import os
import struct
import tempfile
from typing import Any, Final

from gait.mcp import serviceauth

SLOTS: Final = 1 << 19
WINDOW: Final = 64
_SLOT: Final = struct.Struct("<8sQ")
_HEADER: Final = 64  # the hash key (16 bytes), then room
_KEY_BYTES: Final = 16

FRESH: Final = "fresh"
REPLAYED: Final = "replayed"
FULL: Final = "full"


def _size(slots: int, window: int) -> int:
    return _HEADER + (slots + window) * _SLOT.size


class NonceLedger:
    """The ledger in the file `fd` (created by `create`, inherited by the workers)."""

    def __init__(self, fd: int, *, slots: int = SLOTS, window: int = WINDOW) -> None:
        if slots & (slots - 1):
            raise ValueError("slots must be a power of two")
        self.fd = fd
        self.slots = slots
        self.window = window
        self._mask = slots - 1
        self._map = mmap.mmap(fd, _size(slots, window), mmap.MAP_SHARED)
        self._key = bytes(self._map[:_KEY_BYTES])

    @classmethod
    def create(cls, *, slots: int = SLOTS, window: int = WINDOW) -> NonceLedger:
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("gait-mcp-serve-nonces", os.MFD_CLOEXEC)
        else:  # pragma: no cover - systems without memfd
            fd = _unlinked_file()
        os.ftruncate(fd, _size(slots, window))
        os.pwrite(fd, os.urandom(_KEY_BYTES), 0)
        return cls(fd, slots=slots, window=window)

    def record(self, nonce: str, expires: int, now: float) -> str:
        """FRESH (recorded until `expires`), REPLAYED (recorded and not yet expired) or FULL."""
        tag = hashlib.blake2b(nonce.encode("ascii"), key=self._key, digest_size=8).digest()
        start = _HEADER + (int.from_bytes(tag, "little") & self._mask) * _SLOT.size
        end = start + self.window * _SLOT.size
        fcntl.lockf(self.fd, fcntl.LOCK_EX)
        try:
            region = self._map[start:end]
            found = region.find(tag)
            while found >= 0:
                if found % _SLOT.size == 0 and _SLOT.unpack_from(region, found)[1] >= now:
                    return REPLAYED
                found = region.find(tag, found + 1)
            for offset in range(0, len(region), _SLOT.size):
                if _SLOT.unpack_from(region, offset)[1] < now:
                    _SLOT.pack_into(self._map, start + offset, tag, expires)
                    return FRESH
            return FULL
        finally:
            fcntl.lockf(self.fd, fcntl.LOCK_UN)

    def close(self) -> None:
        self._map.close()
        os.close(self.fd)


def expiry(unix_time: str) -> int:
    """Until when a request dated `unix_time` could pass the time check."""
    return int(unix_time) + serviceauth.MAX_CLOCK_SKEW_SECONDS


def _unlinked_file() -> int:  # pragma: no cover - systems without memfd
    with tempfile.TemporaryFile() as handle:
        return os.dup(handle.fileno())


class Inherited:
    """The ledger's file, passed to a spawned worker (the same open file, by descriptor)."""

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def __reduce__(self) -> tuple[Any, ...]:
        from multiprocessing.reduction import DupFd

        return (_rebuild, (DupFd(self.fd),))


def _rebuild(dup: Any) -> Inherited:
    return Inherited(dup.detach())


# The ledger of this process (set before the app is built; None: the HMAC scheme is off).
CURRENT: NonceLedger | None = None
