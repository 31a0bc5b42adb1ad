"""Gate evaluation: spec §11 vectors and verdict cases, constraint semantics, properties."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gait import policy as policy_module
from gait.evaluate import (
    Decision,
    evaluate,
    most_restrictive,
    stricter,
)
from gait.intent import IntentError
from gait.policy import (
    CompiledPolicy,
    PolicyError,
    compile_policy,
    load_policy,
    policy_from_document,
)
from gait.trace import trace_id_for

CTX_LOW = {"identity": "alice", "workspace": "/repo/gait", "risk_class": "low"}
CTX_HIGH = {"identity": "alice", "workspace": "/repo/gait", "risk_class": "high"}


def intent(
    tool_name: str = "tool.demo",
    *,
    args: dict[str, Any] | None = None,
    targets: list[dict[str, Any]] | None = None,
    provenance: list[str] | None = None,
    context: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-02-06T00:00:00Z",
        "producer_version": "test",
        "tool_name": tool_name,
        "args": {"x": "y"} if args is None else args,
        "targets": targets or [],
        "context": dict(CTX_LOW if context is None else context),
    }
    if provenance:
        raw["arg_provenance"] = [{"arg_path": "$.path", "source": s} for s in provenance]
    raw.update(extra)
    return raw


def target(kind: str, value: str, operation: str = "", endpoint_class: str = "") -> dict[str, Any]:
    out = {"kind": kind, "value": value}
    if operation:
        out["operation"] = operation
    if endpoint_class:
        out["endpoint_class"] = endpoint_class
    return out


def decide(policy_yaml: str, raw: dict[str, Any]) -> Decision:
    return evaluate(load_policy(policy_yaml), raw)


# -- §11.1 D5 and trace ids -----------------------------------------------------------------

D5_POLICY = """\
default_verdict: allow
rules:
  - name: block-external-host
    priority: 10
    effect: block
    match:
      tool_names: [tool.write]
      target_kinds: [host]
      target_values: [api.external.com]
    reason_codes: [blocked_external]
    violations: [external_target]
"""


def test_d5_trace_verify_flow_vector() -> None:
    decision = decide(
        D5_POLICY,
        intent(
            "tool.write",
            args={"path": "/tmp/out.txt"},
            targets=[target("host", "api.external.com")],
            provenance=["user"],
            context=CTX_HIGH,
        ),
    )
    assert decision.verdict == "block"
    assert decision.reason_codes == ("blocked_external",)
    assert decision.violations == ("external_target",)
    assert decision.matched_rule == "block-external-host"
    assert decision.policy_digest == (
        "f4581f55c41a3ee69b316c95f66fbfc293ae7f06e6458491e3ca232dfb26608c"
    )
    assert decision.intent_digest == (
        "74d4a052fd27c63f110e0879f227215aed15a8e522946d38a2fb515374fbafa8"
    )
    assert decision.trace_id == "9a714d67a491c4bd98dd7983"
    assert decision.exit_code == 3
    assert decision.phase == "apply"


def test_trace_id_formula() -> None:
    assert trace_id_for("p", "i", "allow") == trace_id_for("p", "i", "allow")
    assert trace_id_for("p", "i", "allow") != trace_id_for("p", "i", "block")
    assert len(trace_id_for("p", "i", "allow")) == 24


# -- §11.2 verdict cases --------------------------------------------------------------------

G1_INTENT = intent(
    "tool.write",
    args={"path": "/tmp/out.txt"},
    targets=[target("path", "/tmp/out.txt")],
    context=CTX_HIGH,
)


@pytest.mark.parametrize(
    ("default", "reason", "exit_code"),
    [
        ("allow", "default_allow", 0),
        ("block", "default_block", 3),
        ("require_approval", "default_require_approval", 4),
    ],
)
def test_g1_default_verdicts(default: str, reason: str, exit_code: int) -> None:
    decision = decide(f"default_verdict: {default}\n", G1_INTENT)
    assert decision.verdict == default
    assert decision.reason_codes == (reason,)
    assert decision.violations == ()
    assert decision.exit_code == exit_code
    assert decision.min_approvals == (1 if default == "require_approval" else 0)
    assert decision.matched_rule == ""


def test_g2_dry_run_default_exits_zero() -> None:
    decision = decide("default_verdict: dry_run\n", intent())
    assert (decision.verdict, decision.reason_codes, decision.exit_code) == (
        "dry_run",
        ("default_dry_run",),
        0,
    )


G3_POLICY = """\
default_verdict: block
rules:
  - name: allow-safe-tools
    effect: allow
    match:
      tool_names: [tool.read, tool.list, tool.info]
