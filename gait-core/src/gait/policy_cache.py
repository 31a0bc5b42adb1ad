"""A per-user cache of parsed policy documents, keyed by the policy's bytes.

A hook that decides one tool call per process (`gait-gastown-hook --policy`) would otherwise
import PyYAML and parse the policy on every call, which costs more than the decision. The cache
holds what `parse_policy_document` made of the policy's bytes, as JSON; a hit skips PyYAML and
runs everything after the YAML parse as usual (typed decoding, validation, normalization,
digest, compilation), so a hit gives the same `CompiledPolicy` as a miss.

A cache entry must never change a decision:

- Its key is the SHA-256 of the policy's bytes, gait's version and the parser module's size and
  modification time (an edit of an editable install), and the entry names its key: an entry
  renamed or linked to another key's name is not used.
- Only data is cached, JSON that is validated again like any policy document; nothing is
  unpickled or executed.
- The cache is read or written only when the user running gait could edit the policy anyway:
  it owns the policy file and can open it for writing (see `_editable`), so a forged entry
  gives it nothing it could not get by editing the policy. A policy it cannot write (a
  read-only bind mount, as docs/security.md recommends against a same-user agent, an immutable
  file, a mode or security module that refuses it) or that another user owns, as a worker's
  policy is, never goes through the cache: that user (and the agent it runs) could otherwise
  forge an entry for a policy it cannot change. Owning a file is not being able to write it.
- An entry is used only when the user running gait owns the cache folder and the entry, and
  neither is writable by group or others (both are opened without following links).
- A document is cached only when JSON holds it exactly (str keys, str, int, finite float, bool,
  None, lists and objects), and anything unusable (a missing, foreign, malformed or oversized
  entry, a folder that cannot be made) falls back to parsing the YAML. Writing the cache is
  best effort: atomic, mode 0600, and a failure changes nothing but the speed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from pathlib import Path
from typing import Any

from gait import __version__, limits
from gait.errors import GaitError, InvalidInputError
from gait.policy import (
    CompiledPolicy,
    PolicyError,
    compile_policy,
    parse_policy_document,
    policy_from_document,
)

CACHE_FORMAT = "gait.policy_cache/1"
# A parsed document can be larger than its YAML (anchors expand); the parser's node limits
# bound it, and an entry beyond this is simply not cached.
MAX_ENTRY_BYTES = 8 * limits.MAX_POLICY_BYTES
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def cache_directory() -> Path:
    """Where entries live: `$GAIT_HOME/cache/policies` (default `~/.gait`)."""
    from gait.devkey import gait_home

    return gait_home() / "cache" / "policies"


def load_policy_file_cached(path: str | Path) -> CompiledPolicy:
    """`gait.policy.load_policy_file`, through the cache when this user could edit the policy."""
    read = _read_policy(path)
    if read is None:  # refused, or changed while read: decide as without the cache
        from gait.fsutil import read_regular_file

        try:
            data = read_regular_file(path, limits.MAX_POLICY_BYTES, what="policy")
        except InvalidInputError as exc:
            raise PolicyError(f"read policy: {exc}") from exc
        return compile_policy(policy_from_document(parse_policy_document(data)))
    data, st = read
    directory = cache_directory()
    if not _editable(path, st) or not _private_folder(directory, create=True):
        return compile_policy(policy_from_document(parse_policy_document(data)))
    try:
        key = cache_key(data)
    except OSError:  # no parser source to key on (a zipped install): no cache
        return compile_policy(policy_from_document(parse_policy_document(data)))
    entry = directory / f"{key}.json"
    document = read_entry(entry, key)
    if document is not None:
        try:
            return compile_policy(policy_from_document(document))
        except PolicyError:
            pass  # not what a valid policy parses to: decide from the YAML itself
    document = parse_policy_document(data)
    compiled = compile_policy(policy_from_document(document))  # an invalid policy raises here
    write_entry(entry, key, document)
    return compiled


_POLICY_READ_FLAGS = (
    os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
)
_POLICY_WRITE_FLAGS = (
    os.O_WRONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)
)


def _read_policy(path: str | Path) -> tuple[bytes, os.stat_result] | None:
    """The policy's bytes and the status of the descriptor they were read from, as
    `gait.fsutil.read_regular_file` reads them (non-blocking, a regular file of at most
    MAX_POLICY_BYTES); None for anything else, which the caller reads again through
    read_regular_file for its error (or, when the file changed meanwhile, without the cache)."""
    try:
        fd = os.open(path, _POLICY_READ_FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > limits.MAX_POLICY_BYTES:
            return None
        chunks: list[bytes] = []
        remaining = limits.MAX_POLICY_BYTES + 1
        while remaining > 0:
            chunk = os.read(fd, min(remaining, max(st.st_size + 1, 65536)))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    data = b"".join(chunks)
    if len(data) > limits.MAX_POLICY_BYTES:
        return None
    return data, st


def _editable(path: str | Path, read: os.stat_result) -> bool:
    """Whether this user owns the policy it read (`read`, the status of the descriptor it read
    from) and can write it: the file opens for writing (the kernel's own answer, which takes
    read-only mounts (EROFS), immutable files, modes and security modules into account) and is
    the file that was read (same device and inode). The write descriptor is closed at once,
    without writing; closing it still raises an inotify IN_CLOSE_WRITE event for the file,
    which a watcher of the policy may take for an edit. Whoever can replace the file in its
    folder can change the policy too, so the folder is not checked."""
    if read.st_uid != os.geteuid():
        return False
    try:
        fd = os.open(path, _POLICY_WRITE_FLAGS)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    finally:
        os.close(fd)
    return stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) == (read.st_dev, read.st_ino)


def cache_key(data: bytes) -> str:
    """Raises OSError when the parser's source cannot be stat'ed (then nothing is cached)."""
    # The YAML parser lives in gait.policy_yaml, which a cache hit must not import (it loads
    # PyYAML): its file is stat'ed where it lies, beside this module.
    parser = os.stat(Path(__file__).with_name("policy_yaml.py"))
    header = f"{CACHE_FORMAT}\0{__version__}\0{parser.st_size}\0{parser.st_mtime_ns}\0"
    return hashlib.sha256(header.encode() + data).hexdigest()


def _trusted(st: os.stat_result) -> bool:
    """Owned by this user and writable by nobody else."""
    return st.st_uid == os.geteuid() and not st.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _private_folder(directory: Path, *, create: bool) -> bool:
    """Whether `directory` is a folder (not a link) of this user's that others cannot write;
    made with mode 0700 when missing and `create` says so."""
    try:
        st = os.lstat(directory)
    except FileNotFoundError:
        if not create:
            return False
        try:
            directory.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            directory.mkdir(mode=0o700)
        except OSError:
            return False
        return _private_folder(directory, create=False)
    except OSError:
        return False
    return stat.S_ISDIR(st.st_mode) and _trusted(st)


def read_entry(entry: Path, key: str) -> Any | None:
    """The document the entry holds for `key`; None when there is none it may be taken from."""
    try:
        fd = os.open(entry, _OPEN_FLAGS)
    except OSError:
        return None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or not _trusted(st) or st.st_size > MAX_ENTRY_BYTES:
            return None
        raw = b""
        while chunk := os.read(fd, MAX_ENTRY_BYTES + 1 - len(raw)):
            raw += chunk
            if len(raw) > MAX_ENTRY_BYTES:
                return None
    except OSError:
        return None
    finally:
        os.close(fd)
    try:
        stored = json.loads(raw)
    except ValueError:
        return None
    if (
        not isinstance(stored, dict)
        or set(stored) != {"format", "key", "document"}
        or stored["format"] != CACHE_FORMAT
        or stored["key"] != key
        or not json_exact(stored["document"])
    ):
        return None
    return stored["document"]


def write_entry(entry: Path, key: str, document: Any) -> None:
    """Store `document` under `key` when JSON holds it exactly; any failure is ignored."""
    if not json_exact(document):
        return
    data = json.dumps(
        {"format": CACHE_FORMAT, "key": key, "document": document},
        ensure_ascii=True,
        allow_nan=False,
        separators=(",", ":"),
    ).encode("ascii")
    if len(data) > MAX_ENTRY_BYTES:
        return
    from gait.fsutil import write_atomic

    try:
        write_atomic(entry, data, 0o600, what="policy cache entry")
    except (GaitError, OSError):
        return


def json_exact(value: Any) -> bool:
    """Whether JSON gives `value` back with the same types and values (recursion is bounded
    by the parser's nesting limit)."""
    kind = type(value)
    if value is None or kind is bool or kind is int or kind is str:
        return True
    if kind is float:
        return math.isfinite(value)
    if kind is list:
        return all(json_exact(item) for item in value)
    if kind is dict:
        return all(type(k) is str and json_exact(v) for k, v in value.items())
    return False
