"""Regress file formats (spec 2.1-2.5): Go's JSON in and out, gait.yaml and fixture.json rules,
fixture names, the JUnit bytes, and the trajectory helpers."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from gait.errors import InvalidInputError
from gait.regress import gojson, gopath
from gait.regress.config import (
    FixtureMeta,
    fixture_meta_json,
    read_config,
    read_fixture_meta,
    sanitize_fixture_name,
    scan_fixtures,
)
from gait.regress.graders import GraderResult
from gait.regress.junit import junit_xml
from gait.regress.run import RegressResult, regress_result_json
from gait.regress.trajectory import (
    first_mismatch,
    normalize_verdict,
    normalize_verdict_sequence,
)
from gait.timefmt import GoTime

# --- Go JSON -------------------------------------------------------------------------------------


def test_marshal_indent_escapes_like_go() -> None:
    value = {"b": "<a & b>", "a": ["\u2028", "é", "\x01"], "c": [], "d": {}}
    assert gojson.marshal_indent(value) == (
        b'{\n  "b": "\\u003ca \\u0026 b\\u003e",\n  "a": [\n    "\\u2028",\n'
        b'    "\xc3\xa9",\n    "\\u0001"\n  ],\n  "c": [],\n  "d": {}\n}\n'
    )


def test_marshal_indent_replaces_lone_surrogates() -> None:
    assert gojson.marshal_indent("\ud800") == b'"\\ufffd"\n'


_SAMPLE = gojson.Struct(
    "pkg.sample",
    {"name": str, "count": int, "flag": bool, "tags": gojson.ListOf(str, "[]string")},
)


def test_decode_struct_matches_keys_like_go() -> None:
    decoded = gojson.decode_struct(
        {"NAME": "x", "count": 3, "unknown": [1], "tags": ["a", None]}, _SAMPLE
    )
    assert decoded == {"name": "x", "count": 3, "flag": False, "tags": ["a", ""]}


def test_decode_struct_null_keeps_zero_and_resets_lists() -> None:
    decoded = gojson.decode_struct({"tags": ["a"], "Tags": None, "name": None}, _SAMPLE)
    assert decoded == {"name": "", "count": 0, "flag": False, "tags": []}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"count": "3"}, "cannot unmarshal string into Go struct field sample.count of type int"),
        ({"count": 1.5}, "cannot unmarshal number 1.5 into Go struct field sample.count"),
        ({"count": True}, "cannot unmarshal bool into Go struct field sample.count of type int"),
        ({"count": 2**63}, "cannot unmarshal number 9223372036854775808"),
        ({"flag": 1}, "cannot unmarshal number into Go struct field sample.flag of type bool"),
        (
            {"tags": "a"},
            "cannot unmarshal string into Go struct field sample.tags of type []string",
        ),
        ([1], "cannot unmarshal array into Go value of type pkg.sample"),
    ],
)
def test_decode_struct_rejects_wrong_types(document: object, message: str) -> None:
    with pytest.raises(gojson.GoDecodeError, match=message.replace("[", r"\[").replace("]", r"\]")):
        gojson.decode_struct(document, _SAMPLE)


def test_go_paths() -> None:
    assert gopath.join(".", "fixtures/run_demo/runpack.zip") == "fixtures/run_demo/runpack.zip"
    assert gopath.join("fixtures/a", "/abs/c.zip") == "fixtures/a/abs/c.zip"
    assert gopath.join("", "x") == "x"
    assert gopath.parent("runpack.zip") == "."
    assert gopath.parent("/runpack.zip") == "/"
    assert gopath.parent("fixtures/a/runpack.zip") == "fixtures/a"
    assert gopath.clean("//a//b/../c") == "/a/c"
    assert gopath.base("runpack.zip") == "runpack.zip"
    assert gopath.base("a/b/") == "b"
    assert gopath.base("///") == "/"
    assert gopath.base("") == "."


# --- fixture names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("run_id", "name"),
    [
        ("run_demo", "run_demo"),
        ("Run Demo!!", "run-demo"),
        ("a-!b", "a--b"),
        ("a!!b", "a-b"),
        ("--.x._", "x"),
        ("日本", "fixture"),
        ("\u0130d", "id"),  # Go lower-cases U+0130 to a plain i
        ("", "fixture"),
    ],
)
def test_sanitize_fixture_name(run_id: str, name: str) -> None:
    assert sanitize_fixture_name(run_id) == name


# --- gait.yaml -----------------------------------------------------------------------------------


def _write(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def test_read_config_json_sorts_and_defaults(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "gait.yaml",
        json.dumps(
            {
                "fixtures": [
                    {"name": "b", "runpack": "fixtures/b/runpack.zip"},
                    {"name": "a", "run_id": "run_a", "runpack": "fixtures/a/runpack.zip"},
                ]
            }
        ),
    )
    config = read_config(path)
    assert config.fixture_set == "default"
    assert [f.name for f in config.fixtures] == ["a", "b"]
    assert config.fixtures[0].run_id == "run_a"


def test_read_config_accepts_yaml(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "gait.yaml",
        "schema_id: gait.regress.config\nfixture_set: nightly\nfixtures:\n"
        "  - name: a\n    runpack: fixtures/a/runpack.zip\n",
    )
    config = read_config(path)
    assert config.fixture_set == "nightly"
    assert config.fixtures[0].runpack == "fixtures/a/runpack.zip"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{not json", "parse config: "),
        ('"a string"', "parse config: json: cannot unmarshal string into Go value"),
        ('{"fixtures": [{"name": 1}]}', "parse config: json: cannot unmarshal number"),
        ('{"schema_id": "other"}', "unsupported config schema_id: other"),
        ('{"schema_version": "2.0.0"}', "unsupported config schema_version: 2.0.0"),
        ('{"fixtures": [{"name": " ", "runpack": "x"}]}', "fixture name is required"),
        ('{"fixtures": [{"name": "a"}]}', "fixture runpack is required for a"),
        ('{"fixtures": NaN}', "parse config: "),
    ],
)
def test_read_config_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        read_config(_write(tmp_path / "gait.yaml", text))


def test_read_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="read config: "):
        read_config(str(tmp_path / "absent.yaml"))


# --- fixture.json --------------------------------------------------------------------------------


def test_fixture_meta_json_is_go_indented_in_field_order() -> None:
    meta = FixtureMeta(
        name="run_demo",
        run_id="run_demo",
        expected_tool_sequence=("tool.search",),
        expected_verdict_sequence=("allow",),
    )
    assert fixture_meta_json(meta).decode() == (
        "{\n"
        '  "schema_id": "gait.regress.fixture",\n'
        '  "schema_version": "1.0.0",\n'
        '  "name": "run_demo",\n'
        '  "run_id": "run_demo",\n'
        '  "runpack": "runpack.zip",\n'
        '  "expected_replay_exit_code": 0,\n'
        '  "expected_tool_sequence": [\n    "tool.search"\n  ],\n'
        '  "expected_verdict_sequence": [\n    "allow"\n  ]\n'
        "}\n"
    )


def test_read_fixture_meta_normalizes(tmp_path: Path) -> None:
    path = tmp_path / "fixture.json"
    path.write_text(
        json.dumps(
            {
                "name": "a",
                "run_id": "run_a",
                "runpack": "runpack.zip",
                "expected_tool_sequence": [" tool.a ", "", "tool.b"],
                "expected_verdict_sequence": ["PASS", "dry run", "needs approval", "failure"],
                "context_conformance": " Required ",
                "expected_context_set_digest": " " + "A" * 64 + " ",
                "future_field": True,
            }
        )
    )
    meta = read_fixture_meta(path)
    assert meta.expected_tool_sequence == ("tool.a", "tool.b")
    assert meta.expected_verdict_sequence == ("allow", "dry_run", "require_approval", "error")
    assert meta.context_conformance == "required"
    assert meta.expected_context_set_digest == "A" * 64


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"run_id": ""}, "fixture metadata incomplete"),
        ({"expected_replay_exit_code": -1}, "expected_replay_exit_code must be >= 0"),
        ({"checkpoint_index": -1}, "checkpoint_index must be >= 0"),
        ({"context_conformance": "maybe"}, "context_conformance must be one of required|none"),
        ({"expected_context_set_digest": "abc"}, "expected_context_set_digest must be sha256"),
        ({"expected_verdict_sequence": ["allow", "maybe"]}, 'invalid verdict "maybe"'),
        ({"expected_replay_exit_code": "0"}, "parse fixture metadata: json: cannot unmarshal"),
    ],
)
def test_read_fixture_meta_errors(tmp_path: Path, fields: dict[str, object], message: str) -> None:
    path = tmp_path / "fixture.json"
    path.write_text(json.dumps({"name": "a", "run_id": "run_a", "runpack": "r.zip", **fields}))
    with pytest.raises(InvalidInputError, match=message):
        read_fixture_meta(path)


# --- scanning fixtures/ --------------------------------------------------------------------------


def _fixture(
    root: Path, name: str, meta_name: str | None = None, runpack: str = "runpack.zip"
) -> Path:
    directory = root / "fixtures" / name
    directory.mkdir(parents=True)
    (directory / "runpack.zip").write_bytes(b"zip")
    meta = FixtureMeta(name=meta_name or name, run_id=f"run_{name}", runpack=runpack)
    (directory / "fixture.json").write_bytes(fixture_meta_json(meta))
    return directory


def test_scan_fixtures_skips_what_is_not_a_fixture(tmp_path: Path) -> None:
    _fixture(tmp_path, "b")
    _fixture(tmp_path, "a")
    (tmp_path / "fixtures" / "Upper").mkdir()
    (tmp_path / "fixtures" / "other").mkdir()
    (tmp_path / "fixtures" / "notes.txt").write_text("x")
    entries = scan_fixtures(tmp_path)
    assert [(e.name, e.run_id, e.runpack) for e in entries] == [
        ("a", "run_a", "fixtures/a/runpack.zip"),
        ("b", "run_b", "fixtures/b/runpack.zip"),
    ]


def test_scan_fixtures_without_fixtures_dir(tmp_path: Path) -> None:
    assert scan_fixtures(tmp_path) == []


def test_scan_fixtures_errors(tmp_path: Path) -> None:
    directory = tmp_path / "fixtures" / "half"
    directory.mkdir(parents=True)
    (directory / "runpack.zip").write_bytes(b"zip")
    with pytest.raises(InvalidInputError, match="fixture metadata missing for half"):
        scan_fixtures(tmp_path)
    (directory / "runpack.zip").unlink()
    directory.rmdir()
    _fixture(tmp_path, "x", meta_name="y")
    with pytest.raises(InvalidInputError, match="fixture metadata name mismatch for x"):
        scan_fixtures(tmp_path)


def test_scan_fixtures_runpack_must_be_a_file_name(tmp_path: Path) -> None:
    _fixture(tmp_path, "x", runpack="../x.zip")
    with pytest.raises(InvalidInputError, match="must be a filename for x"):
        scan_fixtures(tmp_path)


# --- regress_result.json and JUnit ---------------------------------------------------------------


def _result(*graders: GraderResult, fixture_set: str = "default") -> RegressResult:
    return RegressResult(
        created_at=GoTime.parse("2026-02-05T00:00:00Z"),
        producer_version="0.1.0",
        fixture_set=fixture_set,
        status="fail" if any(g.failed for g in graders) else "pass",
        graders=graders,
    )


def test_regress_result_json_layout() -> None:
    grader = GraderResult(
        name="a/diff",
        status="fail",
        reason_codes=("unexpected_diff",),
        details={"changed_files": ["<x>"], "fixture": "a", "missing": None},
    )
    assert regress_result_json(_result(grader)).decode() == (
        "{\n"
        '  "schema_id": "gait.regress.result",\n'
        '  "schema_version": "1.0.0",\n'
        '  "created_at": "2026-02-05T00:00:00Z",\n'
        '  "producer_version": "0.1.0",\n'
        '  "fixture_set": "default",\n'
        '  "status": "fail",\n'
        '  "graders": [\n'
        "    {\n"
        '      "name": "a/diff",\n'
        '      "status": "fail",\n'
        '      "reason_codes": [\n        "unexpected_diff"\n      ],\n'
        '      "details": {\n'
        '        "changed_files": [\n          "\\u003cx\\u003e"\n        ],\n'
        '        "fixture": "a",\n'
        '        "missing": null\n'
        "      }\n"
        "    }\n"
        "  ]\n"
        "}\n"
    )


def test_junit_bytes_match_go_xml() -> None:
    result = _result(
        GraderResult(name="a/diff", status="pass", details={"fixture": "a"}),
        GraderResult(
            name="a/trajectory",
            status="fail",
            reason_codes=("unexpected_tool_sequence", "unexpected_verdict_sequence"),
        ),
        GraderResult(name="plain", status="fail"),
        fixture_set='x"<&',
    )
    assert junit_xml(result).decode() == (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<testsuites tests="3" failures="2" errors="0" skipped="0" time="0">\n'
        '  <testsuite name="gait.regress.x&#34;&lt;&amp;" tests="3" failures="2" errors="0" '
        'skipped="0" time="0">\n'
        '    <testcase name="diff" classname="a" time="0"></testcase>\n'
        '    <testcase name="trajectory" classname="a" time="0">\n'
        '      <failure message="unexpected_tool_sequence,unexpected_verdict_sequence" '
        'type="regress_failure">unexpected_tool_sequence,unexpected_verdict_sequence</failure>\n'
        "    </testcase>\n"
        '    <testcase name="plain" classname="regress" time="0">\n'
        '      <failure message="failed" type="regress_failure">failed</failure>\n'
        "    </testcase>\n"
        "  </testsuite>\n"
        "</testsuites>\n"
    )


def test_junit_parses_and_replaces_characters_xml_forbids() -> None:
    result = _result(GraderResult(name="a/diff", status="fail", reason_codes=("x\x01\ny",)))
    root = ET.fromstring(junit_xml(result))
    failure = root.find("testsuite/testcase/failure")
    assert failure is not None
    assert failure.get("message") == "x\ufffd\ny"
    assert failure.text == "x\ufffd\ny"


# --- trajectory helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("allow", "allow"),
        ("PASS", "allow"),
        ("blocked", "block"),
        ("needs approval", "require_approval"),
        ("dry-run", "dry_run"),
        ("failed", "error"),
        ("unknown", ""),
    ],
)
def test_normalize_verdict(text: str, verdict: str) -> None:
    assert normalize_verdict(text) == verdict


def test_normalize_verdict_sequence_rejects_unknown() -> None:
    assert normalize_verdict_sequence(["allow", " ", "deny"]) == ["allow", "block"]
    with pytest.raises(ValueError, match='invalid verdict "nope"'):
        normalize_verdict_sequence(["nope"])


def test_first_mismatch() -> None:
    assert first_mismatch(["a", "b"], ["a", "c"]) == (1, "b", "c")
    assert first_mismatch(["a", "b"], ["a"]) == (1, "b", "<missing>")
    assert first_mismatch(["a"], ["a", "b"]) == (1, "<missing>", "b")
    assert first_mismatch(["a"], ["a"]) == (-1, "<none>", "<none>")