"""
G4_POLICY = (
    G3_POLICY
    + """\
  - name: block-destructive-tools
    effect: block
    match:
      tool_names: [tool.delete, tool.exec]
"""
)


def test_g3_allow_safe_tools() -> None:
    decision = decide(
        G3_POLICY,
        intent("tool.read", targets=[target("path", "/tmp/a.txt", "read", "fs.read")]),
    )
    assert decision.verdict == "allow"
    assert decision.reason_codes == ("matched_rule_allow_safe_tools",)
    assert decision.exit_code == 0


@pytest.mark.parametrize(
    "raw",
    [
        intent(
            "tool.delete",
            targets=[target("path", "/tmp/unsafe.txt", "delete", "fs.delete")],
            context=CTX_HIGH,
        ),
        intent(
            "tool.exec",
            targets=[target("other", "rm -rf /tmp/x", "exec", "proc.exec")],
            context=CTX_HIGH,
        ),
    ],
)
def test_g4_block_destructive_tools(raw: dict[str, Any]) -> None:
    decision = decide(G4_POLICY, raw)
    assert decision.verdict == "block"
    assert decision.reason_codes == (
        "destructive_apply_requires_approval",
        "matched_rule_block_destructive_tools",
    )
    assert decision.exit_code == 3


G5_POLICY = """\
default_verdict: allow
rules:
  - {name: NAME_A, priority: 1, effect: allow, match: {tool_names: [tool.write]},
     reason_codes: [allow_write]}
  - {name: NAME_B, priority: 1, effect: block, match: {tool_names: [tool.write]},
     reason_codes: [block_write], violations: [blocked_write]}
"""


@pytest.mark.parametrize(
    ("allow_name", "block_name"),
    [("allow-write", "block-write"), ("zzz-allow", "aaa-block"), ("b", "a")],
)
def test_g5_equal_priority_uses_most_restrictive(allow_name: str, block_name: str) -> None:
    policy = G5_POLICY.replace("NAME_A", allow_name).replace("NAME_B", block_name)
    decision = decide(policy, intent("tool.write"))
    assert decision.verdict == "block"
    assert decision.reason_codes == ("block_write",)
    assert decision.violations == ("blocked_write",)
    assert decision.matched_rule == ",".join(sorted([allow_name, block_name]))


def test_g6_fail_closed_missing_fields() -> None:
    policy = """\
default_verdict: allow
fail_closed: {enabled: true, risk_classes: [high], required_fields: [targets, arg_provenance]}
"""
    decision = decide(policy, intent(context=CTX_HIGH))
    assert decision.verdict == "block"
    assert decision.reason_codes == (
        "fail_closed_missing_arg_provenance",
        "fail_closed_missing_targets",
    )
    assert decision.violations == ("missing_arg_provenance", "missing_targets")
    # Not covered: a low-risk intent is evaluated normally.
    assert decide(policy, intent()).verdict == "allow"


def test_g7_fail_closed_unknown_endpoint_class() -> None:
    policy = "default_verdict: allow\nfail_closed: {enabled: true, risk_classes: [high]}\n"
    decision = decide(
        policy, intent("tool.unknown", targets=[target("path", "/tmp/out.txt")], context=CTX_HIGH)
    )
    assert decision.verdict == "block"
    assert decision.reason_codes == ("fail_closed_endpoint_class_unknown",)
    assert decision.violations == ("endpoint_class_unknown",)


G8_POLICY = "fail_closed: {enabled: true, risk_classes: [high], required_fields: [targets]}\n"


def test_g8_normalization_error_fails_closed_for_high_risk() -> None:
    raw = intent(context={"identity": "alice", "workspace": "", "risk_class": " HIGH "})
    decision = decide(G8_POLICY, raw)
    assert decision.verdict == "block"
    assert decision.reason_codes == ("fail_closed_intent_invalid",)
    assert decision.violations == ("intent_not_evaluable",)
    assert decision.intent is None
    assert not decision.intent_evaluable


def test_g8_normalization_error_is_an_error_for_low_risk() -> None:
    raw = intent(context={"identity": "alice", "workspace": "", "risk_class": "low"})
    with pytest.raises(IntentError) as info:
        decide(G8_POLICY, raw)
    assert info.value.exit_code == 6
    with pytest.raises(IntentError):
        decide("default_verdict: allow\n", intent("   "))


@pytest.mark.parametrize(
    ("phase", "verdict", "reason"),
    [
        ("plan", "dry_run", "plan_phase_non_destructive"),
        ("apply", "require_approval", "destructive_apply_requires_approval"),
        (None, "require_approval", "destructive_apply_requires_approval"),
    ],
)
def test_g9_plan_apply_for_destructive_targets(
    phase: str | None, verdict: str, reason: str
) -> None:
    policy = "default_verdict: allow\nrules:\n  - {name: allow-delete, effect: allow, "
    policy += "match: {tool_names: [tool.delete]}}\n"
    context = dict(CTX_LOW)
    if phase is not None:
        context["phase"] = phase
    raw = intent(
        "tool.delete", targets=[target("path", "/tmp/demo.txt", "delete")], context=context
    )
    decision = decide(policy, raw)
    assert decision.verdict == verdict
    assert reason in decision.reason_codes
    assert decision.phase == (phase or "apply")
    assert decision.min_approvals == (1 if verdict == "require_approval" else 0)


def test_g10_fallback_reason_uses_sanitized_rule_name() -> None:
    policy = """\
