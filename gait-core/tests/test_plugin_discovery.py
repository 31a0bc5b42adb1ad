"""The entry-point scanner (gait.plugin_discovery) against importlib.metadata: the same entries
on the real environment, and importlib.metadata's answer for the layouts the scanner does not
read (a zip on sys.path, an egg-info distribution, a custom finder on sys.meta_path)."""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
import zipfile
from collections.abc import Iterable
from pathlib import Path

import pytest

from gait import plugin_discovery
from gait.plugin_discovery import canonical, entry_points, gait_entry_points

REPO = Path(__file__).resolve().parents[2]
ENTRY_POINTS = (
    "[gait]\nsample = sample_mod:plugin\n[console_scripts]\nsample-tool = sample_mod:main\n"
)


def project_groups() -> set[str]:
    """Every entry-point group the workspace's projects declare."""
    groups = {"gait", "console_scripts"}
    for pyproject in [*REPO.glob("*/pyproject.toml"), *REPO.glob("gait-plugins/*/pyproject.toml")]:
        project = tomllib.loads(pyproject.read_text()).get("project", {})
        groups |= set(project.get("entry-points", {}))
        if project.get("gui-scripts"):
            groups.add("gui_scripts")
    return groups


def ours(group: str, paths: Iterable[str] | None = None) -> set[tuple[str, str, str, str]]:
    return {(ep.dist, ep.version, ep.name, ep.value) for ep in entry_points(group, paths)}


def theirs(group: str, paths: list[str] | None = None) -> set[tuple[str, str, str, str]]:
    found: list[importlib.metadata.EntryPoint] = []
    if paths is None:
        found += importlib.metadata.entry_points(group=group)
    else:  # first distribution of a name wins, as importlib.metadata.entry_points does
        seen: set[str] = set()
        for dist in importlib.metadata.distributions(path=paths):
            if canonical(dist.metadata["Name"]) in seen:
                continue
            seen.add(canonical(dist.metadata["Name"]))
            found += [ep for ep in dist.entry_points if ep.group == group]
    return {
        (canonical(ep.dist.metadata["Name"]), ep.dist.version, ep.name, ep.value)
        for ep in found
        if ep.dist is not None
    }


@pytest.mark.parametrize("group", sorted(project_groups()))
def test_the_scanner_finds_what_importlib_metadata_finds(group: str) -> None:
    plugin_discovery._SCANS.clear()
    # The real environment is a layout the scanner reads itself (no fallback).
    assert not plugin_discovery._custom_finders()
    assert plugin_discovery._scan_folders(tuple(sys.path))
    assert ours(group) == theirs(group)
    if group == "gait":
        assert {name for _, _, name, _ in ours(group)} >= {"github", "otel", "beads"}


def _dist_files(version: str = "1.0") -> dict[str, str]:
    return {
        f"sample_dist-{version}.dist-info/METADATA": (
            f"Metadata-Version: 2.1\nName: sample-dist\nVersion: {version}\n"
        ),
        f"sample_dist-{version}.dist-info/entry_points.txt": ENTRY_POINTS,
        "sample_mod.py": "plugin = 'loaded from the zip'\n",
    }


def test_a_zip_on_sys_path_is_read_through_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, text in _dist_files().items():
            zipped.writestr(name, text)
    paths = [str(archive), str(tmp_path / "missing")]
    for group in ("gait", "console_scripts"):
        assert ours(group, paths) == theirs(group, paths) != set()
    (ep,) = gait_entry_points(paths)
    assert (ep.dist, ep.version, ep.name) == ("sample-dist", "1.0", "sample")
    monkeypatch.syspath_prepend(str(archive))
    monkeypatch.delitem(sys.modules, "sample_mod", raising=False)
    assert ep.load() == "loaded from the zip"


def test_an_egg_info_distribution_is_read_through_importlib_metadata(tmp_path: Path) -> None:
    site = tmp_path / "site"
    info = site / "sample_dist.egg-info"
    info.mkdir(parents=True)
    (info / "PKG-INFO").write_text("Metadata-Version: 1.2\nName: sample-dist\nVersion: 2.0\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    paths = [str(site)]
    for group in ("gait", "console_scripts"):
        assert ours(group, paths) == theirs(group, paths) != set()
    assert [(ep.dist, ep.version) for ep in gait_entry_points(paths)] == [("sample-dist", "2.0")]


class _Finder:
    """A finder that offers one distribution from a folder sys.path does not name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def find_spec(self, *args: object) -> None:
        return None

    def find_distributions(
        self,
        context: importlib.metadata.DistributionFinder.Context = ...,  # type: ignore[assignment]
    ) -> list[importlib.metadata.Distribution]:
        return [importlib.metadata.PathDistribution(p) for p in self.folder.glob("*.dist-info")]


def test_a_custom_finder_is_honoured_through_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hidden = tmp_path / "hidden"
    for name, text in _dist_files("3.0").items():
        (hidden / name).parent.mkdir(parents=True, exist_ok=True)
        (hidden / name).write_text(text)
    empty = tmp_path / "empty"
    empty.mkdir()
    paths = [str(empty)]
    assert gait_entry_points(paths) == []
    plugin_discovery._SCANS.clear()
    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, _Finder(hidden)])
    assert plugin_discovery._custom_finders()
    assert [(ep.dist, ep.version) for ep in gait_entry_points(paths)] == [("sample-dist", "3.0")]
    assert ours("gait", paths) == theirs("gait", paths)
    plugin_discovery._SCANS.clear()
