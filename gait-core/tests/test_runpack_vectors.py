"""runpack_regress_ci.md section 1.6: the reference's manifest digests, rebuilt from records."""

from __future__ import annotations

import hashlib
import json
import zipfile
from typing import Any

import attrs

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
    from_wire,
    to_wire,
)
from gait.timefmt import GoTime

from .conftest import INTEROP

T0 = GoTime.parse("2026-02-05T00:00:00Z")


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _manifest_digest(
    files: dict[str, bytes], *, run: RunRecord, capture_mode: str
) -> tuple[str, dict[str, str]]:
    sums = {path: hashlib.sha256(files[path]).hexdigest() for path in sorted(files)}
    manifest = RunpackManifest(
        created_at=run.created_at,
        producer_version=run.producer_version,
        run_id=run.run_id,
        capture_mode=capture_mode,
        files=tuple(ManifestFile(path=p, sha256=s) for p, s in sums.items()),
        manifest_digest="",
    )
    return digest(to_wire(manifest)), sums


def _lines(records: list[Any]) -> bytes:
    return b"".join(canonical_json(to_wire(r)) + b"\n" for r in records)


def test_integration_golden_manifest_digest() -> None:
    common: dict[str, Any] = {
        "created_at": T0,
        "producer_version": "0.0.0-test",
        "run_id": "run_integration",
    }
    run = RunRecord(
        **common,
        env=RunEnv(os="test", arch="test", runtime="go"),
        timeline=(
            TimelineEvent(event="start", ts=T0),
            TimelineEvent(event="finish", ts=T0.add_nanos(2_000_000_000)),
        ),
    )
    tools = [
        ("tool.search", {"query": "offline test"}),
        ("tool.fetch", {"url": "https://example.local/resource"}),
    ]
    intents = [
        IntentRecord(**common, intent_id=f"intent_{i}", tool_name=tool, args_digest=digest(args))
        for i, (tool, args) in enumerate(tools, 1)
    ]
    results = [
        ResultRecord(
            **common,
            intent_id=f"intent_{i}",
            status="ok",
            result_digest=digest({"ok": True, "message": f"result_{i}"}),
        )
        for i in (1, 2)
    ]
    refs = RefsRecord(
        **common,
        context_ref_count=2,
        receipts=tuple(
            Receipt(
                ref_id=f"ref_{i}",
                source_type="integration-test",
                source_locator=tool,
                query_digest=_sha(f"query_{i}"),
                content_digest=_sha(f"content_{i}"),
                retrieved_at=T0,
                redaction_mode="reference",
                immutability="unknown",
            )
            for i, (tool, _) in enumerate(tools, 1)
        ),
    )
    files = {
        "intents.jsonl": _lines(intents),
        "refs.json": canonical_json(to_wire(refs)),
        "results.jsonl": _lines(results),
        "run.json": canonical_json(to_wire(run)),
    }
    manifest_digest, _ = _manifest_digest(files, run=run, capture_mode="reference")
    assert manifest_digest == "5df30db691a7623bbad16c19ddda77f801ac9aad853a615ca6511c628f21f5d8"


def test_demo_runpack_as_a_dev_build_writes_it() -> None:
    """The reference demo with producer_version 0.0.0-dev gives the derived digests of 1.6."""
    with zipfile.ZipFile(INTEROP / "runpack_run_demo.zip") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}

    def dev(record: Any) -> Any:
        return attrs.evolve(record, producer_version="0.0.0-dev")

    run = dev(from_wire(json.loads(members["run.json"]), RunRecord))
    refs = dev(from_wire(json.loads(members["refs.json"]), RefsRecord))
    intents = [
        dev(from_wire(json.loads(x), IntentRecord)) for x in members["intents.jsonl"].splitlines()
    ]
    results = [
        dev(from_wire(json.loads(x), ResultRecord)) for x in members["results.jsonl"].splitlines()
    ]
    files = {
        "intents.jsonl": _lines(intents),
        "refs.json": canonical_json(to_wire(refs)),
        "results.jsonl": _lines(results),
        "run.json": canonical_json(to_wire(run)),
    }
    manifest = json.loads(members["manifest.json"])
    manifest_digest, sums = _manifest_digest(files, run=run, capture_mode=manifest["capture_mode"])
    assert sums == {
        "intents.jsonl": "4a4f286c053bbaea4fbcb29a75828266410f934d2a5ec17f9746326421dfaaba",
        "refs.json": "d92024ef9f8da62eac544f5d9fe729b773d33c640ace32da8714add4d0037cc8",
        "results.jsonl": "cb43fa7288af3bb8f99096c0091744818dcca4fd5ab7b3302ad00be6326587be",
        "run.json": "3b4a95934a26c509618c07761cb6312473a376059d5000de008fca3ad8287925",
    }
    assert manifest_digest == "436474ad70446539c909ae85bcc156d30197ba68efb8debdaed4f5d2eef2922e"
