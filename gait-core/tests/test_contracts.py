"""The wire records reproduce the reference's JSON and digests byte for byte."""

from __future__ import annotations

import json
import zipfile
from typing import Any

import pytest

from gait.canonical import canonical_json, digest
from gait.contracts import (
    ApprovalToken,
    GateResult,
    IntentRecord,
    RefsRecord,
    ResultRecord,
    RunpackManifest,
    RunRecord,
    TraceRecord,
    from_wire,
    to_wire,
)
from gait.errors import InvalidInputError
from gait.keys import KeySource, load_verify_key
from gait.signing import Signature, verify_digest
from gait.timefmt import GoTime

from .conftest import INTEROP

RUNPACKS = {
    "runpack_run_demo.zip": "e05313a9daff36b58efd659ac0cba1bb9de4af4c1971f6a10e56b8a98ac3b7b3",
    "runpack_run_tck_signed.zip": (
        "145318df409e6cd34adc043ee5949a26d299007ce7e633d35a7db25cac092af7"
    ),
}


def manifest_digest(manifest: RunpackManifest) -> str:
    body = to_wire(manifest)
    body.pop("signatures", None)
    body["manifest_digest"] = ""  # present but empty: leaving it out gives a different digest
    return digest(body)


@pytest.mark.parametrize(("name", "expected"), sorted(RUNPACKS.items()))
def test_runpack_records_round_trip_and_manifest_digest(name: str, expected: str) -> None:
    with zipfile.ZipFile(INTEROP / name) as archive:
        manifest_raw = json.loads(archive.read("manifest.json"))
        manifest = from_wire(manifest_raw, RunpackManifest)
        assert manifest_digest(manifest) == expected == manifest.manifest_digest
        for member, cls in [("run.json", RunRecord), ("refs.json", RefsRecord)]:
            data = archive.read(member)
            assert canonical_json(to_wire(from_wire(json.loads(data), cls))) == data
        records: list[tuple[str, type[Any]]] = [
            ("intents.jsonl", IntentRecord),
            ("results.jsonl", ResultRecord),
        ]
        for member, record_cls in records:
            for line in archive.read(member).splitlines():
                record: Any = from_wire(json.loads(line), record_cls)
                assert canonical_json(to_wire(record)) == line


def test_signed_runpack_manifest_verifies_with_reference_key() -> None:
    key = load_verify_key(KeySource(path=str(INTEROP / "reference_public.key")), KeySource())
    with zipfile.ZipFile(INTEROP / "runpack_run_tck_signed.zip") as archive:
        raw = json.loads(archive.read("manifest.json"))
    signature = Signature.from_json(raw["signatures"][0])
    body = {k: v for k, v in raw.items() if k != "signatures"}
    verify_digest(signature, digest(body), key)


def test_reference_trace_round_trips() -> None:
    raw = json.loads((INTEROP / "trace_signed.json").read_text())
    trace = from_wire(raw, TraceRecord)
    assert to_wire(trace) == raw
    assert trace.observed_at.format() == "2026-11-21T23:17:19.580387221Z"


def test_omitempty_and_always_present_fields() -> None:
    result = GateResult(verdict="allow")
    assert to_wire(result) == {
        "schema_id": "gait.gate.result",
        "schema_version": "1.0.0",
        "created_at": "1980-01-01T00:00:00Z",
        "producer_version": "0.0.0-dev",
        "verdict": "allow",
        "reason_codes": [],
        "violations": [],
    }
    token = ApprovalToken(
        created_at=GoTime.parse("2026-02-06T00:00:00Z"),
        producer_version="0.1.0",
        token_id="t",
        approver_identity="alice",
        reason_code="ok",
        intent_digest="a" * 64,
        policy_digest="b" * 64,
        scope=("tool:tool.write",),
        expires_at=GoTime.parse("2026-02-06T01:00:00.5Z"),
    )
    wire = to_wire(token)
    assert "max_targets" not in wire and "signature" not in wire
    assert wire["expires_at"] == "2026-02-06T01:00:00.5Z"


def test_unknown_and_bad_fields_are_invalid_input() -> None:
    with pytest.raises(InvalidInputError, match="extra"):
        from_wire({"verdict": "allow", "surprise": 1}, GateResult)
    with pytest.raises(InvalidInputError):
        from_wire({"verdict": "allow", "created_at": "yesterday"}, GateResult)


@pytest.mark.parametrize(
    "change",
    [{"verdict": 5}, {"reason_codes": [1]}, {"created_at": 0}, {"violations": "a"}],
)
def test_json_types_are_not_coerced(change: dict[str, Any]) -> None:
    with pytest.raises(InvalidInputError):
        from_wire({"verdict": "allow", **change}, GateResult)
