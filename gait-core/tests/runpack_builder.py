"""Small runpacks for regress tests, built the way section 1.1/1.4 of the spec lays them out:
JCS members, file sha256s and the manifest digest, in a zip written with the standard library."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gait.canonical import canonical_json, digest
from gait.contracts import (
    IntentRecord,
    ManifestFile,
    Receipt,
    RefsRecord,
    ResultRecord,
    RunEnv,
    RunpackManifest,
    RunRecord,
    TimelineEvent,
    to_wire,
)
from gait.timefmt import GoTime

CREATED = "2026-02-05T00:00:00Z"


def runpack_members(
    run_id: str = "run_demo",
    *,
    tools: Sequence[str] = ("tool.search", "tool.fetch", "tool.summarize"),
    statuses: Sequence[str] | None = None,
    results: Sequence[dict[str, Any] | None] | None = None,
    created_at: str = CREATED,
    context_set_digest: str = "",
    retrieved_at: str = CREATED,
    capture_mode: str = "reference",
) -> dict[str, bytes]:
    """The five members of a runpack with one intent per tool and one result per intent."""
    when = GoTime.parse(created_at)
    common: dict[str, Any] = {
        "created_at": when,
        "producer_version": "0.0.0-test",
        "run_id": run_id,
    }
    run = RunRecord(
        **common,
        env=RunEnv(os="test", arch="test", runtime="go"),
        timeline=(TimelineEvent(event="start", ts=when),),
    )
    intents = [
        IntentRecord(
            **common, intent_id=f"intent_{i}", tool_name=tool, args_digest=digest({"i": i})
        )
        for i, tool in enumerate(tools, 1)
    ]
    statuses = statuses if statuses is not None else ["ok"] * len(tools)
    payloads = results if results is not None else [None] * len(statuses)
    result_records = [
        ResultRecord(
            **common,
            intent_id=f"intent_{i}",
            status=status,
            result_digest=digest({"r": i}),
            result=payload,
        )
        for i, (status, payload) in enumerate(zip(statuses, payloads, strict=True), 1)
    ]
    receipts = tuple(
        Receipt(
            ref_id=f"ref_{i}",
            source_type="test",
            source_locator=tool,
            query_digest=hashlib.sha256(f"query-{i}".encode()).hexdigest(),
            content_digest=hashlib.sha256(f"content-{i}".encode()).hexdigest(),
            retrieved_at=GoTime.parse(retrieved_at),
            redaction_mode="reference",
            immutability="unknown",
        )
        for i, tool in enumerate(tools, 1)
    )
    refs = RefsRecord(
        **common,
        context_set_digest=context_set_digest,
        context_ref_count=len(receipts),
        receipts=receipts,
    )
    files = {
        "intents.jsonl": b"".join(canonical_json(to_wire(r)) + b"\n" for r in intents),
        "refs.json": canonical_json(to_wire(refs)),
        "results.jsonl": b"".join(canonical_json(to_wire(r)) + b"\n" for r in result_records),
        "run.json": canonical_json(to_wire(run)),
    }
    return with_manifest(files, capture_mode)


def with_manifest(members: dict[str, bytes], capture_mode: str = "reference") -> dict[str, bytes]:
    """The data members plus a manifest.json that describes them (any old one is replaced)."""
    files = {name: data for name, data in members.items() if name != "manifest.json"}
    run = json.loads(files["run.json"])
    manifest = RunpackManifest(
        created_at=GoTime.parse(run["created_at"]),
        producer_version=run["producer_version"],
        run_id=run["run_id"],
        capture_mode=capture_mode,
        files=tuple(
            ManifestFile(path=path, sha256=hashlib.sha256(files[path]).hexdigest())
            for path in sorted(files)
        ),
        manifest_digest="",
    )
    wire = to_wire(manifest)
    return {**files, "manifest.json": canonical_json({**wire, "manifest_digest": digest(wire)})}


def write_zip(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in sorted(members):
            archive.writestr(name, members[name])
    return path


def write_runpack(path: Path, run_id: str = "run_demo", **kwargs: Any) -> Path:
    return write_zip(path, runpack_members(run_id, **kwargs))
