"""`gait gate eval`, `gait trace verify`, `gait approve` and `gait policy` through the installed
CLI: signed traces, approvals, rate limits, simulate, profiles, plugins and bad input."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests import plugin_fixtures as fx
from tests.conftest import INTEROP, RunGait

POLICY = """\
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: block
rules:
  - name: block-delete
    priority: 10
    effect: block
    match: {tool_names: [tool.delete]}
    reason_codes: [destructive_tool_blocked]
    violations: [destructive_operation]
  - name: approve-write
    priority: 20
    effect: require_approval
    min_approvals: {min_approvals}
    require_distinct_approvers: true
    match: {tool_names: [tool.write]}
    reason_codes: [approval_required_for_write]
  - name: allow-read
    priority: 30
    effect: allow
    match: {tool_names: [tool.read]}
    rate_limit: {requests: 2, window: hour, scope: identity}
"""


def intent(tool: str, path: str = "/tmp/out.txt") -> dict[str, Any]:
    return {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-02-06T00:00:00Z",
        "producer_version": "test",
        "tool_name": tool,
        "args": {"path": path},
        "targets": [{"kind": "path", "value": path}],
        "arg_provenance": [{"arg_path": "$.path", "source": "user"}],
        "context": {"identity": "alice", "workspace": "/repo", "risk_class": "high"},
    }


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "policy.yaml").write_text(POLICY.replace("{min_approvals}", "1"))
    for tool in ("read", "write", "delete"):
        (tmp_path / f"{tool}.json").write_text(json.dumps(intent(f"tool.{tool}")))
    return tmp_path


def home(tmp_path: Path) -> dict[str, str]:
    return {"GAIT_HOME": str(tmp_path / "home")}


def evaluate(gait: RunGait, work: Path, tool: str, *extra: str) -> Any:
    return gait(
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        f"{tool}.json",
        "--json",
        *extra,
        env=home(work),
    )


def verify_independently(trace: dict[str, Any], public_key_file: Path) -> None:
    """gate.md section 6.2 from the raw JSON, with no gait code involved."""
    signature = trace["signature"]
    body = {k: v for k, v in trace.items() if k != "signature"}
    digest = hashlib.sha256(rfc8785.dumps(body)).digest()
    assert signature["signed_digest"] == digest.hex()
    public = base64.b64decode(public_key_file.read_text())
    assert signature["key_id"] == hashlib.sha256(public).hexdigest()
    Ed25519PublicKey.from_public_bytes(public).verify(base64.b64decode(signature["sig"]), digest)


def test_reference_trace_verifies_and_edit_exits_2(gait: RunGait, tmp_path: Path) -> None:
    key = str(INTEROP / "reference_public.key")
    ok = gait("trace", "verify", str(INTEROP / "trace_signed.json"), "--public-key", key, "--json")
    assert ok.code == 0 and ok.json["signature_status"] == "verified"
    edited = json.loads((INTEROP / "trace_signed.json").read_text())
    edited["verdict"] = "allow"
    (tmp_path / "edited.json").write_text(json.dumps(edited))
    bad = gait("trace", "verify", "--path", "edited.json", "--public-key", key, "--json")
    assert bad.code == 2
    assert bad.json["signature_status"] == "failed"
    assert bad.json["error_code"] == "verification_failed"


def test_prod_trace_verifies_by_the_spec_rules(gait: RunGait, work: Path) -> None:
    gait("keys", "init", "--out-dir", "keys", cwd=work)
    run = evaluate(
        gait, work, "delete", "--key-mode", "prod", "--private-key", "keys/gait_private.key"
    )
    assert run.code == 3, run.stdout
    trace_path = work / run.json["trace_path"]
    assert stat.S_IMODE(os.stat(trace_path).st_mode) == 0o600
    trace = json.loads(trace_path.read_text())
    assert trace["verdict"] == "block" and trace["violations"] == ["destructive_operation"]
    assert "reason_codes" not in trace
    assert "args" not in trace and "/tmp/out.txt" not in trace_path.read_text()
    verify_independently(trace, work / "keys" / "gait_public.key")
    checked = gait(
        "trace", "verify", str(trace_path), "--public-key", "keys/gait_public.key", cwd=work
    )
    assert checked.code == 0


def test_dev_traces_verify_on_this_machine(gait: RunGait, work: Path) -> None:
    run = evaluate(gait, work, "read")
    assert run.code == 0 and run.json["verdict"] == "allow"
    assert any("dev mode" in w for w in run.json["warnings"])
    again = gait("trace", "verify", run.json["trace_path"], "--json", cwd=work, env=home(work))
    assert again.code == 0 and again.json["signature_status"] == "verified"
    elsewhere = gait(
        "trace",
        "verify",
        run.json["trace_path"],
        "--json",
        cwd=work,
        env={"GAIT_HOME": str(work / "other-machine")},
    )
    assert elsewhere.code == 6


def test_dev_mode_refuses_explicit_keys(gait: RunGait, work: Path) -> None:
    gait("keys", "init", "--out-dir", "keys", cwd=work)
    run = evaluate(gait, work, "read", "--private-key", "keys/gait_private.key")
    assert run.code == 6 and "dev mode does not accept explicit key sources" in run.json["error"]
    assert list(work.glob("trace_*.json")) == []


def test_approval_token_turns_require_approval_into_allow(gait: RunGait, work: Path) -> None:
    first = evaluate(gait, work, "write")
    assert first.code == 4
    assert "approval_token_missing" in first.json["reason_codes"]
    token = gait(
        "approve",
        "--intent-digest",
        first.json["intent_digest"],
        "--policy-digest",
        first.json["policy_digest"],
        "--ttl",
        "1h",
        "--scope",
        "tool:tool.write",
        "--approver",
        "bob",
        "--reason-code",
        "reviewed",
        "--json",
        cwd=work,
        env=home(work),
    )
    assert token.code == 0, token.stdout
    granted = evaluate(gait, work, "write", "--approval-token", token.json["token_path"])
    assert granted.code == 0, granted.stdout
    assert granted.json["verdict"] == "allow"
    assert "approval_granted" in granted.json["reason_codes"]
    assert granted.json["approval_ref"] == token.json["token_id"]
    audit = json.loads((work / granted.json["approval_audit_path"]).read_text())
    assert audit["approved"] is True and audit["approvers"] == ["bob"]
    trace = json.loads((work / granted.json["trace_path"]).read_text())
    assert trace["verdict"] == "allow" and trace["approval_token_ref"] == token.json["token_id"]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"--scope": "tool:tool.read"}, "approval_token_scope_mismatch"),
        ({"--intent-digest": "a" * 64}, "approval_token_intent_mismatch"),
        ({"--ttl": "1ns"}, "approval_token_expired"),
    ],
)
def test_approval_tokens_that_do_not_bind(
    gait: RunGait, work: Path, change: dict[str, str], code: str
) -> None:
    first = evaluate(gait, work, "write").json
    flags = {
        "--intent-digest": first["intent_digest"],
        "--policy-digest": first["policy_digest"],
        "--ttl": "1h",
        "--scope": "tool:tool.write",
        "--approver": "bob",
        "--reason-code": "reviewed",
        **change,
    }
    argv = [part for pair in flags.items() for part in pair]
    token = gait("approve", *argv, "--out", "token.json", cwd=work, env=home(work))
    assert token.code == 0, token.stderr
    run = evaluate(gait, work, "write", "--approval-token", "token.json")
    assert run.code == 4
    assert code in run.json["reason_codes"]
    assert "approval_chain_insufficient" in run.json["reason_codes"]
    assert "approval_not_granted" in run.json["violations"]


def test_two_distinct_approvers_are_needed(gait: RunGait, work: Path) -> None:
    (work / "policy.yaml").write_text(POLICY.replace("{min_approvals}", "2"))
    first = evaluate(gait, work, "write").json
    paths = []
    for index, approver in enumerate(("bob", "bob", "carol")):
        gait(
            "approve",
            "--intent-digest",
            first["intent_digest"],
            "--policy-digest",
            first["policy_digest"],
            "--ttl",
            "1h",
            "--scope",
            "tool:tool.write",
            "--approver",
            approver,
            "--reason-code",
            "ok",
            "--out",
            f"t{index}.json",
            cwd=work,
            env=home(work),
        )
        paths.append(f"t{index}.json")
    same = evaluate(gait, work, "write", "--approval-token-chain", "t0.json,t1.json")
    assert same.code == 4
    assert "approval_distinct_approvers_required" in same.json["reason_codes"]
    two = evaluate(
        gait, work, "write", "--approval-token", "t0.json", "--approval-token", "t2.json"
    )
    assert two.code == 0 and two.json["valid_approvals"] == 2


def test_rate_limit_blocks_once_the_window_is_full(gait: RunGait, work: Path) -> None:
    results = [evaluate(gait, work, "read").json for _ in range(3)]
    assert [r["verdict"] for r in results] == ["allow", "allow", "block"]
    assert "rate_limit_exceeded" in results[2]["reason_codes"]
    assert results[2]["rate_limit_remaining"] == 0
    state = json.loads((work / ".gait-out" / "gate_rate_limits.json").read_text())
    assert state["schema_id"] == "gait.gate.rate_limit_state"
    assert [c["count"] for c in state["counters"]] == [2]


def test_simulate_records_allow_and_what_would_have_happened(gait: RunGait, work: Path) -> None:
    run = evaluate(gait, work, "delete", "--simulate")
    assert run.code == 0
    out = run.json
    assert out["verdict"] == "allow" and out["would_have_blocked"] is True
    assert out["simulated_verdict"] == "block"
    assert {"simulate_mode_non_enforcing", "simulated_block"} <= set(out["reason_codes"])
    trace = json.loads((work / out["trace_path"]).read_text())
    assert trace["verdict"] == "allow"


def test_oss_prod_profile_requirements(gait: RunGait, work: Path) -> None:
    assert evaluate(gait, work, "read", "--profile", "oss-prod").code == 6
    gait("keys", "init", "--out-dir", "keys", cwd=work)
    prod = ("--key-mode", "prod", "--private-key", "keys/gait_private.key")
    ok = evaluate(gait, work, "read", "--profile", "oss-prod", *prod)
    assert ok.code == 0 and ok.json["profile"] == "oss-prod"
    assert evaluate(gait, work, "read", "--profile", "oss-prod", "--simulate", *prod).code == 6
    (work / "policy.yaml").write_text("default_verdict: allow\n")
    assert evaluate(gait, work, "read", "--profile", "oss-prod", *prod).code == 6


def test_plugin_evaluator_takes_part_and_is_recorded(gait: RunGait, work: Path) -> None:
    site = work / "site"
    fx.make_plugin(site, "gait-plugin-good", "gait_plugin_good_gate", fx.GOOD)
    (work / "forbidden.json").write_text(json.dumps(intent("tool.forbidden")))
    (work / "policy.yaml").write_text("default_verdict: allow\n")
    run = gait(
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "forbidden.json",
        "--json",
        cwd=work,
        env=home(work),
        plugins=None,
        pythonpath=site,
    )
    assert run.code == 3 and run.json["reason_codes"] == ["forbidden_tool"]
    trace = json.loads((work / run.json["trace_path"]).read_text())
    plugin_refs = [e for e in trace["relationship"]["entity_refs"] if e["kind"] == "plugin"]
    assert plugin_refs == [{"kind": "plugin", "id": "gait-plugin-good@1.2.3"}]
    crash = work / "crash"
    fx.make_plugin(crash, "gait-plugin-crash", "gait_plugin_crash_gate", fx.RAISING_EVALUATOR)
    failed = gait(
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "read.json",
        "--json",
        cwd=work,
        env=home(work),
        plugins=None,
        pythonpath=crash,
    )
    assert failed.code == 3 and failed.json["reason_codes"] == ["plugin_evaluator_error"]


DEEP = "[" * 5000 + "]" * 5000


@pytest.mark.parametrize(
    ("policy", "intent_text"),
    [
        ("rules: [", None),
        ("default_verdict: allow\ndefault_verdict: block\n", None),
        ("rules: {a: 1}\n", None),
        ("unknown_key: 1\n", None),
        ("rules:\n  - name: x\n    effect: allow\n    freeze_window: {enabled: true}\n", None),
        (b"default_verdict: \xff\xfe\n", None),
        ("a: " + "x" * (2 << 20), None),
        ("default_verdict: allow\n", "{not json"),
        ("default_verdict: allow\n", '{"tool_name": 5}'),
        ("default_verdict: allow\n", '{"tool_name": "tool.read", "args": ' + DEEP + "}"),
        ("default_verdict: allow\n", b'{"tool_name": "\xff"}'),
        ("default_verdict: allow\n", '{"a": "' + "x" * (2 << 20) + '"}'),
        ("default_verdict: allow\n", "[]"),
    ],
    ids=[
        "yaml-syntax",
        "yaml-duplicate",
        "yaml-type",
        "yaml-unknown",
        "unsupported-feature",
        "yaml-utf8",
        "yaml-huge",
        "json-syntax",
        "json-type",
        "json-deep",
        "json-utf8",
        "json-huge",
        "json-array",
    ],
)
def test_bad_input_exits_6_with_no_trace(
    gait: RunGait, tmp_path: Path, policy: str | bytes, intent_text: str | bytes | None
) -> None:
    policy_file = tmp_path / "policy.yaml"
    intent_file = tmp_path / "intent.json"
    for file, content in (
        (policy_file, policy),
        (intent_file, json.dumps(intent("tool.read")) if intent_text is None else intent_text),
    ):
        if isinstance(content, bytes):
            file.write_bytes(content)
        else:
            file.write_text(content)
    run = gait(
        "gate",
        "eval",
        "--policy",
        "policy.yaml",
        "--intent",
        "intent.json",
        "--json",
        env=home(tmp_path),
    )
    assert run.code == 6, run.stdout
    out = run.json
    assert out["ok"] is False and out["error_code"] == "invalid_input"
    assert {"error", "error_category", "retryable", "hint"} <= set(out)
    assert "verdict" not in out
    assert list(tmp_path.glob("trace_*.json")) == []


# What a decision with no plugin installed, no approval and no rate limit never needs. Hook
# integrations run `gait gate eval` once per tool call, so each import is start-up time.
NOT_FOR_A_PLAIN_DECISION = (
    "pluggy",
    "gait.hookspecs",
    "gait.approval",
    "gait.ratelimit",
    "gait.intent_sections",
    "gait.contracts.gate",
    "gait.contracts.runpack",
    "cattrs",
    "rfc8785",
    "tempfile",
)


def test_a_plain_decision_loads_only_what_it_needs(work: Path) -> None:
    run = """
