"""The OpenClaw plugin shipped in this distribution (`openclaw_plugin/`) and its manifest.

`gait-package.json` names the version and, for every other file of the package, its path, mode
and SHA-256. It is deterministic (sorted keys, two-space indent), a test checks it against the
files, and the installer refuses a package that does not match it. After changing a file of the
package, write the manifest again with `python -m gait_plugin_openclaw.package`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final

import attrs

from gait.canonical import sha256_hex
from gait.errors import VerificationError
from gait_plugin_openclaw import __version__

PACKAGE_DIR: Final = Path(__file__).resolve().parent / "openclaw_plugin"
MANIFEST: Final = "gait-package.json"
PLUGIN_ID: Final = "gait"
SKILL: Final = "gait-gate"
SCHEMA_ID: Final = "gait.openclaw.package"
# The only program in the package; everything else is read, not run.
EXECUTABLES: Final = frozenset({f"skills/{SKILL}/gait-check.mjs"})


@attrs.frozen
class PackageFile:
    path: str  # relative, with "/"
    mode: int
    data: bytes = attrs.field(repr=False)
    sha256: str = attrs.field(init=False)

    @sha256.default
    def _digest(self) -> str:
        return sha256_hex(self.data)

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "mode": f"{self.mode:04o}", "sha256": self.sha256}


def _mode(path: str) -> int:
    return 0o755 if path in EXECUTABLES else 0o644


def package_paths(root: Path = PACKAGE_DIR) -> list[str]:
    """Every file of the package on disk but the manifest, sorted."""
    return sorted(
        path.relative_to(root).as_posix()
        for path in root.rglob("*")
        if path.is_file()
        and path.name != MANIFEST
        and "__pycache__" not in path.parts
        and not path.name.startswith(".")
    )


def describe(root: Path = PACKAGE_DIR) -> list[PackageFile]:
    """The package's files as they are on disk (each read once: what is checked is what is
    installed)."""
    return [
        PackageFile(path, _mode(path), (root / path).read_bytes()) for path in package_paths(root)
    ]


def manifest_bytes(files: list[PackageFile]) -> bytes:
    manifest: dict[str, Any] = {
        "schema_id": SCHEMA_ID,
        "schema_version": "1.0.0",
        "plugin_id": PLUGIN_ID,
        "version": __version__,
        "files": [f.to_json() for f in files],
    }
    return (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()


def verified_package(root: Path = PACKAGE_DIR) -> tuple[list[PackageFile], bytes]:
    """The package's files and manifest, once the files on disk are exactly what the manifest
    names (VerificationError otherwise)."""
    files = describe(root)
    expected = manifest_bytes(files)
    try:
        shipped = (root / MANIFEST).read_bytes()
    except OSError as exc:
        raise VerificationError(f"the OpenClaw package has no readable {MANIFEST}: {exc}") from None
    if shipped != expected:
        raise VerificationError(
            f"the OpenClaw package in {root} does not match its {MANIFEST} (files changed "
            "after it was written); reinstall gait-plugin-openclaw"
        )
    return files, shipped


if __name__ == "__main__":
    from gait.fsutil import write_atomic

    write_atomic(PACKAGE_DIR / MANIFEST, manifest_bytes(describe()), 0o644)
