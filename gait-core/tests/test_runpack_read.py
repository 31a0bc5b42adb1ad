"""read_runpack, diff_runpacks, replay_stub and resolve_runpack (sections 1.7 to 1.9)."""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import pytest

from gait.errors import InvalidInputError, VerificationError
from gait.runpack import (
    diff_changed,
    diff_runpacks,
    read_runpack,
    record_run,
    replay_stub,
    resolve_runpack,
    verify_runpack,
)
from gait.runpack.read import Runpack
from gait.runpack.zipio import PARALLEL_MIN_BYTES

from .runpack_zips import DEMO_ZIP, TCK_ZIP, manifest_for, members_of, runpack_with, write_zip

T0 = "2026-02-05T00:00:00Z"


def recorded(tmp_path: Path, name: str, **changes: Any) -> Runpack:
    """A raw-capture runpack of two intents; `changes` replaces top-level input keys."""
    data: dict[str, Any] = {
        "run": {"run_id": name, "created_at": T0},
        "intents": [
            {"intent_id": "i1", "tool_name": "tool.search", "args": {"q": "a"}},
            {"intent_id": "i2", "tool_name": "tool.fetch", "args": {"url": "u"}},
        ],
        "results": [
            {"intent_id": "i1", "status": "ok", "result": {"n": 1}},
            {"intent_id": "i2", "status": "ok", "result": {"n": 2}},
        ],
        "refs": {
            "receipts": [
                {
                    "ref_id": "r1",
                    "source_type": "http",
                    "source_locator": "u",
                    "query_digest": "a" * 64,
                    "content_digest": "b" * 64,
                    "retrieved_at": T0,
                    "redaction_mode": "reference",
                }
            ]
        },
        "capture_mode": "raw",
    }
    data.update(changes)
    out = record_run(data, capture_mode="", signing_key=None, out_dir=tmp_path / name)
    return read_runpack(out.path)


def test_reads_the_reference_demo() -> None:
    rp = read_runpack(DEMO_ZIP)
    assert rp.path == DEMO_ZIP
    assert rp.run.run_id == rp.manifest.run_id == "run_demo"
    assert [i.tool_name for i in rp.intents] == ["tool.search", "tool.fetch", "tool.summarize"]
    assert [r.status for r in rp.results] == ["ok", "ok", "ok"]
    assert rp.refs.context_ref_count == 3
    assert rp.run.timeline is not None
    assert [e.event for e in rp.run.timeline] == ["start", "finish"]


def test_integrity_problems_are_verification_errors(tmp_path: Path) -> None:
    members = members_of(TCK_ZIP)
    tampered = write_zip(tmp_path / "t.zip", {**members, "run.json": b"{}"}.items())
    with pytest.raises(VerificationError, match=r"runpack hash mismatch: run\.json"):
        read_runpack(tampered)
    members.pop("refs.json")
    missing = write_zip(tmp_path / "m.zip", members.items())
    with pytest.raises(VerificationError, match=r"missing runpack files: refs\.json"):
        read_runpack(missing)


def _data(**records: bytes) -> dict[str, bytes]:
    run = {
        "schema_id": "gait.runpack.run",
        "schema_version": "1.0.0",
        "created_at": T0,
        "producer_version": "p",
        "run_id": "run_test",
        "env": {"os": "o", "arch": "a", "runtime": "r"},
        "timeline": [],
    }
    refs = {
        "schema_id": "gait.runpack.refs",
        "schema_version": "1.0.0",
        "created_at": T0,
        "producer_version": "p",
        "run_id": "run_test",
        "receipts": [],
    }
    data = {
        "run.json": json.dumps(run).encode(),
        "intents.jsonl": b"",
        "results.jsonl": b"",
        "refs.json": json.dumps(refs).encode(),
    }
    data.update({name.replace("_", "."): value for name, value in records.items()})
    return data


def test_blank_jsonl_lines_are_skipped(tmp_path: Path) -> None:
    intent = {
        "schema_id": "gait.runpack.intent",
        "schema_version": "1.0.0",
        "created_at": T0,
        "producer_version": "p",
        "run_id": "run_test",
        "intent_id": "i1",
        "tool_name": "t",
        "args_digest": "a" * 64,
    }
    data = _data(intents_jsonl=b"\n  \n" + json.dumps(intent).encode() + b"\n\n")
    rp = read_runpack(runpack_with(tmp_path / "r.zip", data, manifest_for(data)))
    assert [i.intent_id for i in rp.intents] == ["i1"]


