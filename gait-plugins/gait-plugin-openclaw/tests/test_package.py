"""The shipped OpenClaw package: its manifest matches the files, its versions agree, its
metadata says what OpenClaw needs, and the wheel carries all of it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml
from gait_plugin_openclaw import __version__
from gait_plugin_openclaw.package import (
    EXECUTABLES,
    MANIFEST,
    PACKAGE_DIR,
    describe,
    verified_package,
)

from gait.errors import VerificationError

from .conftest import REPO

PLUGIN_ROOT = Path(__file__).resolve().parents[1]


def test_the_manifest_names_every_file_with_its_digest_and_mode() -> None:
    manifest = json.loads((PACKAGE_DIR / MANIFEST).read_text())
    on_disk = [f.to_json() for f in describe()]
    assert manifest["files"] == on_disk, (
        "the package changed: run `python -m gait_plugin_openclaw.package`"
    )
    assert manifest["version"] == __version__
    assert manifest["plugin_id"] == "gait"
    files, shipped = verified_package()
    assert shipped == (PACKAGE_DIR / MANIFEST).read_bytes()
    assert {f.path for f in files} == {
        "index.js",
        "gait-verdict.js",
        "package.json",
        "openclaw.plugin.json",
        "skills/gait-gate/SKILL.md",
        "skills/gait-gate/gait-check.mjs",
    }
    for entry in manifest["files"]:
        executable = os.access(PACKAGE_DIR / entry["path"], os.X_OK)
        assert executable == (entry["path"] in EXECUTABLES), entry["path"]


def test_a_changed_file_fails_verification(tmp_path: Path) -> None:
    copy = tmp_path / "package"
    shutil.copytree(PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    verified_package(copy)
    with (copy / "index.js").open("a") as handle:
        handle.write("// changed\n")
    with pytest.raises(VerificationError, match=r"does not match its gait-package\.json"):
        verified_package(copy)


def test_every_version_is_the_distributions() -> None:
    pyproject = tomllib.loads((PLUGIN_ROOT / "pyproject.toml").read_text())
    package = json.loads((PACKAGE_DIR / "package.json").read_text())
    plugin = json.loads((PACKAGE_DIR / "openclaw.plugin.json").read_text())
    assert pyproject["project"]["version"] == __version__
    assert package["version"] == plugin["version"] == __version__


def test_the_openclaw_metadata() -> None:
    package = json.loads((PACKAGE_DIR / "package.json").read_text())
    assert package["type"] == "module"
    assert package["openclaw"] == {"extensions": ["./index.js"]}
    plugin = json.loads((PACKAGE_DIR / "openclaw.plugin.json").read_text())
    assert plugin["id"] == "gait"
    assert plugin["activation"] == {"onStartup": True}
    assert plugin["skills"] == ["skills"]
    schema = plugin["configSchema"]
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == {
        "mode",
        "serveUrl",
        "tokenEnv",
        "plainBearer",
        "policy",
        "gaitBin",
        "proxyDir",
        "privateKey",
        "timeoutMs",
        "workspace",
    }


def test_the_skill_requires_gait_and_the_policy_variable() -> None:
    text = (PACKAGE_DIR / "skills" / "gait-gate" / "SKILL.md").read_text()
    _, front, body = text.split("---\n", 2)
    meta = yaml.safe_load(front)
    assert meta["name"] == "gait-gate"
    assert meta["description"]
    assert meta["metadata"]["openclaw"]["requires"] == {"bins": ["gait"], "env": ["GAIT_POLICY"]}
    assert "{baseDir}/gait-check.mjs" in body


def test_the_wheel_carries_the_package(tmp_path: Path) -> None:
    subprocess.run(
        [
            str(REPO / ".tools" / "bin" / "uv"),
            "build",
            "-q",
            "--wheel",
            "--package",
            "gait-plugin-openclaw",
            "-o",
            str(tmp_path),
        ],
        cwd=REPO,
        check=True,
    )
    (wheel,) = tmp_path.glob("gait_plugin_openclaw-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for entry in json.loads((PACKAGE_DIR / MANIFEST).read_text())["files"]:
            assert f"gait_plugin_openclaw/openclaw_plugin/{entry['path']}" in names
        assert f"gait_plugin_openclaw/openclaw_plugin/{MANIFEST}" in names
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "openclaw = gait_plugin_openclaw.plugin" in archive.read(entry_points).decode()
