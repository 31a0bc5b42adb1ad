"""JSON as runpacks read it: Go's number rules and strict record types."""

from __future__ import annotations

from typing import Any

import pytest

from gait.contracts.runpack import ManifestFile, RefsRecord, RunRecord
from gait.runpack.jsonio import RecordFormatError, go_json_value, parse_json, read_record


@pytest.mark.parametrize(
    "text",
    [b"NaN", b'{"a": Infinity}', b"1e400", b"1" * 5000, b"[" * 100_000, b"\xff", b"{"],
)
def test_what_go_would_not_decode_is_refused(text: bytes) -> None:
    with pytest.raises(RecordFormatError, match="invalid JSON"):
        parse_json(text)


def test_large_integers_become_go_float64() -> None:
    assert parse_json(b"[9007199254740991, 9007199254740993]") == [
        9007199254740991,
        9007199254740992.0,
    ]
    assert go_json_value({"n": [2**60, True, None, 1.5]}) == {"n": [float(2**60), True, None, 1.5]}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"path": 5, "sha256": "x"}, "expected str @"),
        ({"path": "p", "sha256": "x", "size": 1}, "size"),
        ({"path": "p"}, "sha256"),
        ([], "must be a JSON object"),
    ],
)
def test_records_are_read_with_exact_types(data: Any, message: str) -> None:
    with pytest.raises(RecordFormatError, match=message):
        read_record(data, ManifestFile, what="file")


def test_keys_the_reference_always_writes_must_be_present() -> None:
    run = {
        "schema_version": "1.0.0",
        "created_at": "2026-02-05T00:00:00Z",
        "producer_version": "p",
        "run_id": "r",
        "env": {"os": "o", "arch": "a", "runtime": "r"},
        "timeline": None,
    }
    with pytest.raises(RecordFormatError, match=r"missing required field\(s\) schema_id"):
        read_record(run, RunRecord, what="run.json")
    record = read_record({**run, "schema_id": "gait.runpack.run"}, RunRecord, what="run.json")
    assert record.timeline is None


@pytest.mark.parametrize("count", [1.0, "1", True])
def test_integer_fields_take_integers_only(count: object) -> None:
    refs = {
        "schema_id": "gait.runpack.refs",
        "schema_version": "1.0.0",
        "created_at": "2026-02-05T00:00:00Z",
        "producer_version": "p",
        "run_id": "r",
        "context_ref_count": count,
        "receipts": [],
    }
    with pytest.raises(RecordFormatError, match="expected int @"):
        read_record(refs, RefsRecord, what="refs.json")
