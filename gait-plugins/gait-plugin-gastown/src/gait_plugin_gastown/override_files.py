"""One hooks-override file, read and written safely: the file's bytes from a regular file only
(a FIFO, socket, device or folder is refused at once, never waited on), parsed once (strict
JSON, duplicate keys refused), and written atomically in gt's own format (Go's indented JSON,
`marshal_indent`), or removed when it became empty.

An override file that is a symbolic link is followed: the link stays, and its target is
replaced atomically (an uninstall that empties it leaves `{}` there rather than remove a file
the link names). Only a link and a target both owned by the user running the install are
followed; any other link (another owner's, a dangling one, a loop) is refused with exit 6,
since following it could write where that user cannot.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from gait.errors import GaitError, InvalidInputError
from gait.fsutil import write_atomic
from gait.regress.gojson import marshal_indent

OVERRIDE_MODE = 0o644  # as gt writes them


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes; None when there is no file. A FIFO, socket, device or folder is
    refused at once (exit 6), never waited on."""
    from gait.fsutil import FileReadError, NotRegularFileError, read_regular_file
    from gait.limits import MAX_RECORD_BYTES

    try:
        return read_regular_file(path, MAX_RECORD_BYTES, what="hooks override")
    except NotRegularFileError:
        raise
    except FileReadError as exc:
        if isinstance(exc.__cause__, FileNotFoundError):
            return None
        raise GaitError(f"read {path}: {exc.reason}") from None


def read_override(path: Path) -> dict[str, Any]:
    data = read_bytes(path)
    return {} if data is None else parse_override(path, data)


def parse_override(path: Path, data: bytes) -> dict[str, Any]:
    from gait.strictjson import JSONReadError, loads

    try:  # one reading: rewriting a file with two copies of a key would silently drop one
        config = loads(data)
    except JSONReadError as exc:
        raise InvalidInputError(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(config, dict):
        raise InvalidInputError(f"{path} must hold a JSON object (gt's hooks config)")
    return config


MAX_LINK_HOPS = 8


def link_destination(path: Path) -> Path | None:
    """The file a symbolic link at `path` names, when it may be written through; None when
    `path` is no link. The chain is followed one link at a time (at most MAX_LINK_HOPS), and
    every link in it and the file it ends at must belong to the user running the install: a
    link of another user anywhere in the chain (one in a shared sticky folder, say) could send
    the write to a file of their choosing. A dangling link or a loop is refused too."""
    try:
        link = path.lstat()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise GaitError(f"read {path}: {exc.strerror or exc}") from None
    if not stat.S_ISLNK(link.st_mode):
        return None
    uid = os.geteuid()
    hop, info = path, link
    for _ in range(MAX_LINK_HOPS):
        if info.st_uid != uid:
            raise InvalidInputError(
                f"{path} is a symbolic link whose chain passes {hop}, a link that is not yours "
                f"(uid {info.st_uid}); refusing to write through it"
            )
        try:
            hop = hop.parent / os.readlink(hop)
            _check_folders(path, hop, uid)
            info = hop.lstat()
        except OSError as exc:
            raise InvalidInputError(
                f"{path} is a symbolic link to {hop}, which cannot be read "
                f"({exc.strerror or exc}); make it a file or point it at one"
            ) from None
        if stat.S_ISLNK(info.st_mode):
            continue
        if info.st_uid != uid:
            raise InvalidInputError(
                f"{path} is a symbolic link to {hop}, a file that is not yours "
                f"(uid {info.st_uid}); refusing to write through it"
            )
        if not stat.S_ISREG(info.st_mode):
            raise InvalidInputError(
                f"{path} is a symbolic link to {hop}, which is not a regular file; make it a "
                "file or point it at one"
            )
        return Path(os.path.realpath(hop))
    raise InvalidInputError(
        f"{path} is a symbolic link that still names a link after {MAX_LINK_HOPS} links (a loop?); "
        "point it at a file"
    )


def _check_folders(path: Path, hop: Path, uid: int) -> None:
    """Refuse a link target reached through a folder link of another user (anyone but `uid`
    or root): that user could point it at any folder."""
    parts = hop.parent.parts
    for index in range(1, len(parts) + 1):
        folder = Path(*parts[:index])
        info = folder.lstat()
        if stat.S_ISLNK(info.st_mode) and info.st_uid not in (uid, 0):
            raise InvalidInputError(
                f"{path} is a symbolic link to {hop}, reached through {folder}, a link that is "
                f"not yours (uid {info.st_uid}); refusing to write through it"
            )


def write_override(
    path: Path, before: bytes | None, config: dict[str, Any], *, linked: bool = False
) -> str:
    """Write `config` over the file read as `before` (None: there was none), or remove the file
    when the config is empty (a link's target gets `{}` instead: the link still names it); the
    action taken."""
    if not config and not linked:
        if before is None:
            return "unchanged"
        path.unlink()
        return "removed"
    data = marshal_indent(config)
    if data == before:
        return "unchanged"
    mode = OVERRIDE_MODE if before is None else path.stat().st_mode & 0o777
    write_atomic(path, data, mode)
    return "added" if before is None else "updated"
