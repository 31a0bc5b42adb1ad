"""The pieces on their own: bd's answer shapes, error messages, and the issue template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from gait_plugin_beads.bd import error_text, index_by_external_ref, unwrap
from gait_plugin_beads.summary import (
    SignatureCheck,
    decision_from_json,
    decisions_by_trace,
    summarize,
)

from gait.errors import InvalidInputError

RECORD = {
    "schema_id": "gait.gate.trace",
    "trace_id": "abc123",
    "verdict": "block",
    "tool_name": "tool.delete",
    "intent_digest": "i" * 64,
    "policy_digest": "p" * 64,
    "args_digest": "a" * 64,
    "violations": [" b ", "a", "b", ""],
}
VERIFIED = SignatureCheck(status="verified", key_id="k" * 64)


def test_envelope_and_legacy_answers_read_the_same() -> None:
    issue = {"id": "gt-1", "title": "t"}
    assert unwrap({"schema_version": 1, "data": [issue]}) == [issue]
    assert unwrap([issue]) == [issue]
    assert unwrap({**issue, "schema_version": 1}) == {**issue, "schema_version": 1}


@pytest.mark.parametrize(
    ("stdout", "stderr", "expected"),
    [
        ('{"error": "no issue found", "schema_version": 1}', "", "no issue found"),
        ("", '{"error": "database is locked"}', "database is locked"),
        ('{"schema_version": 1, "data": {"error": "wrapped"}}', "", "wrapped"),
        ("", "Error: unknown flag: --x\n  usage...\n", "Error: unknown flag: --x usage..."),
        ("", "", "no output"),
    ],
)
def test_bd_error_messages(stdout: str, stderr: str, expected: str) -> None:
    assert error_text(stdout, stderr) == expected


def test_external_ref_index_prefers_the_smallest_id() -> None:
    issues = [
        {"id": "gt-9", "external_ref": "gait:x"},
        {"id": "gt-2", "external_ref": "gait:x"},
        {"id": "gt-3", "external_ref": None},
        {"id": "gt-4"},
        "not an issue",
    ]
    assert index_by_external_ref(issues) == {"gait:x": "gt-2"}


def test_the_summary_is_normalized_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    one = summarize(RECORD, path=path, signature=VERIFIED)
    two = summarize(json.loads(json.dumps(RECORD)), path=path, signature=VERIFIED)
    assert one == two and one.description == two.description
    assert one.violations == ("a", "b")
    assert one.description.endswith("convert incident to regression fixture\n")
    assert one.title == "Gait block: tool.delete (abc123)"


def test_titles_stay_on_one_line(tmp_path: Path) -> None:
    record = {**RECORD, "tool_name": "tool.x\n--type epic"}
    summary = summarize(record, path=tmp_path / "t.json", signature=VERIFIED)
    assert summary.title == "Gait block: tool.x --type epic (abc123)"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"trace_id": ""}, "trace_id is required"),
        ({"verdict": "maybe"}, "unknown verdict"),
        ({"tool_name": 7}, "tool_name must be a string"),
        ({"violations": "x"}, "violations must be an array of strings"),
    ],
)
def test_bad_trace_fields_are_invalid_input(
    tmp_path: Path, change: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        summarize({**RECORD, **change}, path=tmp_path / "t.json", signature=VERIFIED)


def test_decisions_must_agree_and_carry_a_trace_id() -> None:
    first = decision_from_json({"trace_id": "abc123", "reason_codes": ["x"]}, "one.json")
    second = decision_from_json({"trace_id": "abc123", "reason_codes": ["y"]}, "two.json")
    with pytest.raises(InvalidInputError, match="different reason codes"):
        decisions_by_trace([first, second])
    with pytest.raises(InvalidInputError, match="has no trace_id"):
        decision_from_json({"reason_codes": []}, "three.json")


def test_an_empty_reason_code_list_is_not_called_none(tmp_path: Path) -> None:
    decision = decision_from_json({"trace_id": "abc123", "reason_codes": []}, "d.json")
    summary = summarize(RECORD, path=tmp_path / "t.json", signature=VERIFIED, decision=decision)
    assert "Reason Codes: the decision output lists none" in summary.description
    assert summary.to_json()["reason_codes"] == []
