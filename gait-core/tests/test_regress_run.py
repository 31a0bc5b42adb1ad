"""`regress init` and `regress run` through the library (spec 2.1-2.3, 2.6, 8): fixtures from real
runpack zips, every grader's pass and fail paths, load errors, and byte-stable output."""

from __future__ import annotations

import json
import stat
import zipfile
from pathlib import Path
from typing import Any

import pytest

from gait.errors import Category, ExitCode, GaitError
from gait.regress import RegressRun, RunOptions, init_fixture, run_regress
from gait.regress.junit import junit_xml

from .conftest import INTEROP
from .runpack_builder import runpack_members, with_manifest, write_runpack, write_zip

DEMO_ZIP = INTEROP / "runpack_run_demo.zip"
DEMO_TOOLS = ["tool.search", "tool.fetch", "tool.summarize"]


def _run(root: Path, **options: Any) -> RegressRun:
    return run_regress(
        RunOptions(
            config_path=str(root / "gait.yaml"),
            output_path=str(root / "regress_result.json"),
            work_dir=str(root),
            producer_version="0.0.0-test",
            **options,
        )
    )


def _init(root: Path, source: Path, **kwargs: Any) -> Path:
    result = init_fixture(source, work_dir=root, **kwargs)
    return root / result.fixture_dir


def _edit_fixture(fixture_dir: Path, **fields: Any) -> None:
    path = fixture_dir / "fixture.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **fields}))


def _graders(run: RegressRun) -> dict[str, Any]:
    return {grader.name: grader for grader in run.result.graders}


# --- init ----------------------------------------------------------------------------------------


def test_init_from_the_reference_demo_runpack(tmp_path: Path) -> None:
    result = init_fixture(DEMO_ZIP, work_dir=tmp_path)
    assert (result.run_id, result.fixture_name) == ("run_demo", "run_demo")
    assert result.fixture_dir == "fixtures/run_demo"
    assert result.runpack_path == "fixtures/run_demo/runpack.zip"
    assert result.config_path == "gait.yaml"
    assert result.next_commands == ("gait regress run --json",)

    fixture_dir = tmp_path / "fixtures" / "run_demo"
    assert (fixture_dir / "runpack.zip").read_bytes() == DEMO_ZIP.read_bytes()
    assert json.loads((fixture_dir / "fixture.json").read_text()) == {
        "schema_id": "gait.regress.fixture",
        "schema_version": "1.0.0",
        "name": "run_demo",
        "run_id": "run_demo",
        "runpack": "runpack.zip",
        "expected_replay_exit_code": 0,
        "expected_tool_sequence": DEMO_TOOLS,
        "expected_verdict_sequence": ["allow", "allow", "allow"],
    }
    assert (tmp_path / "gait.yaml").read_text() == (
        "{\n"
        '  "schema_id": "gait.regress.config",\n'
        '  "schema_version": "1.0.0",\n'
        '  "fixture_set": "default",\n'
        '  "fixtures": [\n'
        "    {\n"
        '      "name": "run_demo",\n'
        '      "run_id": "run_demo",\n'
        '      "runpack": "fixtures/run_demo/runpack.zip"\n'
        "    }\n"
        "  ]\n"
        "}\n"
    )
    for path in ("gait.yaml", "fixtures/run_demo/fixture.json", "fixtures/run_demo/runpack.zip"):
        assert stat.S_IMODE((tmp_path / path).stat().st_mode) == 0o600


def test_init_regenerates_the_config_and_replaces_hand_edits(tmp_path: Path) -> None:
    fixture_dir = _init(tmp_path, DEMO_ZIP)
    _edit_fixture(fixture_dir, candidate_runpack="candidate.zip")
    _init(tmp_path, write_runpack(tmp_path / "src" / "b.zip", "run_B.2"))
    _init(tmp_path, DEMO_ZIP)
    assert "candidate_runpack" not in (fixture_dir / "fixture.json").read_text()
    config = json.loads((tmp_path / "gait.yaml").read_text())
    assert [f["name"] for f in config["fixtures"]] == ["run_b.2", "run_demo"]


def test_init_with_name_and_context_evidence(tmp_path: Path) -> None:
    source = write_runpack(tmp_path / "src.zip", "run_ctx", context_set_digest="ab" * 32)
    fixture_dir = _init(tmp_path, source, name="ctx")
    meta = json.loads((fixture_dir / "fixture.json").read_text())
    assert meta["name"] == "ctx"
    assert meta["context_conformance"] == "required"
    assert meta["expected_context_set_digest"] == "ab" * 32