def test_a_large_runpack_reads_back_whole(tmp_path: Path) -> None:
    """Intents and results large enough to be read by two threads come back in order."""
    blobs = [os.urandom(64).hex() for _ in range(2000)]
    rp = recorded(
        tmp_path,
        "run_large",
        intents=[
            {"intent_id": f"i{n}", "tool_name": "tool.write", "args": {"blob": blob}}
            for n, blob in enumerate(blobs)
        ],
        results=[
            {"intent_id": f"i{n}", "status": "ok", "result": {"echo": blob}}
            for n, blob in enumerate(blobs)
        ],
        refs={"receipts": []},
    )
    with zipfile.ZipFile(rp.path) as archive:
        for name in ("intents.jsonl", "results.jsonl"):
            assert archive.getinfo(name).compress_size >= PARALLEL_MIN_BYTES
    assert [i.args for i in rp.intents] == [{"blob": blob} for blob in blobs]
    assert [r.result for r in rp.results] == [{"echo": blob} for blob in blobs]
    assert verify_runpack(rp.path).ok


@pytest.mark.parametrize(
    ("records", "message"),
    [
        ({"run_json": b"{"}, r"run\.json"),
        ({"intents_jsonl": b'{"intent_id": 1}\n'}, r"intents\.jsonl line 1"),
        ({"results_jsonl": b"\n[]\n"}, r"results\.jsonl line 2"),
        ({"refs_json": b'{"schema_id": "gait.runpack.refs"}'}, r"refs\.json"),
    ],
)
def test_records_that_do_not_parse_are_invalid_input(
    tmp_path: Path, records: dict[str, bytes], message: str
) -> None:
    data = _data(**records)
    with pytest.raises(InvalidInputError, match=message):
        read_runpack(runpack_with(tmp_path / "r.zip", data, manifest_for(data)))


def test_required_context_evidence_needs_a_set_digest(tmp_path: Path) -> None:
    refs = json.loads(_data()["refs.json"])
    refs["context_evidence_mode"] = "required"
    data = _data(refs_json=json.dumps(refs).encode())
    with pytest.raises(InvalidInputError, match="context_set_digest is missing"):
        read_runpack(runpack_with(tmp_path / "r.zip", data, manifest_for(data)))


def test_diff_of_a_runpack_with_itself_changes_nothing() -> None:
    rp = read_runpack(DEMO_ZIP)
    summary = diff_runpacks(rp, rp)
    assert summary == {
        "run_id_left": "run_demo",
        "run_id_right": "run_demo",
        "manifest_changed": False,
        "intents_changed": False,
        "results_changed": False,
        "refs_changed": False,
        "context_drift_classification": "none",
    }
    assert not diff_changed(summary)


def test_two_runs_of_the_same_content_do_not_differ(tmp_path: Path) -> None:
    left = recorded(tmp_path, "run_a")
    right = recorded(
        tmp_path, "run_b", run={"run_id": "run_b", "created_at": "2027-01-01T00:00:00Z"}
    )
    summary = diff_runpacks(left, right)
    assert not diff_changed(summary), summary
    assert (summary["run_id_left"], summary["run_id_right"]) == ("run_a", "run_b")


def test_diff_reports_changed_and_one_sided_records(tmp_path: Path) -> None:
    left = recorded(tmp_path, "run_a")
    right = recorded(
        tmp_path,
        "run_b",
        intents=[
            {"intent_id": "i1", "tool_name": "tool.search", "args": {"q": "a"}},
            {"intent_id": "i3", "tool_name": "tool.write", "args": {"p": 1}},
        ],
        results=[{"intent_id": "i1", "status": "error", "result": {"n": 1}}],
    )
    summary = diff_runpacks(left, right)
    assert summary["intents_changed"] and summary["results_changed"]
    assert (summary["left_only_intents"], summary["right_only_intents"]) == (["i2"], ["i3"])
    assert (summary["left_only_results"], "right_only_results" in summary) == (["i2"], False)
    assert not summary["manifest_changed"]
    assert diff_changed(summary)


def test_metadata_privacy_ignores_payloads(tmp_path: Path) -> None:
    left = recorded(tmp_path, "run_a")
    intents = [
        {"intent_id": "i1", "tool_name": "tool.search", "args": {"q": "secret"}, "args_digest": ""},
        {"intent_id": "i2", "tool_name": "tool.fetch", "args": {"url": "u"}},
    ]
    right = recorded(tmp_path, "run_b", intents=intents)
    assert diff_runpacks(left, right)["intents_changed"]
    # Same digest, different raw args: a change in full privacy only.
    intents[0]["args_digest"] = left.intents[0].args_digest
    same_digest = recorded(tmp_path, "run_c", intents=intents)
    assert diff_runpacks(left, same_digest)["intents_changed"]
    assert not diff_runpacks(left, same_digest, privacy="metadata")["intents_changed"]
    with pytest.raises(InvalidInputError, match="unsupported privacy mode"):
        diff_runpacks(left, left, privacy="none")


