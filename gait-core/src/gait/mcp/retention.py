"""Artifact retention of `gait mcp serve` (integrations.md §1.9.7): keep files newer than a max
age and at most the newest max-count of each class in its directory."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Final

import attrs

CLASSES: Final = ("trace", "runpack", "pack", "session")


def matches(kind: str, name: str) -> bool:
    """Which files of a directory belong to a retention class."""
    lowered = name.strip().lower()
    if kind == "trace":
        return lowered.endswith(".json") and "trace" in lowered
    if kind == "runpack":
        return lowered.endswith(".zip") and (lowered.startswith("runpack_") or "_cp_" in lowered)
    if kind == "pack":
        return lowered.endswith(".zip") and lowered.startswith("pack_")
    if kind == "session":
        return lowered.endswith((".json", ".jsonl", ".state"))
    return False


@attrs.frozen(kw_only=True)
class Rule:
    kind: str
    directory: Path
    max_age_ns: int = 0
    max_count: int = 0

    @property
    def active(self) -> bool:
        return self.max_age_ns > 0 or self.max_count > 0


def apply(rule: Rule, now_ns: int | None = None) -> str:
    """Remove what the rule does not keep; the warning of §1.9.7, or "" when nothing was
    removed. Files another process removed first are skipped."""
    now = time.time_ns() if now_ns is None else now_ns
    try:
        entries = list(os.scandir(rule.directory))
    except OSError as exc:
        return f"retention_{rule.kind}_error={exc}"
    files: list[tuple[int, str]] = []
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and matches(rule.kind, entry.name):
                files.append((entry.stat(follow_symlinks=False).st_mtime_ns, entry.path))
        except FileNotFoundError:
            continue
    files.sort(reverse=True)  # newest first; equal times: greater path first
    by_age = by_count = 0
    for index, (mtime, path) in enumerate(files):
        too_old = rule.max_age_ns > 0 and now - mtime > rule.max_age_ns
        too_many = rule.max_count > 0 and index >= rule.max_count
        if not (too_old or too_many):
            continue
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            return f"retention_{rule.kind}_error={exc}"
        by_age += too_old
        by_count += too_many
    if not (by_age or by_count):
        return ""
    return f"retention_{rule.kind}_removed_age={by_age} removed_count={by_count}"