@pytest.mark.parametrize("name", ["Upper", "-dash", "a/b", "a b"])
def test_init_rejects_invalid_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(GaitError, match=f"invalid fixture name: {name}"):
        init_fixture(DEMO_ZIP, name=name, work_dir=tmp_path)


def test_init_refuses_a_tampered_source(tmp_path: Path) -> None:
    members = runpack_members()
    members["intents.jsonl"] += b"\n"
    source = write_zip(tmp_path / "tampered.zip", members)
    with pytest.raises(GaitError, match="source runpack failed integrity checks") as caught:
        init_fixture(source, work_dir=tmp_path / "work")
    assert caught.value.exit_code == ExitCode.INVALID_INPUT
    assert not (tmp_path / "work").exists()


def test_init_refuses_a_file_that_is_not_a_runpack(tmp_path: Path) -> None:
    source = tmp_path / "notes.zip"
    source.write_text("not a zip")
    with pytest.raises(GaitError, match="verify source runpack: "):
        init_fixture(source, work_dir=tmp_path)


# --- a passing run -------------------------------------------------------------------------------


def test_unchanged_demo_fixture_passes_with_the_reference_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    init_fixture(DEMO_ZIP)
    run = run_regress(RunOptions(producer_version="0.0.0-test", junit_path="out/junit.xml"))
    assert run.passed
    assert (run.output_path, run.junit_path) == ("regress_result.json", "out/junit.xml")
    assert run.top_failure_reason == ""
    assert run.summary("gait.yaml") == {
        "status": "pass",
        "fixture_set": "default",
        "graders": 4,
        "artifact_paths": ["regress_result.json", "out/junit.xml"],
        "output": "regress_result.json",
        "junit": "out/junit.xml",
    }
    demo = {"fixture": "run_demo", "run_id": "run_demo"}
    candidate = {"candidate_runpack": "fixtures/run_demo/runpack.zip"}
    expected = {
        "schema_id": "gait.regress.result",
        "schema_version": "1.0.0",
        "created_at": "2026-02-05T00:00:00Z",
        "producer_version": "0.0.0-test",
        "fixture_set": "default",
        "status": "pass",
        "graders": [
            {
                "name": "run_demo/diff",
                "status": "pass",
                "reason_codes": [],
                "details": {"allowed_files": [], **candidate, "changed_files": [], **demo},
            },
            {
                "name": "run_demo/expected_exit_code",
                "status": "pass",
                "reason_codes": [],
                "details": {
                    "actual_exit_code": 0,
                    "expected_exit_code": 0,
                    "fixture": "run_demo",
                    "missing_results": [],
                    "run_id": "run_demo",
                },
            },
            {
                "name": "run_demo/schema_validation",
                "status": "pass",
                "reason_codes": [],
                "details": {
                    "fixture": "run_demo",
                    "hash_mismatches": 0,
                    "intent_records": 3,
                    "missing_files": None,
                    "reference_receipts": 3,
                    "result_records": 3,
                    "run_id": "run_demo",
                },
            },
            {
                "name": "run_demo/trajectory",
                "status": "pass",
                "reason_codes": ["trajectory_match"],
                "details": {
                    "actual_tool_sequence": DEMO_TOOLS,
                    "actual_verdict_sequence": ["allow"] * 3,
                    **candidate,
                    "expected_tool_sequence": DEMO_TOOLS,
                    "expected_verdict_sequence": ["allow"] * 3,
                    **demo,
                },
            },
        ],
    }
    text = (tmp_path / "regress_result.json").read_text()
    assert json.loads(text) == expected
    assert text == json.dumps(expected, indent=2) + "\n"
    assert (tmp_path / "out" / "junit.xml").read_bytes() == junit_xml(run.result)
    assert stat.S_IMODE((tmp_path / "regress_result.json").stat().st_mode) == 0o600


def test_two_runs_write_identical_bytes(tmp_path: Path) -> None:
    _init(tmp_path, DEMO_ZIP)
    _init(tmp_path, write_runpack(tmp_path / "src.zip", "run_other", statuses=["ok", "x", "ok"]))
    outputs = []
    for _ in range(2):
        _run(tmp_path, junit_path=str(tmp_path / "junit.xml"))
        outputs.append(
            ((tmp_path / "regress_result.json").read_bytes(), (tmp_path / "junit.xml").read_bytes())
        )
    assert outputs[0] == outputs[1]