def _with_receipt(**changes: Any) -> dict[str, Any]:
    receipt = {
        "ref_id": "r1",
        "source_type": "http",
        "source_locator": "u",
        "query_digest": "a" * 64,
        "content_digest": "b" * 64,
        "retrieved_at": T0,
        "redaction_mode": "reference",
    }
    return {"receipts": [{**receipt, **changes}]}


def test_context_drift_is_classified(tmp_path: Path) -> None:
    left = recorded(tmp_path, "run_a")
    later = recorded(tmp_path, "run_b", refs=_with_receipt(retrieved_at="2026-03-01T00:00:00Z"))
    runtime = diff_runpacks(left, later)
    assert runtime["refs_changed"]
    assert runtime["context_drift_classification"] == "runtime_only"
    assert runtime["context_runtime_only_changes"] is True
    other = recorded(tmp_path, "run_c", refs=_with_receipt(content_digest="c" * 64))
    semantic = diff_runpacks(left, other)
    assert semantic["context_drift_classification"] == "semantic"
    assert "context_runtime_only_changes" not in semantic
    metadata = diff_runpacks(left, other, privacy="metadata")
    assert not metadata["refs_changed"]


def test_diff_lists_files_present_on_one_side(tmp_path: Path) -> None:
    data = _data()
    declared = {name: data[name] for name in data}
    left = read_runpack(runpack_with(tmp_path / "l.zip", data, manifest_for(declared)))
    extra = {**data, "notes.txt": b"x"}
    right = read_runpack(runpack_with(tmp_path / "r.zip", extra, manifest_for(extra)))
    summary = diff_runpacks(left, right)
    assert summary["files_changed"] == ["notes.txt"]
    assert summary["manifest_changed"]


def test_replay_stub_uses_recorded_results_and_stubs(tmp_path: Path) -> None:
    rp = recorded(
        tmp_path,
        "run_r",
        intents=[
            {"intent_id": "i1", "tool_name": "tool.search", "args": {}},
            {"intent_id": "i2", "tool_name": " HTTP.Get ", "args_digest": "AB" * 32},
            {"intent_id": "i3", "tool_name": "tool.summarize", "args": {}},
            {"intent_id": "i4", "tool_name": "kafka.send", "args": {}},
        ],
        results=[{"intent_id": "i1", "status": "ok", "result": {}}],
    )
    replay = replay_stub(rp)
    assert replay["mode"] == "stub"
    assert replay["missing_results"] == ["i3"]
    steps = {step["intent_id"]: step for step in replay["steps"]}
    assert steps["i1"]["execution"] == "recorded"
    assert steps["i3"] == {
        "intent_id": "i3",
        "tool_name": "tool.summarize",
        "status": "missing_result",
        "execution": "missing",
    }
    assert steps["i4"]["stub_type"] == "queue"
    expected = hashlib.sha256(f"run_r:i2:http.get:{'ab' * 32}:http".encode()).hexdigest()
    assert steps["i2"] == {
        "intent_id": "i2",
        "tool_name": " HTTP.Get ",
        "status": "stubbed",
        "execution": "stubbed",
        "stub_type": "http",
        "result_digest": expected,
    }
    assert replay == replay_stub(rp)


def test_replay_refuses_duplicates(tmp_path: Path) -> None:
    twice = [{"intent_id": "i1", "tool_name": "t", "args": {}}] * 2
    with pytest.raises(InvalidInputError, match="duplicate intent_id: i1"):
        replay_stub(recorded(tmp_path, "run_d", intents=twice, results=[]))
    results = [{"intent_id": "i1", "status": "ok", "result": {}}] * 2
    with pytest.raises(InvalidInputError, match="duplicate result for intent_id: i1"):
        replay_stub(recorded(tmp_path, "run_e", results=results))


def test_resolve_runpack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GAIT_HOME", str(tmp_path / "home"))
    assert resolve_runpack(str(DEMO_ZIP)) == DEMO_ZIP
    with pytest.raises(InvalidInputError, match=r"runpack not found: nope\.zip"):
        resolve_runpack("nope.zip")
    with pytest.raises(InvalidInputError, match=r"runpack not found: \./gait-out"):
        resolve_runpack("./gait-out")
    with pytest.raises(InvalidInputError, match="runpack not found for run_id: run_x"):
        resolve_runpack("run_x")
    with pytest.raises(InvalidInputError, match="missing run_id or path"):
        resolve_runpack("")
    home = tmp_path / "home" / "runpacks"
    home.mkdir(parents=True)
    (home / "runpack_run_x.zip").write_bytes(b"")
    assert resolve_runpack("run_x") == home / "runpack_run_x.zip"
    (tmp_path / "gait-out").mkdir()
    (tmp_path / "gait-out" / "runpack_run_x.zip").write_bytes(b"")
    assert resolve_runpack("run_x") == Path("gait-out/runpack_run_x.zip")
