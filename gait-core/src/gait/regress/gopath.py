"""Go's `path/filepath` on POSIX, for the paths regress prints and writes into its files.

Paths stay strings: `details.candidate_runpack` and the `output` field show a path exactly as
the reference builds it (`filepath.Join` cleans, the user's `--output` text is kept as typed).
"""

from __future__ import annotations

import posixpath


def clean(path: str) -> str:
    """`filepath.Clean`: "" becomes ".", and a leading `//` is one slash (normpath keeps it)."""
    cleaned = posixpath.normpath(path) if path else "."
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned


def join(*parts: str) -> str:
    """`filepath.Join`: empty parts are skipped, an absolute part does not restart the path."""
    kept = [part for part in parts if part]
    return clean("/".join(kept)) if kept else ""


def parent(path: str) -> str:
    """`filepath.Dir`: everything before the last slash, cleaned ("." when there is none)."""
    return clean(path[: path.rfind("/") + 1])


def base(path: str) -> str:
    """`filepath.Base`: the last element, trailing slashes ignored ("/" for a root path)."""
    if not path:
        return "."
    stripped = path.rstrip("/")
    if not stripped:
        return "/"
    return stripped[stripped.rfind("/") + 1 :]


def is_abs(path: str) -> bool:
    return path.startswith("/")