def test_created_at_comes_from_the_first_fixture_in_utc(tmp_path: Path) -> None:
    _init(tmp_path, write_runpack(tmp_path / "b.zip", "run_b", created_at="2030-01-01T00:00:00Z"))
    _init(
        tmp_path, write_runpack(tmp_path / "a.zip", "run_a", created_at="2026-03-01T05:00:00+02:00")
    )
    run = _run(tmp_path)
    assert run.result.created_at.format() == "2026-03-01T03:00:00Z"
    assert [g.name for g in run.result.graders][:2] == ["run_a/diff", "run_a/expected_exit_code"]


def test_progress_reports_each_fixture_in_order(tmp_path: Path) -> None:
    for run_id in ("run_b", "run_a"):
        _init(tmp_path, write_runpack(tmp_path / f"{run_id}.zip", run_id))
    seen: list[tuple[int, int, str]] = []
    run_regress(
        RunOptions(
            config_path=str(tmp_path / "gait.yaml"),
            output_path=str(tmp_path / "r.json"),
            work_dir=str(tmp_path),
        ),
        lambda position, total, name: seen.append((position, total, name)),
    )
    assert seen == [(1, 2, "run_a"), (2, 2, "run_b")]


# --- regressions ---------------------------------------------------------------------------------


def test_a_drifted_candidate_fails_diff_and_trajectory(tmp_path: Path) -> None:
    fixture_dir = _init(tmp_path, DEMO_ZIP)
    write_runpack(fixture_dir / "candidate.zip", "run_demo", tools=["tool.search", "tool.delete"])
    _edit_fixture(fixture_dir, candidate_runpack="candidate.zip")
    run = _run(tmp_path)
    assert not run.passed
    assert run.top_failure_reason == "unexpected_diff"
    graders = _graders(run)
    diff = graders["run_demo/diff"]
    assert diff.reason_codes == ("unexpected_diff",)
    assert diff.details["candidate_runpack"] == str(fixture_dir / "candidate.zip")
    assert diff.details["unexpected_files"] == diff.details["changed_files"]
    assert "intents.jsonl" in diff.details["changed_files"]
    trajectory = graders["run_demo/trajectory"]
    assert trajectory.reason_codes == ("unexpected_tool_sequence", "unexpected_verdict_sequence")
    assert trajectory.details["tool_sequence_mismatch_index"] == 1
    assert trajectory.details["tool_sequence_expected_at_mismatch"] == "tool.fetch"
    assert trajectory.details["tool_sequence_actual_at_mismatch"] == "tool.delete"
    assert trajectory.details["verdict_sequence_mismatch_index"] == 2
    assert trajectory.details["verdict_sequence_actual_at_mismatch"] == "<missing>"
    assert not graders["run_demo/schema_validation"].failed  # the baseline is still intact
    summary = run.summary(str(tmp_path / "gait.yaml"))
    assert summary["failed"] == 2
    assert summary["next_command"] == f"gait regress run --config {tmp_path / 'gait.yaml'} --json"


def test_an_edited_tool_expectation_is_the_top_failure(tmp_path: Path) -> None:
    fixture_dir = _init(tmp_path, DEMO_ZIP)
    _edit_fixture(fixture_dir, expected_tool_sequence=["tool.unexpected"])
    run = _run(tmp_path)
    assert run.top_failure_reason == "unexpected_tool_sequence"
    assert [g.name for g in run.result.failed_graders] == ["run_demo/trajectory"]
    assert run.summary("gait.yaml")["next_command"] == "gait regress run --json"


def test_a_structured_verdict_in_the_candidate_is_compared(tmp_path: Path) -> None:
    source = write_runpack(
        tmp_path / "src.zip",
        "run_v",
        tools=["tool.a", "tool.b"],
        statuses=["ok", "ok"],
        results=[{"verdict": "Needs Approval"}, None],
        capture_mode="raw",
    )
    fixture_dir = _init(tmp_path, source)
    meta = json.loads((fixture_dir / "fixture.json").read_text())
    assert meta["expected_verdict_sequence"] == ["require_approval", "allow"]
    write_runpack(
        fixture_dir / "candidate.zip", "run_v", tools=["tool.a", "tool.b"], statuses=["ok", "deny"]
    )
    _edit_fixture(
        fixture_dir,
        candidate_runpack="candidate.zip",
        diff_allow_changed_files=["results.jsonl", "manifest.json", " ", "results.jsonl"],
    )
    run = _run(tmp_path)
    graders = _graders(run)
    assert not graders["run_v/diff"].failed
    assert graders["run_v/diff"].details["allowed_files"] == ["manifest.json", "results.jsonl"]
    trajectory = graders["run_v/trajectory"]
    assert trajectory.reason_codes == ("unexpected_verdict_sequence",)
    assert trajectory.details["actual_verdict_sequence"] == ["allow", "block"]
    assert "tool_sequence_mismatch_index" not in trajectory.details


