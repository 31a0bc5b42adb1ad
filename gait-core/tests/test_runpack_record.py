"""record_run / build_runpack: the reference's recording pipeline (sections 1.3 to 1.6)."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import stat
from pathlib import Path
from typing import Any

import attrs
import pytest

from gait.canonical import digest
from gait.errors import InvalidInputError
from gait.keys import SigningKey
from gait.runpack import (
    RecordInput,
    apply_context_policy,
    build_runpack,
    read_runpack,
    record_run,
    verify_runpack,
)
from gait.runpack.demo import demo_record_input
from gait.runpack.record import RAW_CAPTURE_WARNING, REFERENCE_STRIPPED_WARNING

from .conftest import INTEROP
from .runpack_zips import TCK_ZIP, members_of

TCK_DIGEST = "145318df409e6cd34adc043ee5949a26d299007ce7e633d35a7db25cac092af7"
T0 = "2026-02-05T00:00:00Z"


def tck_input() -> dict[str, Any]:
    value = json.loads((INTEROP / "run_record_input.json").read_text())
    assert isinstance(value, dict)
    return value


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def minimal_input(**changes: Any) -> dict[str, Any]:
    """One intent with args and its result, leaving every defaulted field out."""
    data: dict[str, Any] = {
        "run": {"run_id": "run_min", "created_at": T0},
        "intents": [{"intent_id": "i1", "tool_name": "tool.read", "args": {"path": "/a"}}],
        "results": [{"intent_id": "i1", "status": "ok", "result": {"ok": True}}],
        "refs": {},
    }
    data.update(changes)
    return data


def build(data: dict[str, Any], capture_mode: str = "reference") -> dict[str, Any]:
    built = build_runpack(RecordInput.from_json(data), capture_mode=capture_mode, signing_key=None)
    return {
        "manifest": built.manifest,
        "warnings": built.warnings,
        "run": json.loads(built.members["run.json"]),
        "intents": [json.loads(x) for x in built.members["intents.jsonl"].splitlines()],
        "results": [json.loads(x) for x in built.members["results.jsonl"].splitlines()],
        "refs": json.loads(built.members["refs.json"]),
    }


def test_the_reference_tck_input_gives_the_reference_members() -> None:
    source = apply_context_policy(
        RecordInput.from_json(tck_input()), evidence_mode="", allow_raw_context=False
    )
    built = build_runpack(source, capture_mode="reference", signing_key=None)
    assert built.manifest.manifest_digest == TCK_DIGEST
    reference = members_of(TCK_ZIP)
    for name in ("intents.jsonl", "refs.json", "results.jsonl", "run.json"):
        assert built.members[name] == reference[name], name
    unsigned = json.loads(reference["manifest.json"])
    del unsigned["signatures"]
    assert json.loads(built.members["manifest.json"]) == unsigned


def test_signing_adds_one_signature_and_keeps_the_digest(tmp_path: Path) -> None:
    key = SigningKey.generate()
    source = apply_context_policy(
        RecordInput.from_json(tck_input()), evidence_mode="", allow_raw_context=False
    )
    recorded = record_run(source, capture_mode="", signing_key=key, out_dir=tmp_path)
    assert recorded.manifest_digest == TCK_DIGEST
    assert recorded.signature_key_id == key.key_id
    assert len(recorded.manifest.signatures) == 1
    result = verify_runpack(recorded.path, public_key=key.public, require_signature=True)
    assert result.ok
    assert stat.S_IMODE(os.stat(recorded.path).st_mode) == 0o600
    assert recorded.path == tmp_path / "runpack_run_tck.zip"
    assert recorded.ticket_footer == (
        f'GAIT run_id=run_tck manifest=sha256:{TCK_DIGEST} verify="gait verify run_tck"'
    )


def test_the_integration_golden_digest() -> None:
    """internal/integration golden: 5df30db6... (section 1.6)."""
    common = {"created_at": T0, "producer_version": "0.0.0-test", "run_id": "run_integration"}
    tools = [
        ("tool.search", {"query": "offline test"}),
        ("tool.fetch", {"url": "https://example.local/resource"}),
    ]
    data = {
        "run": {
            **common,
            "env": {"os": "test", "arch": "test", "runtime": "go"},
            "timeline": [
                {"event": "start", "ts": T0},
                {"event": "finish", "ts": "2026-02-05T00:00:02Z"},
            ],
        },
        "intents": [
            {**common, "intent_id": f"intent_{n}", "tool_name": tool, "args": args}
            for n, (tool, args) in enumerate(tools, 1)
        ],
        "results": [
            {
                **common,
                "intent_id": f"intent_{n}",
                "status": "ok",
                "result": {"ok": True, "message": f"result_{n}"},
            }
            for n in (1, 2)
        ],
        "refs": {
            **common,
            "receipts": [
                {
                    "ref_id": f"ref_{n}",
                    "source_type": "integration-test",
                    "source_locator": tool,
                    "query_digest": _sha(f"query_{n}"),
                    "content_digest": _sha(f"content_{n}"),
                    "retrieved_at": T0,
                    "redaction_mode": "reference",
                }
                for n, (tool, _) in enumerate(tools, 1)
            ],
        },
        "capture_mode": "reference",
    }
    built = build(data)
    assert built["manifest"].manifest_digest == (
        "5df30db691a7623bbad16c19ddda77f801ac9aad853a615ca6511c628f21f5d8"
    )
    assert built["refs"]["context_ref_count"] == 2
    assert {r["immutability"] for r in built["refs"]["receipts"]} == {"unknown"}


@pytest.mark.parametrize(
    ("producer_version", "expected"),
    [
        ("0.0.0-dev", "436474ad70446539c909ae85bcc156d30197ba68efb8debdaed4f5d2eef2922e"),
        ("1.4.0-1-g1c480c5", "e05313a9daff36b58efd659ac0cba1bb9de4af4c1971f6a10e56b8a98ac3b7b3"),
    ],
)
def test_the_demo_content_matches_the_reference_demo(producer_version: str, expected: str) -> None:
    built = build_runpack(
        demo_record_input(producer_version), capture_mode="reference", signing_key=None
    )
    assert built.manifest.manifest_digest == expected


def test_defaults_fill_what_the_input_leaves_out() -> None:
    built = build(minimal_input(run={"run_id": "run_min"}))
    run = built["run"]
    assert run["schema_id"] == "gait.runpack.run"
    assert run["producer_version"] == "0.0.0-dev"
    assert run["env"]["runtime"] == "python"
    assert run["env"]["os"] and run["env"]["arch"]
    assert run["timeline"] == []
    assert run["created_at"].endswith("Z")
    intent = built["intents"][0]
    assert intent["created_at"] == run["created_at"]
    assert (intent["run_id"], intent["producer_version"]) == ("run_min", "0.0.0-dev")
    assert intent["schema_id"] == "gait.runpack.intent"
    assert built["refs"]["receipts"] == []
    assert built["refs"]["schema_id"] == "gait.runpack.refs"


def test_reference_capture_drops_payloads_after_digesting() -> None:
    built = build(minimal_input())
    assert built["intents"][0]["args_digest"] == digest({"path": "/a"})
    assert "args" not in built["intents"][0]
    assert built["results"][0]["result_digest"] == digest({"ok": True})
    assert "result" not in built["results"][0]
    assert built["warnings"] == (REFERENCE_STRIPPED_WARNING,)
    assert built["manifest"].capture_mode == "reference"
    assert build(minimal_input(intents=[], results=[]))["warnings"] == ()


def test_raw_capture_keeps_payloads() -> None:
    built = build(minimal_input(), capture_mode="raw")
    assert built["intents"][0]["args"] == {"path": "/a"}
    assert built["results"][0]["result"] == {"ok": True}
    assert built["warnings"] == (RAW_CAPTURE_WARNING,)


def test_a_given_args_digest_is_not_checked_against_args() -> None:
    """The reference trusts a supplied digest; only normalization payloads are checked."""
    data = minimal_input()
    data["intents"][0]["args_digest"] = "ab" * 32
    assert build(data)["intents"][0]["args_digest"] == "ab" * 32


def test_normalization_payloads_fill_and_check_digests() -> None:
    data = minimal_input(
        normalization={"intent_args": {"i1": {"x": 1}}, "result_payloads": {"i1": {"y": 2}}}
    )
    built = build(data)
    assert built["intents"][0]["args_digest"] == digest({"x": 1})
    assert built["results"][0]["result_digest"] == digest({"y": 2})
    data["intents"][0]["args_digest"] = digest({"x": 1}).upper()
    assert build(data)["intents"][0]["args_digest"] == digest({"x": 1}).upper()
    data["intents"][0]["args_digest"] = "0" * 64
    with pytest.raises(InvalidInputError, match="intent i1 args digest mismatch"):
        build(data)
    data["intents"][0]["args_digest"] = ""
    data["results"][0]["result_digest"] = "0" * 64
    with pytest.raises(InvalidInputError, match="result i1 digest mismatch"):
        build(data)


def test_records_need_a_digest_or_a_payload() -> None:
    data = minimal_input()
    del data["intents"][0]["args"]
    with pytest.raises(InvalidInputError, match="intent i1 requires args_digest"):
        build(data)
    data = minimal_input()
    data["results"][0]["result"] = None
    with pytest.raises(InvalidInputError, match="result i1 requires result_digest"):
        build(data)


def test_trace_receipts_take_their_digests_from_the_intent() -> None:
    receipt = {
        "ref_id": "trace_i1",
        "source_type": " Gait.Trace ",
        "source_locator": "trace.json",
        "redaction_mode": "reference",
    }
    built = build(minimal_input(refs={"receipts": [receipt]}))
    got = built["refs"]["receipts"][0]
    intent = built["intents"][0]
    expected_query = digest({"tool_name": "tool.read", "args_digest": intent["args_digest"]})
    assert got["query_digest"] == expected_query
    assert got["content_digest"] == built["results"][0]["result_digest"]
    with pytest.raises(InvalidInputError, match="query digest mismatch"):
        build(minimal_input(refs={"receipts": [{**receipt, "query_digest": "0" * 64}]}))
    with pytest.raises(InvalidInputError, match="content digest mismatch"):
        build(minimal_input(refs={"receipts": [{**receipt, "content_digest": "0" * 64}]}))
    with pytest.raises(InvalidInputError, match="unknown intent i9"):
        build(minimal_input(refs={"receipts": [{**receipt, "ref_id": "trace_i9"}]}))
    with pytest.raises(InvalidInputError, match="unknown result for intent i1"):
        build(minimal_input(results=[], refs={"receipts": [receipt]}))


def test_other_receipts_need_both_digests() -> None:
    receipt = {"ref_id": "r", "source_type": "http", "source_locator": "u", "redaction_mode": "m"}
    with pytest.raises(InvalidInputError, match="receipt r requires query_digest"):
        build(minimal_input(refs={"receipts": [receipt]}))
    with pytest.raises(InvalidInputError, match="receipt r requires content_digest"):
        build(minimal_input(refs={"receipts": [{**receipt, "query_digest": "a" * 64}]}))


def test_refs_are_normalized() -> None:
    receipts = [
        {
            "ref_id": f"r{n}",
            "source_type": "http",
            "source_locator": "u",
            "query_digest": "A" * 64,
            "content_digest": " B" + "b" * 63,
            "redaction_mode": "metadata",
            "immutability": " Mutable ",
            "retrieved_at": "2026-02-05T02:00:00+02:00",
        }
        for n in (2, 1)
    ]
    receipts[1].pop("retrieved_at")
    receipts[1].pop("immutability")
    refs = build(minimal_input(refs={"receipts": receipts, "context_set_digest": "C" * 64}))["refs"]
    assert [r["ref_id"] for r in refs["receipts"]] == ["r1", "r2"]
    first, second = refs["receipts"]
    assert first["retrieved_at"] == "1980-01-01T00:00:00Z"
    assert first["immutability"] == "unknown"
    assert second["retrieved_at"] == "2026-02-05T00:00:00Z"
    assert second["immutability"] == "mutable"
    assert second["query_digest"] == "a" * 64
    assert second["content_digest"] == "b" * 64
    assert refs["context_set_digest"] == "c" * 64
    assert refs["context_ref_count"] == 2


@pytest.mark.parametrize(
    ("refs", "message"),
    [
        ({"context_evidence_mode": "maybe"}, "best_effort or required"),
        ({"context_set_digest": "xyz"}, "context_set_digest must be sha256 hex"),
        ({"context_ref_count": -1}, "context_ref_count must be >= 0"),
    ],
)
def test_invalid_refs_are_refused(refs: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        build(minimal_input(refs=refs))


def test_the_cli_context_policy() -> None:
    source = RecordInput.from_json(minimal_input())
    assert (
        apply_context_policy(
            source, evidence_mode="", allow_raw_context=False
        ).refs.context_evidence_mode
        == "best_effort"
    )
    with pytest.raises(InvalidInputError, match="context_set_digest is missing"):
        apply_context_policy(source, evidence_mode="Required", allow_raw_context=False)
    raw = RecordInput.from_json(
        minimal_input(
            refs={
                "receipts": [
                    {
                        "ref_id": "r",
                        "source_type": "s",
                        "source_locator": "l",
                        "query_digest": "a" * 64,
                        "content_digest": "b" * 64,
                        "redaction_mode": " RAW",
                    }
                ]
            }
        )
    )
    with pytest.raises(InvalidInputError, match="--unsafe-context-raw"):
        apply_context_policy(raw, evidence_mode="", allow_raw_context=False)
    assert apply_context_policy(raw, evidence_mode="", allow_raw_context=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**minimal_input(), "extra": 1}, "unknown field"),
        ({**minimal_input(), "normalization": {"intent_arg": {}}}, "unknown field"),
        ({**minimal_input(), "normalization": {"intent_args": {"i1": [1]}}}, "JSON object"),
        ({**minimal_input(), "intents": {}}, "must be a list"),
        ({**minimal_input(), "run": {"run_id": 5}}, "run"),
        ({**minimal_input(), "run": {"run_id": "r", "created_at": "soon"}}, "created_at"),
        ({**minimal_input(), "run": {"run_id": "r", "bogus": 1}}, "bogus"),
        ({**minimal_input(), "capture_mode": 1}, "capture_mode"),
    ],
)
def test_malformed_input_is_refused(data: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        RecordInput.from_json(data)


@pytest.mark.parametrize("run_id", ["", "../evil", "a/b", "..", "run id", "a\\b"])
def test_run_ids_that_are_not_safe_file_names_are_refused(run_id: str, tmp_path: Path) -> None:
    data = minimal_input(run={"run_id": run_id})
    with pytest.raises(InvalidInputError, match="run_id"):
        record_run(data, capture_mode="", signing_key=None, out_dir=tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_capture_mode_is_validated_and_overrides_the_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="capture mode must be one of"):
        record_run(minimal_input(), capture_mode="full", signing_key=None, out_dir=tmp_path)
    data = minimal_input(capture_mode="raw")
    recorded = record_run(data, capture_mode="reference", signing_key=None, out_dir=tmp_path)
    assert recorded.manifest.capture_mode == "reference"
    raw = record_run(data, capture_mode="", signing_key=None, out_dir=tmp_path)
    assert raw.manifest.capture_mode == "raw"


def test_run_id_override_applies_everywhere(tmp_path: Path) -> None:
    data = minimal_input()
    data["intents"][0]["run_id"] = "run_min"
    recorded = record_run(
        data, capture_mode="", signing_key=None, out_dir=tmp_path, run_id_override="run_new"
    )
    rp = read_runpack(recorded.path)
    assert recorded.path.name == "runpack_run_new.zip"
    assert {rp.run.run_id, rp.intents[0].run_id, rp.results[0].run_id, rp.refs.run_id} == {
        "run_new"
    }


def test_large_integers_follow_go_float64(tmp_path: Path) -> None:
    """Go decodes numbers in args as float64; 2**60 + 1 digests as 1152921504606847000."""
    big = minimal_input()
    big["intents"][0]["args"] = {"n": 2**60 + 1}
    as_float = minimal_input()
    as_float["intents"][0]["args"] = {"n": float(2**60)}
    assert build(big)["intents"][0]["args_digest"] == build(as_float)["intents"][0]["args_digest"]
    recorded = record_run(big, capture_mode="raw", signing_key=None, out_dir=tmp_path)
    assert b'{"n":1152921504606847000}' in members_of(recorded.path)["intents.jsonl"]


def test_a_non_utc_created_at_is_kept(tmp_path: Path) -> None:
    data = minimal_input(run={"run_id": "run_tz", "created_at": "2026-02-05T01:00:00.5+01:00"})
    recorded = record_run(copy.deepcopy(data), capture_mode="", signing_key=None, out_dir=tmp_path)
    run = json.loads(members_of(recorded.path)["run.json"])
    assert run["created_at"] == "2026-02-05T01:00:00.5+01:00"
    assert verify_runpack(recorded.path).ok


def test_recorded_runpacks_read_back(tmp_path: Path) -> None:
    recorded = record_run(
        minimal_input(), capture_mode="raw", signing_key=None, out_dir=tmp_path / "nested"
    )
    rp = read_runpack(recorded.path)
    assert rp.manifest == recorded.manifest
    assert rp.intents[0].args == {"path": "/a"}
    assert attrs.evolve(rp.intents[0], args=None).args is None
