"""Building runpack zips by hand for tests: plain zipfile, so hostile layouts are possible."""

from __future__ import annotations

import hashlib
import json
import struct
import warnings
import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import rfc8785

from .conftest import INTEROP

DEMO_ZIP = INTEROP / "runpack_run_demo.zip"
TCK_ZIP = INTEROP / "runpack_run_tck_signed.zip"
REFERENCE_PUBLIC_KEY = INTEROP / "reference_public.key"
DATA_MEMBERS = ("intents.jsonl", "refs.json", "results.jsonl", "run.json")


def members_of(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def write_zip(
    path: Path,
    entries: Iterable[tuple[str, bytes]],
    *,
    method: int = zipfile.ZIP_DEFLATED,
) -> Path:
    """Entries in the given order, duplicates and odd names included."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns on duplicate names; they are the point
        with zipfile.ZipFile(path, "w", compression=method) as archive:
            for name, data in entries:
                archive.writestr(name, data)
    return path


def manifest_for(
    data: Mapping[str, bytes], *, run_id: str = "run_test", **fields: Any
) -> dict[str, Any]:
    """A v1 manifest over `data` with a correct digest (override any field with `fields`)."""
    manifest: dict[str, Any] = {
        "schema_id": "gait.runpack.manifest",
        "schema_version": "1.0.0",
        "created_at": "2026-02-05T00:00:00Z",
        "producer_version": "0.0.0-test",
        "run_id": run_id,
        "capture_mode": "reference",
        "files": [
            {"path": name, "sha256": hashlib.sha256(data[name]).hexdigest()}
            for name in sorted(data)
        ],
        "manifest_digest": "",
    }
    manifest.update(fields)
    manifest["manifest_digest"] = hashlib.sha256(
        rfc8785.dumps({**manifest, "manifest_digest": ""})
    ).hexdigest()
    return manifest


def runpack_with(path: Path, data: Mapping[str, bytes], manifest: Mapping[str, Any]) -> Path:
    entries = [("manifest.json", json.dumps(manifest).encode()), *data.items()]
    return write_zip(path, entries)


def patch_central_entry(
    raw: bytes,
    name: str,
    *,
    uncompressed: int | None = None,
    compressed: int | None = None,
    crc: int | None = None,
    header_offset: int | None = None,
) -> bytes:
    """Rewrite what the central directory records for `name`: sizes, CRC-32, where its local
    header is."""
    marker = b"PK\x01\x02"
    position = raw.find(marker)
    while position >= 0:
        name_length = struct.unpack_from("<H", raw, position + 28)[0]
        if raw[position + 46 : position + 46 + name_length] == name.encode():
            patched = bytearray(raw)
            fields = ((16, crc), (20, compressed), (24, uncompressed), (42, header_offset))
            for offset, value in fields:
                if value is not None:
                    struct.pack_into("<L", patched, position + offset, value)
            return bytes(patched)
        position = raw.find(marker, position + 4)
    raise AssertionError(f"{name} not in central directory")