def test_trajectory_not_required_without_expectations(tmp_path: Path) -> None:
    fixture_dir = _init(tmp_path, DEMO_ZIP)
    _edit_fixture(fixture_dir, expected_tool_sequence=[], expected_verdict_sequence=None)
    trajectory = _graders(_run(tmp_path))["run_demo/trajectory"]
    assert (trajectory.status, trajectory.reason_codes) == ("pass", ("trajectory_not_required",))
    assert trajectory.details == {"fixture": "run_demo", "run_id": "run_demo"}


def test_missing_and_broken_candidates(tmp_path: Path) -> None:
    fixture_dir = _init(tmp_path, DEMO_ZIP)
    _edit_fixture(fixture_dir, candidate_runpack="absent.zip")
    graders = _graders(_run(tmp_path))
    for name in ("run_demo/diff", "run_demo/trajectory"):
        assert graders[name].reason_codes == ("candidate_path_invalid",)
        assert "candidate runpack not found" in graders[name].details["error"]

    (fixture_dir / "broken.zip").write_text("not a zip")
    _edit_fixture(fixture_dir, candidate_runpack="broken.zip")
    graders = _graders(_run(tmp_path))
    assert graders["run_demo/diff"].reason_codes == ("diff_error",)
    assert graders["run_demo/trajectory"].reason_codes == ("candidate_runpack_invalid",)


def test_replay_exit_code_expectation(tmp_path: Path) -> None:
    # No result for the last intent, and "tool.summarize" has no stub type: replay exits 2.
    members = runpack_members("run_m", statuses=["ok", "ok"])
    fixture_dir = _init(tmp_path, write_zip(tmp_path / "m.zip", members))
    grader = _graders(_run(tmp_path))["run_m/expected_exit_code"]
    assert grader.reason_codes == ("unexpected_exit_code",)
    assert grader.details["actual_exit_code"] == 2
    assert grader.details["missing_results"] == ["intent_3"]
    _edit_fixture(fixture_dir, expected_replay_exit_code=2)
    assert not _graders(_run(tmp_path))["run_m/expected_exit_code"].failed


def test_replay_error_on_duplicate_intents(tmp_path: Path) -> None:
    members = runpack_members("run_d", tools=["tool.a"])
    members["intents.jsonl"] *= 2
    _init(tmp_path, write_zip(tmp_path / "d.zip", with_manifest(members)))
    grader = _graders(_run(tmp_path))["run_d/expected_exit_code"]
    assert grader.reason_codes == ("replay_error",)
    assert grader.details["error"] == "duplicate intent_id: intent_1"


# --- context conformance -------------------------------------------------------------------------


def _context_fixture(tmp_path: Path) -> Path:
    source = write_runpack(tmp_path / "ctx.zip", "run_ctx", context_set_digest="ab" * 32)
    return _init(tmp_path, source)


def test_context_grader_runs_when_a_fixture_asks(tmp_path: Path) -> None:
    _context_fixture(tmp_path)
    _init(tmp_path, DEMO_ZIP)
    graders = _graders(_run(tmp_path))
    grader = graders["run_ctx/context_conformance"]
    assert (grader.status, grader.reason_codes) == ("pass", ("context_conformance_pass",))
    assert grader.context_conformance == "none"
    # Every fixture gets the grader; the demo does not ask, so it is not enforced there.
    demo = graders["run_demo/context_conformance"]
    assert demo.reason_codes == ("context_conformance_not_required",)


def test_runtime_only_context_drift(tmp_path: Path) -> None:
    fixture_dir = _context_fixture(tmp_path)
    write_runpack(
        fixture_dir / "candidate.zip",
        "run_ctx",
        context_set_digest="cd" * 32,
        retrieved_at="2026-02-06T00:00:00Z",
    )
    _edit_fixture(fixture_dir, candidate_runpack="candidate.zip")
    grader = _graders(_run(tmp_path))["run_ctx/context_conformance"]
    assert grader.reason_codes == ("context_runtime_drift_blocked",)
    assert grader.context_conformance == "runtime_only"
    assert grader.details["context_runtime_only"] is True
    allowed = _graders(_run(tmp_path, allow_context_runtime_drift=True))
    assert allowed["run_ctx/context_conformance"].reason_codes == ("context_conformance_pass",)