default_verdict: allow
rules:
  - name: Block External Host-1
    effect: block
    match:
      tool_names: [tool.write]
      risk_classes: [high]
      target_kinds: [host]
      target_values: [api.external.com]
      provenance_sources: [external]
      identities: [alice]
      workspace_prefixes: [/repo]
"""
    raw = intent(
        "tool.write",
        targets=[target("host", "api.external.com")],
        provenance=["external"],
        context=CTX_HIGH,
    )
    decision = decide(policy, raw)
    assert decision.verdict == "block"
    assert decision.reason_codes == ("matched_rule_block_external_host_1",)
    assert decision.matched_rule == "Block External Host-1"


SCRIPT_INTENT = intent(
    "ignored",
    args={},
    script={
        "steps": [
            {
                "tool_name": "tool.read",
                "args": {"path": "/tmp/in.txt"},
                "targets": [target("path", "/tmp/in.txt", "read", "fs.read")],
            },
            {
                "tool_name": "tool.write",
                "args": {"path": "/tmp/out.txt"},
                "targets": [target("path", "/tmp/out.txt", "write", "fs.write")],
            },
        ]
    },
    context={"identity": "alice", "workspace": "/repo/gait", "risk_class": "medium"},
)


@pytest.mark.parametrize(
    ("scripts", "verdict", "reason", "violation"),
    [
        ("max_steps: 1", "block", "script_max_steps_exceeded", "script_max_steps_exceeded"),
        ("block_mixed_risk: true", "block", "script_mixed_risk_blocked", "script_mixed_risk"),
        ("require_approval_above: 1", "require_approval", "script_step_threshold_approval", None),
    ],
)
def test_g15_script_limits(scripts: str, verdict: str, reason: str, violation: str | None) -> None:
    decision = decide(f"default_verdict: allow\nscripts: {{{scripts}}}\n", SCRIPT_INTENT)
    assert decision.verdict == verdict
    assert set(decision.reason_codes) == {"default_allow", reason}
    assert decision.violations == ((violation,) if violation else ())
    assert decision.script
    assert decision.step_count == 2
    assert decision.composite_risk_class == "medium"
    assert len(decision.script_hash) == 64
    assert [step.tool_name for step in decision.step_verdicts] == ["tool.read", "tool.write"]
    assert all(step.verdict == "allow" for step in decision.step_verdicts)
    assert decision.intent is not None
    assert decision.intent.tool_name == "script"
    if verdict == "require_approval":
        assert decision.min_approvals == 1


def test_script_steps_are_evaluated_on_their_own_tool_and_targets() -> None:
    policy = """\
default_verdict: allow
rules:
  - {name: no-writes, priority: 5, effect: block, match: {tool_names: [tool.write]},
     reason_codes: [write_blocked]}
  - {name: reads, priority: 7, effect: dry_run, match: {target_kinds: [path], tool_name: tool.read}}
"""
    decision = decide(policy, SCRIPT_INTENT)
    assert decision.verdict == "block"
    assert decision.reason_codes == ("matched_rule_reads", "write_blocked")
    assert decision.matched_rule == "no-writes,reads"
    first, second = decision.step_verdicts
    assert (first.index, first.verdict, first.matched_rule) == (0, "dry_run", "reads")
    assert (second.index, second.verdict, second.reason_codes) == (1, "block", ("write_blocked",))
    assert second.to_json()["matched_rule"] == "no-writes"


# -- constraints ----------------------------------------------------------------------------


def test_dataflow_replaces_the_effect_even_downgrading_block() -> None:
    policy = """\
