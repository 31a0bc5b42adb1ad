"""`gait beads bridge` end to end: the installed gait, real signed traces, a stand-in bd."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gait.testing import RunGait

from .conftest import FakeBd, Work, bridge


def key_args(work: Work) -> list[str]:
    return ["--public-key", str(work.public_key)]


# -- dry run ---------------------------------------------------------------------------------


def test_dry_run_twice_is_byte_identical_and_carries_the_reason_codes(
    gait: RunGait, work: Work, no_bd_path: dict[str, str]
) -> None:
    args = ["--trace", work.trace("block"), "--decision", work.decision("block"), *key_args(work)]
    for extra in ([], ["--json"]):
        first = bridge(gait, *args, *extra, cwd=work.root, env=no_bd_path)
        second = bridge(gait, *args, *extra, cwd=work.root, env=no_bd_path)
        assert first.code == 0, first.stdout + first.stderr
        assert first.stdout.encode() == second.stdout.encode()
        assert "destructive_tool_blocked" in first.stdout
    out = first.json
    assert out["mode"] == "dry_run" and out["ok"] is True
    assert out["reason_codes"] == [
        "destructive_apply_requires_approval",
        "destructive_tool_blocked",
    ]
    assert out["reason_codes_source"] == "decision"
    assert out["signature_status"] == "verified"
    assert out["verdict"] == "block" and out["violations"] == ["destructive_operation"]
    assert out["title"] == f"Gait block: tool.delete ({out['trace_id']})"
    assert out["external_ref"] == f"gait:{out['trace_id']}"
    assert (out["issue_type"], out["priority"], out["labels"]) == ("bug", 1, ["gait", "gait-block"])
    assert out["bd_lookup_argv"] == ["bd", "list", "--all", "--limit", "0", "--json"]
    assert out["bd_argv"] == [
        "bd",
        "create",
        out["title"],
        "--type",
        "bug",
        "--priority",
        "1",
        "--labels",
        "gait,gait-block",
        "--external-ref",
        out["external_ref"],
        "--description",
        out["description"],
        "--json",
    ]
    body = out["description"]
    assert f"Trace Path: {Path(work.trace('block')).resolve()}\n" in body
    assert "Reason Codes: destructive_apply_requires_approval, destructive_tool_blocked" in body
    assert "Signature: verified (key_id " in body
    assert "Policy Digest: " in body and "Intent Digest: " in body


def test_dry_run_text_shows_the_exact_commands(gait: RunGait, work: Work) -> None:
    run = bridge(gait, "--trace", work.trace("block"), *key_args(work), cwd=work.root)
    assert run.code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0] == "mode=dry_run"
    assert any(line.startswith("lookup: bd list --all --limit 0 --json") for line in lines)
    assert any(line.startswith("create: bd create 'Gait block: tool.delete (") for line in lines)
    assert "reason_codes=not supplied (pass --decision" in run.stdout


def test_without_a_decision_the_issue_says_none_were_supplied(gait: RunGait, work: Work) -> None:
    run = bridge(gait, "--trace", work.trace("block"), *key_args(work), "--json", cwd=work.root)
    assert run.code == 0
    out = run.json
    assert out["reason_codes"] is None and out["reason_codes_source"] == "none_supplied"
    assert "Reason Codes: not supplied (traces do not record reason codes" in out["description"]
    assert "Reason Codes: none" not in out["description"]


def test_priority_and_labels_follow_the_verdict(gait: RunGait, work: Work) -> None:
    run = bridge(
        gait, "--trace", work.trace("require_approval"), *key_args(work), "--json", cwd=work.root
    )
    assert run.code == 0
    out = run.json
    assert (out["issue_type"], out["priority"]) == ("task", 2)
    assert out["labels"] == ["gait", "gait-require-approval"]
    assert f"gait approve --intent-digest {out['intent_digest']}" in out["description"]
    overridden = bridge(
        gait,
        "--trace",
        work.trace("require_approval"),
        *key_args(work),
        "--type",
        "decision",
        "--priority",
        "0",
        "--json",
        cwd=work.root,
    )
    assert (overridden.json["issue_type"], overridden.json["priority"]) == ("decision", 0)


def test_the_dev_key_is_used_without_a_key_flag(gait: RunGait, tmp_path: Path) -> None:
    root = tmp_path / "dev"
    shutil.copytree(Path(__file__).parents[3] / "examples" / "quickstart", root)
    home = {"GAIT_HOME": str(tmp_path / "home")}
    made = gait(
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "intent_delete.json",
        "--trace-out",
        "t.json",
        "--json",
        cwd=root,
        env=home,
    )
    assert made.code == 3
    ok = bridge(gait, "--trace", "t.json", "--json", cwd=root, env=home)
    assert ok.code == 0 and ok.json["signature_status"] == "verified"
    elsewhere = bridge(
        gait, "--trace", "t.json", "--json", cwd=root, env={"GAIT_HOME": str(tmp_path / "other")}
    )
    assert elsewhere.code == 2
    assert "no dev key" in elsewhere.json["error"]


# -- refusing bad input -------------------------------------------------------------------------


def test_tampered_trace_is_refused_with_exit_2(gait: RunGait, work: Work) -> None:
    record = json.loads(Path(work.trace("block")).read_text())
    record["verdict"] = "require_approval"
    tampered = work.root / "tampered.json"
    tampered.write_text(json.dumps(record))
    run = bridge(gait, "--trace", str(tampered), *key_args(work), "--json", cwd=work.root)
    assert run.code == 2, run.stdout
    assert run.json["error_code"] == "verification_failed"
    assert "does not verify" in run.json["error"] and "--allow-unverified" in run.json["error"]


def test_unsigned_trace_is_refused_unless_allowed_and_then_marked(
    gait: RunGait, work: Work
) -> None:
    record = json.loads(Path(work.trace("block")).read_text())
    del record["signature"]
    unsigned = work.root / "unsigned.json"
    unsigned.write_text(json.dumps(record))
    refused = bridge(gait, "--trace", str(unsigned), *key_args(work), cwd=work.root)
    assert refused.code == 2
    assert "missing signature" in refused.stderr
    allowed = bridge(
        gait,
        "--trace",
        str(unsigned),
        *key_args(work),
        "--allow-unverified",
        "--json",
        cwd=work.root,
    )
    assert allowed.code == 0, allowed.stdout
    out = allowed.json
    assert out["signature_status"] == "unverified"
    assert out["signature_error"] == "missing signature"
    assert out["title"].endswith(" [unverified]")
    assert "gait-unverified" in out["labels"]
    assert "WARNING: this trace's signature was not verified" in out["description"]
    assert "Signature: NOT VERIFIED (missing signature)" in out["description"]
    assert out["warnings"] == ["signature not verified: missing signature"]


def test_wrong_key_is_refused(gait: RunGait, work: Work) -> None:
    gait("keys", "init", "--out-dir", "other", cwd=work.root)
    run = bridge(
        gait, "--trace", work.trace("block"), "--public-key", "other/gait_public.key", cwd=work.root
    )
    assert run.code == 2


@pytest.mark.parametrize("content", ["not json at all", "[1, 2]", ""])
def test_a_trace_that_is_not_json_exits_6(gait: RunGait, work: Work, content: str) -> None:
    bad = work.root / "bad.json"
    bad.write_text(content)
    run = bridge(gait, "--trace", str(bad), *key_args(work), "--json", cwd=work.root)
    assert run.code == 6
    assert run.json["error_code"] == "invalid_input"


def test_missing_trace_file_exits_6(gait: RunGait, work: Work) -> None:
    run = bridge(gait, "--trace", "nowhere.json", *key_args(work), cwd=work.root)
    assert run.code == 6 and "cannot read trace" in run.stderr


def test_a_decision_of_another_trace_is_refused(gait: RunGait, work: Work) -> None:
    run = bridge(
        gait,
        "--trace",
        work.trace("block"),
        "--decision",
        work.decision("require_approval"),
        *key_args(work),
        cwd=work.root,
    )
    assert run.code == 6
    assert "does not belong to this trace" in run.stderr


def test_a_decision_that_is_not_gate_output_is_refused(gait: RunGait, work: Work) -> None:
    (work.root / "d.json").write_text('{"reason_codes": "x", "trace_id": "1"}')
    run = bridge(
        gait, "--trace", work.trace("block"), "--decision", "d.json", *key_args(work), cwd=work.root
    )
    assert run.code == 6 and "reason_codes must be an array of strings" in run.stderr


def test_usage_errors_exit_6(gait: RunGait, work: Work) -> None:
    assert bridge(gait, cwd=work.root).code == 6
    both = bridge(gait, "--trace", "a", "--trace-dir", "b", cwd=work.root)
    assert both.code == 6 and "not both" in both.stderr
    assert bridge(gait, "--trace", "a", "--priority", "9", cwd=work.root).code == 6


# -- live -----------------------------------------------------------------------------------------


def test_live_creates_the_issue_once_and_a_rerun_creates_nothing(
    gait: RunGait, work: Work, fake_bd: FakeBd
) -> None:
    args = ["--trace", work.trace("block"), "--decision", work.decision("block"), *key_args(work)]
    first = bridge(gait, *args, "--live", "--json", cwd=work.root, env=fake_bd.env())
    assert first.code == 0, first.stdout + first.stderr
    out = first.json
    assert out["mode"] == "live" and out["created"] is True and out["issue_id"] == "gt-001"
    assert out["warnings"] == []
    assert fake_bd.commands() == ["list", "create", "show"]
    assert fake_bd.calls()[1] == out["bd_argv"][1:]
    [issue] = fake_bd.issues()
    assert issue["external_ref"] == f"gait:{out['trace_id']}"
    assert (issue["issue_type"], issue["priority"]) == ("bug", 1)
    assert issue["labels"] == ["gait", "gait-block"]
    assert issue["title"] == out["title"] and issue["description"] == out["description"]
    assert "destructive_tool_blocked" in issue["description"]

    second = bridge(gait, *args, "--live", cwd=work.root, env=fake_bd.env())
    assert second.code == 0, second.stderr
    assert "issue_id=gt-001" in second.stdout and "created=false" in second.stdout
    assert fake_bd.commands() == ["list", "create", "show", "list"]
    assert len(fake_bd.issues()) == 1


def test_live_reads_bd_answers_without_the_envelope(
    gait: RunGait, work: Work, fake_bd: FakeBd
) -> None:
    env = fake_bd.env(FAKE_BD_LEGACY="1")
    args = ["--trace", work.trace("block"), *key_args(work), "--live", "--json"]
    assert bridge(gait, *args, cwd=work.root, env=env).json["created"] is True
    assert bridge(gait, *args, cwd=work.root, env=env).json["created"] is False
    assert len(fake_bd.issues()) == 1


def test_live_finds_a_closed_issue_by_its_ref_whatever_its_labels(
    gait: RunGait, work: Work, fake_bd: FakeBd
) -> None:
    args = ["--trace", work.trace("block"), *key_args(work), "--live", "--json"]
    trace_id = bridge(gait, *args, cwd=work.root, env=fake_bd.env()).json["trace_id"]
    [issue] = fake_bd.issues()
    issue.update(status="closed", labels=["triaged"])
    fake_bd.state.write_text(json.dumps([issue]))
    again = bridge(gait, *args, cwd=work.root, env=fake_bd.env())
    assert again.json["created"] is False and again.json["issue_id"] == issue["id"]
    assert again.json["external_ref"] == f"gait:{trace_id}"


def test_live_warns_when_bd_drops_the_external_ref(
    gait: RunGait, work: Work, fake_bd: FakeBd
) -> None:
    args = ["--trace", work.trace("block"), *key_args(work), "--live", "--json"]
    run = bridge(gait, *args, cwd=work.root, env=fake_bd.env(FAKE_BD_DROP_REF="1"))
    assert run.code == 0
    [warning] = run.json["warnings"]
    assert "did not store external_ref" in warning and "duplicate" in warning


def test_live_without_bd_exits_7(gait: RunGait, work: Work, no_bd_path: dict[str, str]) -> None:
    args = ["--trace", work.trace("block"), *key_args(work), "--live"]
    on_path = bridge(gait, *args, "--json", cwd=work.root, env=no_bd_path)
    assert on_path.code == 7
    assert on_path.json["error_code"] == "dependency_missing"
    assert "bd not found: 'bd' is not on PATH" in on_path.json["error"]
    given = bridge(gait, *args, "--bd", str(work.root / "no" / "bd"), cwd=work.root)
    assert given.code == 7 and "is not an executable file" in given.stderr


@pytest.mark.parametrize("command", ["list", "create"])
def test_failing_bd_gives_a_clear_error_and_exit_1(
    gait: RunGait, work: Work, fake_bd: FakeBd, command: str
) -> None:
    args = ["--trace", work.trace("block"), *key_args(work), "--live"]
    run = bridge(gait, *args, cwd=work.root, env=fake_bd.env(FAKE_BD_FAIL=command))
    assert run.code == 1, run.stdout + run.stderr
    assert f"bd {command} failed (exit 1): database is locked ({command})" in run.stderr
    assert fake_bd.issues() == []


def test_bd_that_answers_garbage_exits_1(gait: RunGait, work: Work, tmp_path: Path) -> None:
    garbage = tmp_path / "garbage-bd"
    garbage.write_text("#!/bin/sh\necho 'this is not json'\n")
    garbage.chmod(0o755)
    run = bridge(
        gait,
        "--trace",
        work.trace("block"),
        *key_args(work),
        "--live",
        "--bd",
        str(garbage),
        cwd=work.root,
    )
    assert run.code == 1 and "bd list did not answer JSON" in run.stderr


# -- a directory of traces ----------------------------------------------------------------------


def test_batch_bridges_only_non_allow_traces(gait: RunGait, work: Work, fake_bd: FakeBd) -> None:
    (work.traces / "notes.json").write_text('{"hello": "world"}')
    shutil.copy(work.trace("block"), work.traces / "z_same_decision_again.json")
    args = ["--trace-dir", str(work.traces), *key_args(work), "--json"]
    decisions = ["--decision", work.decision("block"), "--decision", work.decision("allow")]
    dry = bridge(gait, *args, *decisions, cwd=work.root, env=fake_bd.env())
    assert dry.code == 0, dry.stdout + dry.stderr
    assert dry.stdout == bridge(gait, *args, *decisions, cwd=work.root, env=fake_bd.env()).stdout
    out = dry.json
    assert [i["verdict"] for i in out["issues"]] == ["block", "require_approval"]
    assert out["issues"][0]["reason_codes_source"] == "decision"
    assert out["issues"][1]["reason_codes"] is None
    reasons = {Path(s["path"]).name: s["reason"] for s in out["skipped"]}
    assert reasons["allow.json"] == "verdict allow"
    assert reasons["notes.json"] == "not a gait trace"
    assert reasons["z_same_decision_again.json"].startswith("same trace_id as ")
    assert out["counts"] == {"issues": 2, "skipped": 3}
    assert fake_bd.calls() == []

    live = bridge(gait, *args, *decisions, "--live", cwd=work.root, env=fake_bd.env())
    assert live.code == 0, live.stdout + live.stderr
    assert live.json["counts"] == {"issues": 2, "skipped": 3, "created": 2, "existing": 0}
    assert fake_bd.commands() == ["list", "create", "show", "create", "show"]
    again = bridge(gait, *args, "--live", cwd=work.root, env=fake_bd.env())
    assert again.json["counts"]["created"] == 0 and again.json["counts"]["existing"] == 2
    assert len(fake_bd.issues()) == 2


def test_batch_refuses_everything_when_one_trace_does_not_verify(
    gait: RunGait, work: Work, fake_bd: FakeBd
) -> None:
    record = json.loads(Path(work.trace("allow")).read_text())
    record["verdict"] = "block"  # hiding nothing: a changed allow trace fails the whole batch
    Path(work.trace("allow")).write_text(json.dumps(record))
    run = bridge(
        gait,
        "--trace-dir",
        str(work.traces),
        *key_args(work),
        "--live",
        cwd=work.root,
        env=fake_bd.env(),
    )
    assert run.code == 2
    assert fake_bd.calls() == []


def test_batch_refuses_a_decision_with_no_trace(gait: RunGait, work: Work) -> None:
    Path(work.trace("block")).unlink()
    run = bridge(
        gait,
        "--trace-dir",
        str(work.traces),
        "--decision",
        work.decision("block"),
        *key_args(work),
        cwd=work.root,
    )
    assert run.code == 6 and "no trace in" in run.stderr


def test_batch_failure_says_how_far_it_got(gait: RunGait, work: Work, fake_bd: FakeBd) -> None:
    run = bridge(
        gait,
        "--trace-dir",
        str(work.traces),
        *key_args(work),
        "--live",
        cwd=work.root,
        env=fake_bd.env(FAKE_BD_FAIL="create"),
    )
    assert run.code == 1
    assert "0 of 2 traces were bridged before this failure" in run.stderr


def test_batch_text_output(gait: RunGait, work: Work) -> None:
    run = bridge(gait, "--trace-dir", str(work.traces), *key_args(work), cwd=work.root)
    lines = run.stdout.splitlines()
    assert lines[0] == "mode=dry_run"
    assert lines[1].startswith("lookup: bd list")
    assert sum(line.startswith("would file: Gait ") for line in lines) == 2
    assert lines[-1] == "issues=2 skipped=1"