def test_semantic_context_drift(tmp_path: Path) -> None:
    fixture_dir = _context_fixture(tmp_path)
    write_runpack(
        fixture_dir / "candidate.zip",
        "run_ctx",
        tools=["tool.search"],
        context_set_digest="cd" * 32,
    )
    _edit_fixture(fixture_dir, candidate_runpack="candidate.zip")
    grader = _graders(_run(tmp_path))["run_ctx/context_conformance"]
    assert grader.reason_codes == ("context_set_digest_mismatch",)
    assert grader.context_conformance == "semantic"
    _edit_fixture(fixture_dir, expected_context_set_digest="", context_conformance="required")
    grader = _graders(_run(tmp_path))["run_ctx/context_conformance"]
    assert grader.reason_codes == ("context_semantic_drift",)


def test_context_flag_enforces_evidence_everywhere(tmp_path: Path) -> None:
    _init(tmp_path, DEMO_ZIP)
    assert "run_demo/context_conformance" not in _graders(_run(tmp_path))
    grader = _graders(_run(tmp_path, context_conformance=True))["run_demo/context_conformance"]
    assert grader.reason_codes == ("context_evidence_missing",)
    assert grader.context_conformance == "missing"


# --- a broken fixture set is an error, not a regression ------------------------------------------


def _config(root: Path, fixtures: list[dict[str, str]]) -> None:
    (root / "gait.yaml").write_text(json.dumps({"fixtures": fixtures}))


def test_no_fixtures(tmp_path: Path) -> None:
    _config(tmp_path, [])
    with pytest.raises(GaitError, match="no fixtures configured"):
        _run(tmp_path)
    assert not (tmp_path / "regress_result.json").exists()


def test_missing_fixture_runpack(tmp_path: Path) -> None:
    _config(tmp_path, [{"name": "a", "runpack": "fixtures/a/runpack.zip"}])
    with pytest.raises(GaitError, match="fixture runpack missing for a: stat ") as caught:
        _run(tmp_path)
    assert caught.value.exit_code == ExitCode.INVALID_INPUT


def test_corrupt_fixture_runpack_stops_the_run(tmp_path: Path) -> None:
    fixture_dir = _init(tmp_path, DEMO_ZIP)
    members = runpack_members()
    members["results.jsonl"] = members["results.jsonl"].replace(b'"ok"', b'"error"', 1)
    write_zip(fixture_dir / "runpack.zip", members)
    with pytest.raises(GaitError, match="read fixture runpack for run_demo: ") as caught:
        _run(tmp_path)
    assert caught.value.category == Category.VERIFICATION_FAILED


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"name": "other"}, "fixture metadata name mismatch for run_demo"),
        ({"run_id": "run_other"}, "fixture run_id mismatch for run_demo"),
        ({"expected_replay_exit_code": "0"}, "read fixture metadata for run_demo: parse fixture"),
    ],
)
def test_fixture_metadata_must_agree(tmp_path: Path, edit: dict[str, Any], message: str) -> None:
    _edit_fixture(_init(tmp_path, DEMO_ZIP), **edit)
    with pytest.raises(GaitError, match=message):
        _run(tmp_path)


def test_runpack_run_id_must_match_the_metadata(tmp_path: Path) -> None:
    _edit_fixture(_init(tmp_path, DEMO_ZIP), run_id="run_other")
    _config(tmp_path, [{"name": "run_demo", "runpack": "fixtures/run_demo/runpack.zip"}])
    with pytest.raises(GaitError, match="runpack run_id mismatch for run_demo"):
        _run(tmp_path)


def test_missing_fixture_metadata(tmp_path: Path) -> None:
    fixture_dir = _init(tmp_path, DEMO_ZIP)
    (fixture_dir / "fixture.json").unlink()
    with pytest.raises(GaitError, match="read fixture metadata for run_demo: read fixture"):
        _run(tmp_path)


def test_duplicate_zip_entries_are_a_verification_error(tmp_path: Path) -> None:
    fixture_dir = _init(tmp_path, DEMO_ZIP)
    with (
        zipfile.ZipFile(DEMO_ZIP) as source,
        zipfile.ZipFile(fixture_dir / "runpack.zip", "w") as out,
    ):
        for name in source.namelist():
            out.writestr(name, source.read(name))
        with pytest.warns(UserWarning, match="Duplicate name"):
            out.writestr("run.json", source.read("run.json"))
    with pytest.raises(GaitError) as caught:
        _run(tmp_path)
    assert caught.value.exit_code == ExitCode.VERIFICATION_FAILED
