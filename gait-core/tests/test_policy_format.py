"""`format_policy`: the formatted text loads to the same policy digest and formats to itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gait.errors import InvalidInputError
from gait.policy import Policy, PolicyError, load_policy, parse_policy, policy_from_document
from gait.policy_format import format_policy, leading_comments, policy_document
from gait.policy_templates import TEMPLATE_ALIASES, TEMPLATE_NAMES, resolve_template, template_text

SHARED = Path(__file__).resolve().parents[3] / "shared"
CASES = sorted((SHARED / "conformance" / "gate" / "cases").glob("*.json"))
REFERENCE_LOW_RISK = SHARED / "reference_fixtures" / "examples" / "policy" / "base_low_risk.yaml"


def _loadable_case_policies() -> list[tuple[str, str]]:
    loadable = []
    for path in CASES:
        text = json.loads(path.read_text())["policy_yaml"]
        try:
            parse_policy(text)
        except PolicyError:
            continue
        loadable.append((path.stem, text))
    return loadable


CASE_POLICIES = _loadable_case_policies()


def _assert_round_trip(policy: Policy) -> str:
    formatted = format_policy(policy)
    reloaded = parse_policy(formatted)
    assert reloaded.digest == policy.digest
    assert format_policy(reloaded) == formatted
    return formatted


def test_most_conformance_policies_load() -> None:
    # Guards the parametrization below against silently testing nothing.
    assert len(CASES) >= 100
    assert len(CASE_POLICIES) >= 0.9 * len(CASES)


@pytest.mark.parametrize(("case", "text"), CASE_POLICIES, ids=[c for c, _ in CASE_POLICIES])
def test_conformance_policy_round_trips(case: str, text: str) -> None:
    _assert_round_trip(parse_policy(text))


def test_aliases_fold_into_their_canonical_keys() -> None:
    policy = parse_policy(
        """\
default_action: ALLOW
rules:
  - name: " b "
    action: Block
    match:
      tool_name: Tool.Write
      tool_names: [tool.read, tool.write]
      endpoint_class: [FS.Write]
  - name: a
    priority: -1
    effect: allow
"""
    )
    assert _assert_round_trip(policy) == (
        """\
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: allow
rules:
  - name: a
    priority: -1
    effect: allow
  - name: b
    priority: 0
    effect: block
    match:
      tool_names: [tool.read, tool.write]
      endpoint_classes: [fs.write]
"""
    )


def test_normalization_defaults_are_spelled_out() -> None:
    policy = parse_policy(
        """\
fail_closed: {enabled: true}
rules:
  - name: r
    effect: allow
    min_approvals: 2
    rate_limit: {requests: 5}
    dataflow: {destination_kinds: [host]}
    endpoint: {path_denylist: ["/etc/*"]}
"""
    )
    document = policy_document(policy)
    assert document["default_verdict"] == "require_approval"
    assert document["fail_closed"] == {"enabled": True, "risk_classes": ["critical", "high"]}
    rule = document["rules"][0]
    assert rule["require_distinct_approvers"] is True
    assert rule["rate_limit"] == {"requests": 5, "window": "minute", "scope": "tool_identity"}
    assert rule["dataflow"] == {
        "enabled": True,
        "tainted_sources": ["external", "tool_output"],
        "destination_kinds": ["host"],
        "action": "require_approval",
        "reason_code": "dataflow_tainted_destination",
        "violation": "tainted_dataflow",
    }
    assert rule["endpoint"]["action"] == "block"
    _assert_round_trip(policy)


def test_disabled_blocks_are_left_out_but_digested_lists_stay() -> None:
    policy = parse_policy(
        """\
fail_closed: {enabled: false, risk_classes: [high]}
scripts: {max_steps: 3}
rules:
  - name: r
    effect: allow
    rate_limit: {requests: 0, window: hour}
    dataflow: {action: block}
    endpoint: {reason_code: x}
