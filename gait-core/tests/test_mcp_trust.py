"""MCP server trust (integrations.md §1.8, the behaviours of the reference's
`core/mcp/trust_test.go`): the `mcp_trust` policy block and its digest, trust snapshots, the
per-call decision table, and how a decision reaches the verdict and the signed trace."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from gait.gate import Gate, GateDecision
from gait.keys import SigningKey
from gait.mcp.boundary import CallRequest, Settings, evaluate_call, sign_call
from gait.mcp.toolcall import call_intent, decode_mcp, decode_openai
from gait.mcp.trust import (
    INVALID,
    UNAVAILABLE,
    SnapshotCache,
    SnapshotInvalid,
    apply_trust,
    decide_trust,
    default_risk_class,
    parse_snapshot,
    read_snapshot,
    stricter_for_trust,
)
from gait.policy import MCPTrust, PolicyError, parse_policy, policy_from_document
from gait.policy_format import format_policy, policy_document
from gait.timefmt import GoTime, format_go_duration, parse_go_duration
from gait.trace import verify_trace

NOW = GoTime.parse("2026-03-02T00:00:00Z")
HEAD = "schema_id: gait.gate.policy\nschema_version: 1.0.0\n"


def _entry(server_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "server_id": server_id,
        "status": "trusted",
        "updated_at": "2026-03-01T00:00:00Z",
        **fields,
    }


def _snapshot(*entries: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema_id": "gait.mcp.trust_snapshot",
        "schema_version": "1.0.0",
        "created_at": "2026-03-01T00:00:00Z",
        "producer_version": "test",
        "entries": list(entries),
    }


def _write(path: Path, document: Any) -> str:
    path.write_text(json.dumps(document))
    return str(path)


def _trust(snapshot: str, **fields: Any) -> MCPTrust:
    defaults: dict[str, Any] = {
        "enabled": True,
        "snapshot": snapshot,
        "action": "block",
        "required_risk_classes": ("high",),
    }
    return MCPTrust(**{**defaults, **fields})


def _decide(policy: MCPTrust, server: dict[str, Any] | None, risk: str = "high") -> Any:
    return decide_trust(policy, server, risk, read_snapshot, now=lambda: NOW)


# ---- the policy block ---------------------------------------------------------------------------


def test_setting_any_field_enables_trust_with_defaults() -> None:
    trust = parse_policy("mcp_trust:\n  snapshot: ' ./snap.json '\n").mcp_trust
    assert trust == MCPTrust(
        enabled=True,
        snapshot="./snap.json",
        action="block",
        required_risk_classes=("critical", "high"),
    )
    lists = parse_policy(
        "mcp_trust: {snapshot: s, action: Require_Approval, required_risk_classes: [High, high],"
        " publisher_allowlist: [ACME, acme], max_age: 1.5h}\n"
    ).mcp_trust
    assert lists.action == "require_approval"
    assert lists.required_risk_classes == ("high",) and lists.publisher_allowlist == ("acme",)
    assert (lists.max_age, lists.max_age_seconds) == ("1h30m0s", 5400)
    assert not parse_policy("mcp_trust: {enabled: false, min_score: 0}\n").mcp_trust.enabled


@pytest.mark.parametrize(
    ("block", "message"),
    [
        ("{enabled: true}", "mcp_trust.snapshot is required when mcp_trust is configured"),
        ("{min_score: 0.5}", "mcp_trust.snapshot is required when mcp_trust is configured"),
        ("{snapshot: s, action: allow}", 'unsupported mcp_trust.action "allow"'),
        ("{snapshot: s, min_score: 1.5}", "mcp_trust.min_score must be between 0 and 1"),
        ("{snapshot: s, min_score: -0.1}", "mcp_trust.min_score must be between 0 and 1"),
        ("{snapshot: s, min_score: .nan}", "mcp_trust.min_score must be between 0 and 1"),
        ("{snapshot: s, max_age: 1d}", 'parse mcp_trust.max_age: time: unknown unit "d"'),
        ("{snapshot: s, max_age: '10'}", "parse mcp_trust.max_age: time: missing unit"),
        ("{snapshot: s, max_age: -1h}", "mcp_trust.max_age must be > 0"),
        ("{snapshot: s, min_score: high}", "cannot unmarshal string into float field"),
        ("{snapshot: s, trust_sources: [x]}", 'unknown field "trust_sources" in mcp_trust'),
    ],
)
def test_invalid_blocks_are_refused_with_the_reference_messages(block: str, message: str) -> None:
    with pytest.raises(PolicyError) as info:
        parse_policy(f"mcp_trust: {block}\n")
    assert message in str(info.value)


def test_digest_payload_matches_the_reference_shape() -> None:
    policy = parse_policy(
        HEAD
        + "default_verdict: allow\nmcp_trust:\n  snapshot: ./snap.json\n"
        + "  required_risk_classes: [High]\n  min_score: 0.8\n  max_age: 90m\n"
        + "  publisher_allowlist: [Acme, acme]\n"
    )
    # The reference's PolicyDigest payload, written out by hand (JCS: keys sorted).
    expected = (
        '{"DefaultVerdict":"allow","FailClosed":{"Enabled":false,"RequiredFields":[],'
        '"RiskClasses":[]},"MCPTrust":{"Action":"block","Enabled":true,"MaxAge":"1h30m0s",'
        '"MinScore":0.8,"PublisherAllowlist":["acme"],"RequireRegistry":false,'
        '"RequiredRiskClasses":["high"],"SnapshotPath":"./snap.json"},"Rules":[],'
        '"SchemaID":"gait.gate.policy","SchemaVersion":"1.0.0"}'
    )
    assert policy.digest == hashlib.sha256(expected.encode()).hexdigest()


def test_a_disabled_block_is_not_digested() -> None:
    plain = parse_policy("default_verdict: allow\n").digest
    assert parse_policy("default_verdict: allow\nmcp_trust: {min_score: -1}\n").digest == plain
    assert parse_policy("default_verdict: allow\nmcp_trust: {snapshot: s}\n").digest != plain


@pytest.mark.parametrize(
    "block",
    [
        "{snapshot: s}",
        "{snapshot: ' ./a b.json', action: require_approval, min_score: 1, max_age: 2h30m}",
        "{snapshot: s, min_score: 0.00001, publisher_allowlist: [x], require_registry: true}",
    ],
)
def test_policy_fmt_round_trips_the_block(block: str) -> None:
    policy = parse_policy(f"mcp_trust: {block}\n")
    formatted = format_policy(policy)
    assert "mcp_trust:\n  enabled: true\n" in formatted
    assert parse_policy(formatted).digest == policy.digest
    assert format_policy(parse_policy(formatted)) == formatted


_WORDS = st.lists(st.sampled_from(["high", "Low", " critical", "acme", "ACME", "x y"]), max_size=3)


@settings(max_examples=200, deadline=None)
@given(
    st.floats(0, 1),
    st.integers(0, 10**15),
    _WORDS,
    _WORDS,
    st.booleans(),
    st.sampled_from(["block", "require_approval", ""]),
)
def test_any_block_round_trips_through_fmt(
    score: float, age: int, classes: list[str], publishers: list[str], registry: bool, action: str
) -> None:
    block = {
        "snapshot": "snap.json",
        "min_score": score,
        "max_age": f"{age}ns" if age else "",
        "required_risk_classes": classes,
        "publisher_allowlist": publishers,
        "require_registry": registry,
        "action": action,
    }
    policy = policy_from_document({"mcp_trust": block})
    formatted = format_policy(policy)
    reloaded = parse_policy(formatted)
    assert (reloaded.digest, reloaded.mcp_trust) == (policy.digest, policy.mcp_trust)
    # Every YAML reader sees the same document (YAML 1.1 included).
    assert yaml.safe_load(formatted) == policy_document(policy)


@pytest.mark.parametrize(
    ("text", "nanos", "go_text"),
    [
        ("24h", 86_400_000_000_000, "24h0m0s"),
        ("90m", 5_400_000_000_000, "1h30m0s"),
        ("1.5h", 5_400_000_000_000, "1h30m0s"),
        ("2h45m0.5s", 9_900_500_000_000, "2h45m0.5s"),
        ("500ms", 500_000_000, "500ms"),
        ("1.5us", 1_500, "1.5\u00b5s"),
        ("7ns", 7, "7ns"),
        ("+30s", 30_000_000_000, "30s"),
        ("0", 0, "0s"),
    ],
)
def test_go_durations(text: str, nanos: int, go_text: str) -> None:
    assert parse_go_duration(text) == nanos
    assert format_go_duration(nanos) == go_text


# ---- snapshots ----------------------------------------------------------------------------------


def test_snapshot_entries_are_keyed_by_lowercased_id_else_name() -> None:
    snapshot = parse_snapshot(
        json.dumps(
            {"entries": [_entry(" GitHub "), {"server_name": "Named Server", "score": 1}]}
        ).encode()
    )
    assert sorted(snapshot.entries) == ["github", "named server"]
    assert snapshot.entries["named server"].score == 1.0


@pytest.mark.parametrize(
    "document",
    [
        _snapshot(_entry("github"), {"server_name": "GitHub"}),  # the same identity twice
        _snapshot(_entry("a"), _entry("A")),
        _snapshot({"status": "trusted"}),  # no identity
        {**_snapshot(), "schema_id": "wrong"},
        {**_snapshot(), "schema_version": "2.0.0"},
        _snapshot(_entry("a", score="high")),
        _snapshot(_entry("a", updated_at="yesterday")),
        _snapshot(_entry("a", registry_verification={"signature_verified": "yes"})),
        {"entries": {"a": {}}},
        [],
    ],
)
def test_unusable_snapshots_are_invalid(document: Any) -> None:
    with pytest.raises(SnapshotInvalid):
        parse_snapshot(json.dumps(document).encode())


@pytest.mark.parametrize(
    "data",
    [
        b'{"entries": [{"server_id": "a", "score": NaN}]}',
        b'{"entries": [{"server_id": "a", "score": 1e999}]}',
        b"\xef\xbb\xbf{}",
        b'{"entries": [',
        b"\xff",
        b" " * (8 << 20) + b"{}",
    ],
)
def test_malformed_snapshot_bytes_are_invalid(data: bytes) -> None:
    with pytest.raises(SnapshotInvalid):
        parse_snapshot(data)


def test_defaults_and_go_string_decoding() -> None:
    snapshot = parse_snapshot(b'{"entries": [{"server_id": "x\\ud800", "unknown": 1}]}')
    assert list(snapshot.entries) == ["x\ufffd"]
    assert parse_snapshot(b"{}").entries == {}


def test_snapshot_state_of_unreadable_and_invalid_files(tmp_path: Path) -> None:
    assert read_snapshot(str(tmp_path / "missing.json")).reason == UNAVAILABLE
    assert read_snapshot(str(tmp_path)).reason == UNAVAILABLE
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert read_snapshot(str(fifo)).reason == UNAVAILABLE  # does not block
    bad = _write(tmp_path / "bad.json", {"schema_id": "wrong"})
    state = read_snapshot(bad)
    assert state.reason == INVALID and "schema_id" in state.detail


# ---- the decision table (reference core/mcp/trust_test.go) -------------------------------------


def test_trusted_path(tmp_path: Path) -> None:
    verification = {"signature_verified": True, "publisher_allowed": True}
    path = _write(
        tmp_path / "snap.json",
        _snapshot(
            _entry(
                "github",
                server_name="GitHub",
                publisher="acme",
                source="registry",
                score=0.95,
                registry_verification=verification,
            )
        ),
    )
    policy = _trust(
        path, min_score=0.8, publisher_allowlist=("acme",), require_registry=True, max_age="24h"
    )
    decision = _decide(policy, {"server_id": "github"})
    assert (decision.status, decision.enforced) == ("trusted", False)
    assert decision.reason_codes == ("mcp_trust_verified",)
    assert decision.wire == {
        "server_id": "github",
        "server_name": "GitHub",
        "publisher": "acme",
        "source": "registry",
        "status": "trusted",
        "decision_source": path,
        "score": 0.95,
        "threshold": 0.8,
        "updated_at": "2026-03-01T00:00:00Z",
        "max_age_seconds": 86400,
        "required": True,
        "registry_verified": True,
        "publisher_allowed": True,
        "reason_codes": ["mcp_trust_verified"],
    }
    assert list(decision.wire)[:6] == [
        "server_id",
        "server_name",
        "publisher",
        "source",
        "status",
        "decision_source",
    ]


def test_fail_closed_states(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "snap.json",
        _snapshot(
            _entry("stale-server", updated_at="2026-01-01T00:00:00Z", score=0.9),
            _entry("low-score", score=0.2),
            _entry("never-updated", updated_at=None, score=0.9),
        ),
    )
    policy = _trust(path, min_score=0.8, max_age="24h")
    stale = _decide(policy, {"server_id": "stale-server"})
    assert (stale.status, stale.enforced, stale.reason_codes) == (
        "stale",
        True,
        ("mcp_trust_stale",),
    )
    low = _decide(policy, {"server_id": "low-score"})
    assert (low.status, low.enforced) == ("below_threshold", True)
    zero = _decide(policy, {"server_id": "never-updated"})
    assert zero.status == "stale" and zero.wire["updated_at"] == "0001-01-01T00:00:00Z"


def test_the_first_failing_check_names_the_status(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "snap.json",
        _snapshot(_entry("a", publisher="other", status="revoked", score=0.1)),
    )
    policy = _trust(path, min_score=0.5, publisher_allowlist=("acme",), require_registry=True)
    decision = _decide(policy, {"server_id": "a"})
    assert decision.status == "untrusted"
    assert decision.reason_codes == (
        "mcp_trust_below_threshold",
        "mcp_trust_publisher_untrusted",
        "mcp_trust_registry_unverified",
        "mcp_trust_status_untrusted",
    )
    registry_only = _decide(_trust(path, require_registry=True), {"server_id": "a"})
    assert registry_only.status == "untrusted"  # status revoked comes first
    path2 = _write(tmp_path / "snap2.json", _snapshot(_entry("a", status="PASS")))
    unverified = _decide(_trust(path2, require_registry=True), {"server_id": "a"})
    assert (unverified.status, unverified.reason_codes) == (
        "invalid",
        ("mcp_trust_registry_unverified",),
    )


def test_missing_snapshot_and_publisher_mismatch(tmp_path: Path) -> None:
    missing = _decide(_trust(str(tmp_path / "missing.json")), {"server_id": "github"})
    assert (missing.status, missing.enforced, missing.reason_codes) == (
        "missing",
        True,
        ("mcp_trust_snapshot_unavailable",),
    )
    path = _write(tmp_path / "snap.json", _snapshot(_entry("github", publisher="Other")))
    mismatch = _decide(_trust(path, publisher_allowlist=("acme",)), {"server_id": "github"})
    assert (mismatch.status, mismatch.reason_codes) == (
        "untrusted",
        ("mcp_trust_publisher_untrusted",),
    )


def test_duplicate_identities_make_the_snapshot_invalid(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "snap.json",
        _snapshot(_entry("github", score=0.9), {"server_name": "GitHub", "score": 0.9}),
    )
    decision = _decide(_trust(path), {"server_id": "github"})
    assert (decision.status, decision.enforced, decision.reason_codes) == (
        "invalid",
        True,
        ("mcp_trust_snapshot_invalid",),
    )


def test_identity_missing_unknown_and_lookup_by_name(tmp_path: Path) -> None:
    path = _write(tmp_path / "snap.json", _snapshot({"server_name": "Named Server"}))
    policy = _trust(path)
    assert _decide(policy, None).reason_codes == ("mcp_trust_identifier_missing",)
    assert _decide(policy, {"server_id": " ", "publisher": "x"}).status == "missing"
    unknown = _decide(policy, {"server_id": "other", "publisher": " ACME "})
    assert (unknown.status, unknown.wire["publisher"]) == ("unknown", "acme")
    named = _decide(policy, {"server_name": "named SERVER"})
    assert named.status == "trusted" and "server_id" not in named.wire


def test_failures_outside_the_required_risk_classes_are_reported_not_enforced(
    tmp_path: Path,
) -> None:
    decision = _decide(_trust(str(tmp_path / "none.json")), {"server_id": "a"}, risk="LOW")
    assert (decision.required, decision.enforced) == (False, False)
    assert decision.reason_codes == ("mcp_trust_snapshot_unavailable",)
    assert _decide(_trust("x"), {"server_id": "a"}, risk=" High ").required


@pytest.mark.parametrize(
    ("current", "action", "verdict"),
    [
        ("allow", "block", "block"),
        ("allow", "require_approval", "require_approval"),
        ("require_approval", "block", "block"),
        ("require_approval", "require_approval", "require_approval"),
        ("block", "require_approval", "block"),
        ("dry_run", "block", "dry_run"),  # neither executes; the reference keeps it
    ],
)
def test_enforcement_makes_the_verdict_stricter(current: str, action: str, verdict: str) -> None:
    assert stricter_for_trust(current, action) == verdict


def test_allow_is_overridden_and_codes_always_merge(tmp_path: Path) -> None:
    path = _write(tmp_path / "snap.json", _snapshot())
    gate = Gate.from_yaml(HEAD + "default_verdict: allow\n")
    call = decode_mcp({"name": "tool.read", "context": {"risk_class": "high"}})
    decision = gate.evaluate(call_intent(call))
    trust = _decide(_trust(path, action="require_approval"), {"server_id": "missing"})
    applied = apply_trust(decision, trust, "require_approval")
    assert isinstance(applied, GateDecision)
    assert applied.verdict == "require_approval"
    assert applied.reason_codes == ("default_allow", "mcp_trust_server_unknown")
    assert applied.violations == ("mcp_trust_policy",)
    assert applied.mcp_trust is not None and applied.mcp_trust["status"] == "unknown"
    relaxed = _decide(_trust(path), {"server_id": "missing"}, risk="low")
    kept = apply_trust(decision, relaxed, "block")
    assert (kept.verdict, kept.violations) == ("allow", ())
    assert kept.reason_codes == ("default_allow", "mcp_trust_server_unknown")


def test_verify_checks_as_the_most_severe_required_class() -> None:
    assert default_risk_class(_trust("s", required_risk_classes=("low", "high"))) == "high"
    assert default_risk_class(_trust("s", required_risk_classes=("zeta", "medium"))) == "medium"
    assert default_risk_class(_trust("s", required_risk_classes=("zeta",))) == "zeta"
    assert default_risk_class(MCPTrust()) == "high"


# ---- through the MCP boundary pipeline ---------------------------------------------------------


def _gate(snapshot: str, extra: str = "") -> Gate:
    return Gate.from_yaml(
        HEAD + f"default_verdict: allow\nmcp_trust:\n  snapshot: {snapshot}\n{extra}"
    )


def _evaluate(gate: Gate, payload: dict[str, Any], settings: Settings | None = None) -> Any:
    request = CallRequest(adapter="mcp", payload=payload)
    return evaluate_call(gate, decode_mcp, request, settings or Settings())


def test_a_call_without_a_risk_class_is_checked_as_the_policy_decided_it(tmp_path: Path) -> None:
    """Deliberate difference (docs/compatibility.md): the reference checks the raw risk class,
    so leaving it out skips enforcement although the policy decides the call as `high`."""
    gate = _gate(_write(tmp_path / "snap.json", _snapshot()))
    silent = _evaluate(gate, {"name": "tool.read", "server": {"server_id": "unknown"}})
    assert silent.decision.verdict == "block"
    assert silent.decision.mcp_trust["required"] is True
    openai = evaluate_call(
        gate,
        decode_openai,
        CallRequest(adapter="openai", payload={"function": {"name": "tool.read"}}),
        Settings(),
    )
    assert openai.decision.verdict == "block"
    assert openai.decision.reason_codes == ("default_allow", "mcp_trust_identifier_missing")
    low = _evaluate(
        gate,
        {"name": "tool.read", "server": {"server_id": "x"}, "context": {"risk_class": "low"}},
    )
    assert low.decision.verdict == "allow"


def test_the_trace_records_the_decision_and_verifies(tmp_path: Path) -> None:
    path = _write(tmp_path / "snap.json", _snapshot(_entry("github", score=0.95)))
    gate = _gate(path, "  min_score: 0.8\n")
    evaluated = _evaluate(gate, {"name": "tool.read", "server": {"server_id": "github"}})
    key = SigningKey.generate()
    signed = sign_call(gate, evaluated, key, Settings())
    assert signed.wire["mcp_trust"]["status"] == "trusted"
    fields = list(signed.wire)
    assert fields.index("mcp_trust") == fields.index("relationship") - 1
    assert verify_trace(signed.wire, key.public)
    untrusted = sign_call(gate, _evaluate(gate, {"name": "t"}), key, Settings())
    assert untrusted.wire["verdict"] == "block"
    assert untrusted.wire["violations"] == ["mcp_trust_policy"]


def test_gate_eval_ignores_the_block() -> None:
    gate = _gate("missing.json")
    decision = gate.evaluate(call_intent(decode_mcp({"name": "t"})))
    assert (decision.verdict, decision.mcp_trust) == ("allow", None)


# ---- the service's snapshot cache ---------------------------------------------------------------


def test_cache_reads_a_file_once_and_again_when_it_changes(tmp_path: Path) -> None:
    target = tmp_path / "snap.json"
    _write(target, _snapshot(_entry("a", score=0.9)))
    cache = SnapshotCache()
    first = cache(str(target))
    assert cache(str(target)) is first
    replacement = tmp_path / "next.json"
    _write(replacement, _snapshot(_entry("a", score=0.1)))
    os.replace(replacement, target)
    second = cache(str(target))
    assert second is not first and second.snapshot is not None
    assert second.snapshot.entries["a"].score == 0.1
    target.write_text('{"entries": [{"server_id": "a"}, {"server_name": "A"}]}')
    assert cache(str(target)).reason == INVALID
    target.unlink()
    assert cache(str(target)).reason == UNAVAILABLE
    _write(target, _snapshot(_entry("a")))
    assert cache(str(target)).snapshot is not None


def test_cache_logs_an_unusable_snapshot_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = SnapshotCache()
    path = str(tmp_path / "missing.json")
    with caplog.at_level("WARNING", logger="gait.mcp.trust"):
        for _ in range(3):
            assert cache(path).reason == UNAVAILABLE
    assert len(caplog.records) == 1 and "missing.json" in caplog.records[0].getMessage()


def test_cache_is_safe_across_threads(tmp_path: Path) -> None:
    target = tmp_path / "snap.json"
    _write(target, _snapshot(_entry("a")))
    cache = SnapshotCache()
    errors: list[BaseException] = []

    def reader() -> None:
        try:
            for _ in range(200):
                assert cache(str(target)).snapshot is not None
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    for index in range(20):
        _write(tmp_path / "tmp.json", _snapshot(_entry("a", score=index / 20)))
        os.replace(tmp_path / "tmp.json", target)
    for thread in threads:
        thread.join()
    assert not errors
