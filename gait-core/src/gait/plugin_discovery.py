"""Find the `gait` entry points of installed distributions without importing importlib.metadata.

`gait --help` and `gait version` must start in a few milliseconds, and importlib.metadata alone
costs more than that. Installed distributions keep their entry points in
`<name>-<version>.dist-info/entry_points.txt` on sys.path; reading those files is all we need.

For the layouts this scanner does not read it answers through importlib.metadata instead, which
reads them all: a sys.path entry that is a file (a zip or an egg), a folder holding `.egg-info` or
`.egg` distributions, or a finder on sys.meta_path other than the standard PathFinder that offers
distributions (`find_distributions`). test_plugin_discovery checks both give the same entry points.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing and collections cost start-up time; mypy honours this name
if TYPE_CHECKING:
    from collections.abc import Iterable

GROUP = "gait"


class EntryPoint:
    __slots__ = ("dist", "name", "value", "version")

    def __init__(self, name: str, value: str, dist: str, version: str) -> None:
        self.name = name
        self.value = value
        self.dist = dist
        self.version = version

    def load(self) -> object:
        # __import__, not importlib.import_module: the importlib package (and the warnings
        # module it imports) is not loaded yet in a hook's process.
        module_name, _, attr_path = self.value.partition(":")
        __import__(module_name.strip())
        target: object = sys.modules[module_name.strip()]
        for part in attr_path.split("[")[0].strip().split(".") if attr_path else ():
            target = getattr(target, part)
        return target


def _normalize(name: str) -> str:
    return name.replace("-", "_").replace(".", "_").lower()


def canonical(name: str) -> str:
    """A distribution's name as entry points report it: lower case, `-` between words."""
    return _normalize(name).replace("_", "-")


class _Unreadable(Exception):
    """A layout the scanner does not read: importlib.metadata answers instead."""


def _parse_group(text: str, group: str) -> list[tuple[str, str]]:
    entries: list[tuple[str, str]] = []
    in_group = False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            in_group = line == f"[{group}]"
            continue
        if in_group and "=" in line:
            name, value = line.split("=", 1)
            entries.append((name.strip(), value.strip()))
    return entries


def _custom_finders() -> bool:
    """Whether a finder on sys.meta_path other than the standard PathFinder offers
    distributions (importlib.metadata asks every finder that has `find_distributions`)."""
    standard = getattr(sys.modules.get("_frozen_importlib_external"), "PathFinder", None)
    return any(
        finder is not standard and getattr(finder, "find_distributions", None) is not None
        for finder in sys.meta_path
    )


def _dist_infos(paths: Iterable[str]) -> Iterable[tuple[str, str, str]]:
    for entry in paths:
        try:
            names = os.listdir(entry or ".")
        except NotADirectoryError:  # a zip or an egg file on sys.path
            raise _Unreadable(entry) from None
        except OSError:
            continue
        for name in sorted(names):
            if name.endswith(".dist-info"):
                dist, _, version = name[: -len(".dist-info")].partition("-")
                yield os.path.join(entry or ".", name), dist, version
            elif name.endswith((".egg-info", ".egg")):
                raise _Unreadable(os.path.join(entry, name))


# What one scan of a sys.path found: (distribution, version, entry_points.txt text) per installed
# distribution, the first of a name winning. A process may look entry points up more than once
# (a hook's plugin selection, then its plugin host): the scan (a listdir per path entry, a file
# per distribution) is most of a lookup's cost, so a process makes it once per path.
_SCANS: dict[tuple[str, ...], list[tuple[str, str, str]]] = {}


def _scan(paths: tuple[str, ...]) -> list[tuple[str, str, str]]:
    found = _SCANS.get(paths)
    if found is None:
        try:
            if _custom_finders():
                raise _Unreadable("sys.meta_path")
            found = _scan_folders(paths)
        except _Unreadable:
            found = _scan_metadata(paths)
        _SCANS[paths] = found
    return found


def _scan_folders(paths: tuple[str, ...]) -> list[tuple[str, str, str]]:
    found = []
    seen: set[str] = set()
    for folder, dist, version in _dist_infos(paths):
        key = _normalize(dist)
        if key in seen:
            continue
        seen.add(key)
        try:
            with open(os.path.join(folder, "entry_points.txt"), encoding="utf-8") as handle:
                found.append((canonical(dist), version, handle.read()))
        except OSError:
            continue
    return found


def _scan_metadata(paths: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """The same scan through importlib.metadata, for the layouts `_scan_folders` does not read."""
    import importlib.metadata

    found = []
    seen: set[str] = set()
    for dist in importlib.metadata.distributions(path=list(paths)):
        name = dist.metadata["Name"] if dist.metadata is not None else None
        if not name:
            continue
        key = _normalize(name)
        if key in seen:
            continue
        seen.add(key)
        text = dist.read_text("entry_points.txt")
        if text is not None:
            found.append((canonical(name), dist.version, text))
    return found


def entry_points(group: str, paths: Iterable[str] | None = None) -> list[EntryPoint]:
    """Entry points of `group`, first distribution of a name on sys.path wins, sorted."""
    found = [
        EntryPoint(name, value, dist, version)
        for dist, version, text in _scan(tuple(sys.path if paths is None else paths))
        for name, value in _parse_group(text, group)
    ]
    found.sort(key=lambda ep: (ep.dist, ep.name))
    return found


def gait_entry_points(paths: Iterable[str] | None = None) -> list[EntryPoint]:
    """Entry points of the `gait` group, first distribution of a name on sys.path wins, sorted."""
    return entry_points(GROUP, paths)


def selected(entry_points: list[EntryPoint], allow: str | None) -> list[EntryPoint]:
    """Apply `GAIT_PLUGINS`: unset loads all, empty loads none, `a,b` loads those (by entry-point
    or distribution name)."""
    if allow is None:
        return entry_points
    wanted = {_normalize(part) for part in allow.split(",") if part.strip()}
    return [
        ep for ep in entry_points if _normalize(ep.name) in wanted or _normalize(ep.dist) in wanted
    ]