"""
    )
    document = policy_document(policy)
    assert document["fail_closed"] == {"enabled": False, "risk_classes": ["high"]}
    assert document["scripts"] == {"max_steps": 3}
    assert document["rules"] == [{"name": "r", "priority": 0, "effect": "allow"}]
    _assert_round_trip(policy)


def test_tool_annotation_hints_keep_false() -> None:
    policy = parse_policy(
        "rules:\n  - name: r\n    effect: block\n    match:\n"
        "      tool_annotations: {readOnlyHint: false, openWorldHint: true}\n"
    )
    assert policy_document(policy)["rules"][0]["match"] == {
        "tool_annotations": {"readOnlyHint": False, "openWorldHint": True}
    }
    _assert_round_trip(policy)


@pytest.mark.parametrize(
    "value",
    ["yes", "No", "ON", "y", "null", "~", "true", "1", "1.5", "0o17", "0x1F", "1_000", "1e3",
     ".inf", "-", "-x", "*x", "&x", "!x", "a: b", "a #b", "#c", "[x]", "{x}", "x,y", "'q'",
     '"q"', "a\\b", "tab\there", "line\nbreak", "nel\x85x", "ls\u2028x", "nbsp\xa0x", "bom\ufeffx",
     "del\x7fx", "bell\x07", "ünï", "emoji 😀", "/etc/*", "user@example.com", "1.0.0", "%x",
     "@x", "`x", "|x", ">x", "?x", "<<"],
)  # fmt: skip
def test_awkward_strings_survive(value: str) -> None:
    policy = policy_from_document(
        {
            "rules": [
                {
                    "name": f"n {value}",
                    "effect": "block",
                    "match": {"identities": [value], "target_values": [value]},
                    "reason_codes": [value],
                }
            ]
        }
    )
    formatted = _assert_round_trip(policy)
    # Quoting is for every YAML reader, not only ours: PyYAML (YAML 1.1) reads the same values.
    assert yaml.safe_load(formatted) == policy_document(policy)


_TEXT = st.text(max_size=12) | st.sampled_from(["yes", "null", "0x10", "1.0", "a: b", "#", "~"])
_STRINGS = st.lists(_TEXT, max_size=3)
_HINT = st.none() | st.booleans()


@st.composite
def _policy_documents(draw: st.DrawFn) -> dict[str, Any]:
    rules = []
    for index in range(draw(st.integers(0, 4))):
        rule: dict[str, Any] = {
            "name": f"r{index}{draw(_TEXT)}",
            "effect": draw(st.sampled_from(["allow", "block", "dry_run", "require_approval"])),
            # Beyond 2**53 the digest itself fails today (JCS integer domain), formatted or not.
            "priority": draw(st.integers(-(2**53) + 1, 2**53 - 1)),
            "min_approvals": draw(st.integers(0, 3)),
            "require_distinct_approvers": draw(st.booleans()),
            "reason_codes": draw(_STRINGS),
            "violations": draw(_STRINGS),
            "match": {
                "tool_names": draw(_STRINGS),
                "identities": draw(_STRINGS),
                "target_values": draw(_STRINGS),
                "workspace_prefixes": draw(_STRINGS),
                "data_classes": draw(_STRINGS),
                "tool_annotations": {
                    "readOnlyHint": draw(_HINT),
                    "destructiveHint": draw(_HINT),
                },
            },
            "rate_limit": {"requests": draw(st.integers(0, 9))},
            "dataflow": {"destination_values": draw(_STRINGS), "reason_code": draw(_TEXT)},
            "endpoint": {"path_denylist": draw(_STRINGS), "violation": draw(_TEXT)},
        }
        rules.append(rule)
    return {
        "default_verdict": draw(st.sampled_from(["allow", "block", "", "require_approval"])),
        "scripts": {"max_steps": draw(st.integers(0, 9))},
        "fail_closed": {"enabled": draw(st.booleans()), "risk_classes": draw(_STRINGS)},
        "rules": rules,
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_policy_documents())
def test_any_policy_round_trips(document: dict[str, Any]) -> None:
    try:
        policy = policy_from_document(document)
    except PolicyError:
        return
    formatted = _assert_round_trip(policy)
    assert yaml.safe_load(formatted) == policy_document(policy)


def test_empty_policy_formats_its_defaults() -> None:
    assert format_policy(parse_policy("")) == (
        "schema_id: gait.gate.policy\nschema_version: 1.0.0\ndefault_verdict: require_approval\n"
    )


@pytest.mark.parametrize(
    ("text", "header"),
    [
        ("# a\n#b\n\n# c\nrules: []\n", "# a\n#b\n\n# c\n"),
        ("\n\n  # indented  \r\n\ndefault_verdict: allow # trailing\n# later\n", "# indented\n"),
        ("default_verdict: allow\n# not a header\n", ""),
        ("\ufeff# bom\n", "# bom\n"),
        ("# one\n# two\u2028three\n", "# one\n"),
        ("", ""),
    ],
)
def test_leading_comments(text: str, header: str) -> None:
    assert leading_comments(text) == header
    assert leading_comments(header + "rules: []\n") == header


# --------------------------------------------------------------------------------------------
# Templates
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", TEMPLATE_NAMES)
def test_template_loads_and_is_already_formatted(name: str) -> None:
    text = template_text(name)
    compiled = load_policy(text)
    assert leading_comments(text) + format_policy(compiled.policy) == text


def test_low_risk_template_is_the_reference_file() -> None:
    assert template_text("baseline-lowrisk") == REFERENCE_LOW_RISK.read_text()


def test_template_defaults() -> None:
    verdicts = {
        name: load_policy(template_text(name)).policy.default_verdict for name in TEMPLATE_NAMES
    }
    assert verdicts == {
        "baseline-lowrisk": "allow",
        "baseline-mediumrisk": "require_approval",
        "baseline-highrisk": "block",
    }


def test_high_risk_template_keeps_the_reference_intent() -> None:
    policy = load_policy(template_text("high")).policy
    assert policy.fail_closed.enabled and policy.fail_closed.risk_classes == ("critical",)
    rules = {rule.name: rule for rule in policy.rules}
    assert rules["block-tainted-egress-write"].effect == "block"
    budget = rules["destructive-budget-guard"].destructive_budget
    assert (budget.requests, budget.window, budget.scope) == (3, "hour", "identity")
    for name in ("require-approval-tool-write", "require-approval-tool-deploy"):
        assert rules[name].min_approvals == 2 and rules[name].require_distinct_approvers
    assert "# The reference's baseline-highrisk template" in template_text("high")


@pytest.mark.parametrize("alias", sorted(TEMPLATE_ALIASES))
def test_aliases_resolve(alias: str) -> None:
    assert resolve_template(f"  {alias.upper()} ") == TEMPLATE_ALIASES[alias]


def test_unknown_template_lists_the_names() -> None:
    with pytest.raises(InvalidInputError, match=r"unknown template: nope .*baseline-lowrisk.*low"):
        resolve_template("nope")