import json, sys
from gait_cli.main import main

code = main(["gait", "gate", "eval", "--policy", "policy.yaml", "--intent", "delete.json"])
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""
    done = subprocess.run(
        [sys.executable, "-c", run],
        cwd=work,
        env={**os.environ, **home(work), "GAIT_PLUGINS": ""},
        capture_output=True,
        text=True,
        check=True,
    )
    report = json.loads(done.stderr.splitlines()[-1])
    assert report["code"] == 3
    assert [name for name in NOT_FOR_A_PLAIN_DECISION if name in report["modules"]] == []


def test_missing_flags_exit_6(gait: RunGait) -> None:
    out = gait("gate", "eval", "--json")
    assert out.code == 6 and out.json["error"] == "missing required --policy"


def test_policy_validate_and_test(gait: RunGait, work: Path) -> None:
    valid = gait("policy", "validate", "policy.yaml", "--json", cwd=work)
    assert valid.code == 0 and valid.json["rule_count"] == 3
    tested = gait("policy", "test", "policy.yaml", "delete.json", "--json", cwd=work)
    assert tested.code == 3
    assert tested.json["schema_id"] == "gait.policytest.result"
    assert tested.json["summary"].startswith("policy test verdict=block")
    assert list(work.glob("trace_*.json")) == []
    assert gait("policy", "test", "policy.yaml", "write.json", cwd=work).code == 4


def test_reference_high_risk_example_is_refused_naming_the_feature(gait: RunGait) -> None:
    """gate.md G11-G14 use credential posture, broker and delegation rules, which this version
    does not implement: the policy is refused rather than enforced in part."""
    examples = INTEROP.parents[1] / "reference_fixtures" / "examples" / "policy"
    run = gait(
        "gate",
        "eval",
        "--policy",
        str(examples / "base_high_risk.yaml"),
        "--intent",
        str(examples / "intents" / "intent_delete.json"),
        "--json",
    )
    assert run.code == 6
    assert 'unsupported feature "block_standing_credentials"' in run.json["error"]