default_verdict: allow
rules:
  - name: egress
    effect: block
    match: {tool_names: [tool.post]}
    dataflow: {enabled: true}
"""
    tainted = intent(
        "tool.post", targets=[target("url", "https://x.example/a")], provenance=["external"]
    )
    decision = decide(policy, tainted)
    assert decision.verdict == "require_approval"
    assert decision.reason_codes == ("dataflow_tainted_destination", "matched_rule_egress")
    assert decision.violations == ("tainted_dataflow",)
    assert decision.dataflow_triggered
    clean = intent("tool.post", targets=[target("url", "https://x.example/a")], provenance=["user"])
    assert decide(policy, clean).verdict == "block"
    not_egress = intent("tool.post", targets=[target("path", "/tmp/a")], provenance=["external"])
    assert decide(policy, not_egress).verdict == "block"


def test_dataflow_destination_filters_must_hold_on_one_target() -> None:
    policy = """\
default_verdict: allow
rules:
  - name: flow
    effect: allow
    dataflow: {destination_kinds: [host], destination_values: [evil.example], action: block}
"""
    split = intent(
        "tool.x",
        targets=[target("host", "good.example"), target("url", "evil.example")],
        provenance=["tool_output"],
    )
    assert decide(policy, split).verdict == "allow"
    same = intent("tool.x", targets=[target("host", "evil.example")], provenance=["tool_output"])
    assert decide(policy, same).verdict == "block"


ENDPOINT_POLICY = """\
default_verdict: allow
rules:
  - name: fs
    effect: allow
    endpoint:
      path_allowlist: [/tmp/**, /data/*.csv]
      path_denylist: [/tmp/secret*]
      domain_allowlist: ["*.example.com", api.github.com]
      domain_denylist: [evil.example.com]
      egress_classes: [net.http]
"""


@pytest.mark.parametrize(
    ("targets", "verdict", "codes"),
    [
        ([target("path", "/tmp/a/b/c.txt")], "allow", ()),
        ([target("path", "/tmp")], "allow", ()),
        ([target("path", "/data/x.csv")], "allow", ()),
        ([target("path", "/data/sub/x.csv")], "block", ("endpoint_path_not_allowlisted",)),
        ([target("path", "/tmp/secret.txt")], "block", ("endpoint_path_denied",)),
        ([target("host", "api.example.com")], "allow", ()),
        ([target("host", "example.com")], "block", ("endpoint_domain_not_allowlisted",)),
        (
            [target("url", "https://evil.example.com/x")],
            "block",
            ("endpoint_domain_denied",),
        ),
        (
            [target("host", "api.github.com", "lookup")],
            "block",
            ("endpoint_egress_class_not_allowed",),
        ),
    ],
)
def test_endpoint_constraints(
    targets: list[dict[str, Any]], verdict: str, codes: tuple[str, ...]
) -> None:
    decision = decide(ENDPOINT_POLICY, intent("tool.x", targets=targets))
    assert decision.verdict == verdict
    if codes:
        assert set(codes) <= set(decision.reason_codes)
        assert "endpoint_constraint_violation" in decision.reason_codes
        assert set(codes) | {"endpoint_constraint_violation"} == set(decision.violations)
    else:
        assert decision.reason_codes == ("matched_rule_fs",)


def test_endpoint_destructive_action() -> None:
    policy = """\
default_verdict: allow
rules:
  - name: del
    effect: allow
    endpoint: {destructive_action: require_approval, action: require_approval,
               reason_code: custom, violation: custom_v}
"""
    raw = intent("tool.rm", targets=[target("path", "/tmp/x", "delete")])
    # The endpoint effect is the stricter of `action` (default block) and `destructive_action`.
    assert decide(policy.replace(" action: require_approval,", ""), raw).verdict == "block"
    decision = decide(policy, raw)
    assert decision.verdict == "require_approval"
    assert set(decision.reason_codes) == {
        "custom",
        "destructive_apply_requires_approval",
        "endpoint_destructive_operation",
        "matched_rule_del",
    }
    assert decision.violations == ("custom_v", "destructive_operation")


def test_tier_semantics_and_outcome_fields() -> None:
    policy = """\
default_verdict: allow
rules:
  - {name: a, priority: 1, effect: require_approval, min_approvals: 3,
     rate_limit: {requests: 10, window: hour}, match: {tool_names: [tool.w]}}
  - {name: b, priority: 1, effect: require_approval, require_distinct_approvers: true,
     rate_limit: {requests: 10, window: minute, scope: tool},
     destructive_budget: {requests: 2}, match: {identities: [alice]}}
  - {name: c, priority: 1, effect: dry_run, rate_limit: {requests: 1},
     match: {tool_names: [tool.w]}}
  - {name: d, priority: 2, effect: block, match: {tool_names: [tool.w]}}
"""
    decision = decide(policy, intent("tool.w"))
    assert decision.verdict == "require_approval"
    assert decision.matched_rule == "a,b,c"  # d is in a later tier: no fall-through
    assert decision.reason_codes == ("matched_rule_a", "matched_rule_b")
    assert decision.min_approvals == 3
    assert decision.require_distinct_approvers
    assert decision.rate_limit is not None
    assert (decision.rate_limit.requests, decision.rate_limit.window) == (10, "minute")
    assert decision.rate_limit.scope == "tool"
    assert decision.destructive_budget is not None
    assert decision.destructive_budget.requests == 2
    other = decide(policy, intent("tool.w", context={**CTX_LOW, "identity": "bob"}))
    assert other.matched_rule == "a,c"
    assert other.rate_limit is not None
    assert other.rate_limit.window == "hour"
    assert other.destructive_budget is None


def test_approval_fields_reset_when_verdict_is_not_require_approval() -> None:
    policy = """\
default_verdict: allow
rules:
  - {name: a, effect: require_approval, min_approvals: 2, match: {tool_names: [tool.w]}}
  - {name: b, effect: block, match: {tool_names: [tool.w]}}
"""
    decision = decide(policy, intent("tool.w"))
    assert decision.verdict == "block"
    assert (decision.min_approvals, decision.require_distinct_approvers) == (0, False)


def test_match_criteria() -> None:
    policy = """\
default_verdict: allow
rules:
  - name: hit
    effect: block
    match:
      tool_annotations: {readOnlyHint: false, openWorldHint: true}
      skill_publishers: [ACME]
      skill_sources: [registry]
      discovery_method: [unknown]
      data_classes: [pii]
      workspace_prefixes: [/repo]
"""
    skill = {"skill_name": "s", "source": "Registry", "publisher": "Acme"}
    base = target("url", "https://a.example/x")
    base.update({"sensitivity": "PII", "open_world_hint": True})
    assert decide(policy, intent("t", targets=[base], skill_provenance=skill)).verdict == "block"
    assert decide(policy, intent("t", targets=[base])).verdict == "allow"  # no skill
    assert decide(policy, intent("t", skill_provenance=skill)).verdict == "allow"  # no targets
    other_ws = intent(
        "t", targets=[base], skill_provenance=skill, context={**CTX_LOW, "workspace": "/srv"}
    )
    assert decide(policy, other_ws).verdict == "allow"


def test_fail_closed_high_risk_fields_and_delegation() -> None:
    policy = """\
default_verdict: allow
fail_closed:
  enabled: true
  required_fields: [delegation, context_evidence, endpoint_class]
  required_high_risk_fields: [run_id, credential_ttl_seconds, agent_identity]
"""
    raw = intent(
        "tool.read",
        targets=[target("path", "/tmp/a", "read")],
        context={**CTX_HIGH, "run_id": "r1", "context_set_digest": "a" * 64},
    )
    decision = decide(policy, raw)
    assert decision.verdict == "block"
    # The context-evidence claim is stripped without a verified envelope (spec §2.5).
    assert decision.reason_codes == (
        "context_evidence_missing",
        "fail_closed_missing_agent_identity",
        "fail_closed_missing_credential_ttl_seconds",
        "fail_closed_missing_delegation",
    )
    assert "missing_delegation" in decision.violations


# -- helpers --------------------------------------------------------------------------------


def test_most_restrictive() -> None:
    assert most_restrictive("allow") == "allow"
    assert most_restrictive("allow", "dry_run") == "dry_run"
    assert most_restrictive("block", "require_approval", "allow") == "block"
    assert most_restrictive("dry_run", "require_approval") == "require_approval"
    with pytest.raises(ValueError, match="unknown verdict"):
        most_restrictive("allow", "ALLOW")
    assert stricter("allow", "bogus") == "allow"
    assert stricter("dry_run", "block") == "block"


# -- properties -----------------------------------------------------------------------------

TOOLS = ["tool.read", "tool.write", "tool.delete", "tool.exec"]
IDENTITIES = ["alice", "bob"]
RISKS = ["low", "high"]
KINDS = ["path", "host", "url", "other"]
VALUES = ["/tmp/a", "/etc/passwd", "api.example.com", "https://x.example/y", "make test"]
OPERATIONS = ["read", "write", "delete", "exec", ""]
SOURCES = ["user", "external", "tool_output"]
VERDICT_LIST = ["allow", "dry_run", "require_approval", "block"]
WORKSPACES = ["/repo/gait", "/repo", "/tmp/w", "/srv"]
# Prefixes of one another, of a workspace at a path boundary or not, and of none.
PREFIXES = ["/repo", "/repo/gait", "/re", "/tmp", "/srv/x"]
HINTS = ["readOnlyHint", "destructiveHint", "idempotentHint", "openWorldHint"]
TARGET_HINTS = ["read_only_hint", "destructive_hint", "idempotent_hint", "open_world_hint"]


def _sub(values: list[str]) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(values), max_size=2, unique=True)


MATCHES = st.fixed_dictionaries(
    {},
    optional={
        "tool_names": _sub(TOOLS),
        "identities": _sub(IDENTITIES),
        "risk_classes": _sub(RISKS),
        "target_kinds": _sub(KINDS),
        "target_values": _sub(VALUES),
        "destination_operations": _sub(OPERATIONS[:-1]),
        "provenance_sources": _sub(SOURCES),
        "endpoint_classes": _sub(["fs.read", "fs.write", "net.http", "other"]),
        "workspace_prefixes": _sub(PREFIXES),
        "tool_annotations": st.fixed_dictionaries(
            {}, optional={hint: st.booleans() for hint in HINTS}
        ),
    },
)
RULES = st.fixed_dictionaries(
    {
        "priority": st.integers(0, 2),
        "effect": st.sampled_from(VERDICT_LIST),
        "match": MATCHES,
    },
    optional={
        "reason_codes": _sub(["r1", "r2", "r3"]),
        "violations": _sub(["v1", "v2"]),
        "dataflow": st.fixed_dictionaries(
            {"enabled": st.just(True), "action": st.sampled_from(["block", "require_approval"])}
        ),
        "endpoint": st.fixed_dictionaries(
            {"path_denylist": _sub(["/etc/*", "/tmp/**"])},
            optional={"destructive_action": st.sampled_from(["block", "require_approval"])},
        ),
        "min_approvals": st.integers(0, 3),
    },
)


@st.composite
def policy_documents(draw: st.DrawFn) -> dict[str, Any]:
    rules = draw(st.lists(RULES, max_size=10))
    for index, rule in enumerate(rules):
        rule["name"] = f"rule-{index}"
    document: dict[str, Any] = {
        "default_verdict": draw(st.sampled_from(VERDICT_LIST)),
        "rules": rules,
    }
    if draw(st.booleans()):
        document["fail_closed"] = {
            "enabled": True,
            "risk_classes": ["high"],
            "required_fields": draw(_sub(["targets", "arg_provenance"])),
        }
    return document


TARGETS = st.fixed_dictionaries(
    {"kind": st.sampled_from(KINDS), "value": st.sampled_from(VALUES)},
    optional={
        "operation": st.sampled_from(OPERATIONS),
        **{hint: st.booleans() for hint in TARGET_HINTS},
    },
)


@st.composite
def intents(draw: st.DrawFn) -> dict[str, Any]:
    return intent(
        draw(st.sampled_from(TOOLS)),
        targets=draw(st.lists(TARGETS, max_size=3)),
        provenance=draw(_sub(SOURCES)),
        context={
            "identity": draw(st.sampled_from(IDENTITIES)),
            "workspace": draw(st.sampled_from(WORKSPACES)),
            "risk_class": draw(st.sampled_from(RISKS)),
            "phase": draw(st.sampled_from(["plan", "apply"])),
        },
    )


def _compile(document: dict[str, Any], *, indexed: bool = True) -> CompiledPolicy:
    return compile_policy(policy_from_document(copy.deepcopy(document)), indexed=indexed)


def _deciding_tier(policy: CompiledPolicy, decision: Decision) -> int | None:
    names = set(decision.matched_rule.split(",")) if decision.matched_rule else set()
    priorities = {rule.priority for rule in policy.policy.rules if rule.name in names}
    assert len(priorities) <= 1
    return priorities.pop() if priorities else None


PROPERTY_SETTINGS = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(policy_documents(), intents())
def test_index_changes_no_decision(document: dict[str, Any], raw: dict[str, Any]) -> None:
    indexed = evaluate(_compile(document), raw)
    linear = evaluate(_compile(document, indexed=False), raw)
    assert indexed == linear


# One rule of each shape the index keys on its own, each in its own tier, plus a default: a
# linear scan decides by the first rule that matches, and the index must find the same one.
INDEX_SHAPES_POLICY = """
default_verdict: dry_run
rules:
  - {name: tool, priority: 1, effect: block, match: {tool_names: [tool.delete]}}
  - {name: identity, priority: 2, effect: require_approval, match: {identities: [bob]}}
  - {name: deep, priority: 3, effect: block, match: {workspace_prefixes: [/repo/gait, /srv/x]}}
  - {name: partial, priority: 4, effect: require_approval, match: {workspace_prefixes: [/re]}}
  - name: destructive
    priority: 5
    effect: block
    match: {tool_annotations: {readOnlyHint: false, destructiveHint: true}}
  - {name: read-only, priority: 6, effect: allow, match: {tool_annotations: {readOnlyHint: true}}}
  - name: open
    priority: 7
    effect: require_approval
    match: {tool_annotations: {openWorldHint: true}}
  - name: repeatable
    priority: 8
    effect: allow
    match: {tool_annotations: {idempotentHint: false}}
"""


def test_every_rule_shape_is_indexed() -> None:
    compiled = load_policy(INDEX_SHAPES_POLICY)
    assert compiled.residual == ()
    index = {rule.rule.name: (rule.index_fact, rule.index_values) for rule in compiled.rules}
    assert index == {
        "tool": (policy_module.FACT_TOOL_NAME, {"tool.delete"}),
        "identity": (policy_module.FACT_IDENTITY, {"bob"}),
        "deep": (policy_module.FACT_WORKSPACE, {"/repo/gait", "/srv/x"}),
        "partial": (policy_module.FACT_WORKSPACE, {"/re"}),
        # A hint that must be true selects fewer intents than one that must be false.
        "destructive": (policy_module.FACT_DESTRUCTIVE_HINT, {True}),
        "read-only": (policy_module.FACT_READ_ONLY_HINT, {True}),
        "open": (policy_module.FACT_OPEN_WORLD_HINT, {True}),
        "repeatable": (policy_module.FACT_IDEMPOTENT_HINT, {False}),
    }
    # Found through a bucket, a criterion is not tested again.
    deep = next(rule for rule in compiled.rules if rule.rule.name == "deep")
    assert deep.workspace_prefixes == () and deep.checks == ()


def _hinted(**hints: bool) -> dict[str, Any]:
    return {"kind": "path", "value": "/tmp/a", "operation": "write", **hints}


@pytest.mark.parametrize(
    ("tool", "identity", "workspace", "targets", "matched_rule"),
    [
        ("tool.delete", "bob", "/repo/gait", [], "tool"),
        ("tool.write", "bob", "/repo/gait", [], "identity"),
        ("tool.write", "alice", "/repo/gait/sub", [], "deep"),
        ("tool.write", "alice", "/srv/x", [], "deep"),
        ("tool.write", "alice", "/srv/xy", [], "deep"),
        ("tool.write", "alice", "/repo", [], "partial"),
        ("tool.write", "alice", "/re", [], "partial"),
        ("tool.write", "alice", "/r", [], ""),
        ("tool.write", "alice", "/srv", [_hinted(destructive_hint=True)], "destructive"),
        (
            "tool.write",
            "alice",
            "/srv",
            [_hinted(read_only_hint=True, destructive_hint=True)],
            "read-only",
        ),
        ("tool.write", "alice", "/srv", [_hinted(open_world_hint=True)], "open"),
        ("tool.write", "alice", "/srv", [_hinted()], "repeatable"),
        ("tool.write", "alice", "/srv", [_hinted(idempotent_hint=True)], ""),
        (
            "tool.write",
            "alice",
            "/srv",
            [_hinted(idempotent_hint=True), _hinted(destructive_hint=True)],
            "destructive",
        ),
        (
            "tool.write",
            "alice",
            "/srv",
            [_hinted(idempotent_hint=True, open_world_hint=True)],
            "open",
        ),
        ("tool.write", "alice", "/srv", [], ""),
    ],
)
def test_index_finds_what_a_linear_scan_finds(
    tool: str, identity: str, workspace: str, targets: list[dict[str, Any]], matched_rule: str
) -> None:
    raw = intent(
        tool, targets=targets, context={**CTX_LOW, "identity": identity, "workspace": workspace}
    )
    indexed = evaluate(load_policy(INDEX_SHAPES_POLICY), raw)
    linear = evaluate(compile_policy(load_policy(INDEX_SHAPES_POLICY).policy, indexed=False), raw)
    assert indexed == linear
    assert indexed.matched_rule == matched_rule


@PROPERTY_SETTINGS
@given(policy_documents(), intents(), st.data())
def test_renaming_rules_within_a_tier_changes_no_verdict(
    document: dict[str, Any], raw: dict[str, Any], data: st.DataObject
) -> None:
    assume(document["rules"])
    tier = data.draw(st.sampled_from(sorted({rule["priority"] for rule in document["rules"]})))
    in_tier = [rule for rule in document["rules"] if rule["priority"] == tier]
    new_names = data.draw(st.permutations([f"renamed-{i}" for i in range(len(in_tier))]))
    renamed = copy.deepcopy(document)
    for rule, name in zip(
        [rule for rule in renamed["rules"] if rule["priority"] == tier], new_names, strict=True
    ):
        rule["name"] = name
    before = evaluate(_compile(document), raw)
    after = evaluate(_compile(renamed), raw)
    assert after.verdict == before.verdict
    assert after.violations == before.violations
    assert after.min_approvals == before.min_approvals


@PROPERTY_SETTINGS
@given(policy_documents(), intents())
def test_matching_block_rule_in_the_deciding_tier_never_yields_allow(
    document: dict[str, Any], raw: dict[str, Any]
) -> None:
    compiled = _compile(document)
    before = evaluate(compiled, raw)
    tier = _deciding_tier(compiled, before)
    extended = copy.deepcopy(document)
    extended["rules"].append(
        {"name": "zz-added-block", "priority": 0 if tier is None else tier, "effect": "block"}
    )
    after = evaluate(_compile(extended), raw)
    assert after.verdict != "allow"
    assert after.verdict == "block"


@PROPERTY_SETTINGS
@given(policy_documents(), intents())
def test_same_inputs_same_decision(document: dict[str, Any], raw: dict[str, Any]) -> None:
    compiled = _compile(document)
    first = evaluate(compiled, raw)
    assert evaluate(compiled, copy.deepcopy(raw)) == first
    assert evaluate(_compile(document), raw) == first
    assert first.trace_id == trace_id_for(first.policy_digest, first.intent_digest, first.verdict)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=12,
)
INTENT_KEYS = [
    "tool_name",
    "args",
    "targets",
    "arg_provenance",
    "context",
    "script",
    "skill_provenance",
    "delegation",
]
INTENT_LIKE = st.dictionaries(st.sampled_from(INTENT_KEYS), JSON_VALUES, max_size=6)
CONTEXT_LIKE = st.fixed_dictionaries(
    {},
    optional={
        "identity": JSON_VALUES,
        "workspace": JSON_VALUES,
        "risk_class": st.sampled_from(["high", "HIGH ", "low", 3.0, None]),
        "phase": JSON_VALUES,
    },
)
NEAR_INTENT = st.fixed_dictionaries(
    {"tool_name": st.sampled_from([*TOOLS, "", " "]) | JSON_VALUES, "context": CONTEXT_LIKE},
    optional={
        "args": JSON_VALUES,
        "targets": st.lists(
            st.dictionaries(
                st.sampled_from(["kind", "value", "operation", "endpoint_class", "destructive"]),
                st.sampled_from(KINDS + VALUES) | JSON_VALUES,
                max_size=5,
            ),
            max_size=2,
        )
        | JSON_VALUES,
        "arg_provenance": JSON_VALUES,
        "script": JSON_VALUES,
    },
)
BLOCK_DEFAULT_POLICIES = [
    load_policy("default_verdict: block\n"),
    load_policy("default_verdict: block\nfail_closed: {enabled: true}\n"),
    load_policy(
        "default_verdict: block\nrules:\n"
        "  - {name: r, effect: require_approval, match: {risk_classes: [high]}}\n"
    ),
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(JSON_VALUES | INTENT_LIKE | NEAR_INTENT, st.sampled_from(BLOCK_DEFAULT_POLICIES))
def test_arbitrary_json_intents(raw: Any, policy: CompiledPolicy) -> None:
    try:
        decision = evaluate(policy, raw)
    except IntentError as exc:
        assert exc.exit_code == 6
        return
    assert decision.verdict != "allow"


def test_policy_errors_are_not_intent_errors() -> None:
    assert not issubclass(PolicyError, IntentError)
    assert not issubclass(IntentError, PolicyError)
