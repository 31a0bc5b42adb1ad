"""Policy loading, validation, normalization, digest and compilation."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gait import limits
from gait import policy as policy_module
from gait.errors import ExitCode, InvalidInputError
from gait.gostrings import go_lower, go_trim_space
from gait.policy import (
    UNSUPPORTED_MATCH_KEYS,
    UNSUPPORTED_RULE_KEYS,
    PolicyError,
    compile_policy,
    load_policy,
    load_policy_file,
    parse_policy,
    parse_policy_document,
    sanitize_rule_name,
)

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance" / "gate" / "cases"
FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "reference_fixtures"

D5_POLICY = """\
schema_id: gait.gate.policy
schema_version: 1.0.0
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


def _cases() -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(CONFORMANCE.glob("*.json"))]


def _error(text: str) -> str:
    with pytest.raises(PolicyError) as info:
        parse_policy(text)
    return str(info.value)


# -- digests --------------------------------------------------------------------------------


def test_d3_default_policy_digest() -> None:
    policy = parse_policy("default_verdict: require_approval\n")
    assert policy.digest_payload() == {
        "DefaultVerdict": "require_approval",
        "FailClosed": {"Enabled": False, "RequiredFields": [], "RiskClasses": []},
        "Rules": [],
        "SchemaID": "gait.gate.policy",
        "SchemaVersion": "1.0.0",
    }
    assert policy.digest == "07a528a879e4f0e0cd5a0e2ca801924746b47dac624862207ef21d4ec266f8f9"


def test_empty_document_is_the_default_policy() -> None:
    digest = "07a528a879e4f0e0cd5a0e2ca801924746b47dac624862207ef21d4ec266f8f9"
    assert parse_policy("").digest == digest
    assert parse_policy("# only a comment\n").digest == digest
    assert parse_policy("---\n").digest == digest


def test_d5_policy_digest() -> None:
    digest = "f4581f55c41a3ee69b316c95f66fbfc293ae7f06e6458491e3ca232dfb26608c"
    assert parse_policy(D5_POLICY).digest == digest
    # Flow style, key order, case and whitespace do not change the digest.
    flow = (
        "{rules: [{violations: [external_target], reason_codes: [' blocked_external '],"
        " match: {target_values: [api.external.com], target_kinds: [HOST],"
        " tool_name: ' Tool.Write '}, effect: BLOCK, priority: 10, name: block-external-host}],"
        " default_action: allow}"
    )
    assert parse_policy(flow).digest == digest


@pytest.mark.parametrize("case", _cases(), ids=lambda case: case["id"])
def test_conformance_policy_digests(case: dict[str, Any]) -> None:
    expected = case["expected"]
    if "policy_digest" not in expected:
        return
    assert parse_policy(case["policy_yaml"]).digest == expected["policy_digest"]


def test_reference_fixture_low_risk_policy_loads() -> None:
    compiled = load_policy_file(FIXTURES / "examples" / "policy" / "base_low_risk.yaml")
    assert [rule.name for rule in compiled.policy.rules] == [
        "block-destructive-tool-delete",
        "require-approval-tool-write",
        "allow-safe-tool-read",
    ]


def test_reference_fixture_high_risk_policy_is_refused_by_name() -> None:
    with pytest.raises(PolicyError, match=r'policy uses unsupported feature "'):
        load_policy_file(FIXTURES / "examples" / "policy" / "base_high_risk.yaml")


def test_digest_payload_presence_rules() -> None:
    policy = parse_policy(
        """
fail_closed: {enabled: true, required_high_risk_fields: [Run_ID]}
scripts: {block_mixed_risk: true}
rules:
  - name: r
    effect: require_approval
    min_approvals: 2
    match:
      tool_annotations: {readOnlyHint: false}
      endpoint_class: [FS.Write]
    rate_limit: {requests: 5}
    destructive_budget: {requests: 1, window: HOUR, scope: identity}
    dataflow: {destination_kinds: [url]}
    endpoint: {destructive_action: require_approval}
"""
    )
    payload = policy.digest_payload()
    assert payload["FailClosed"] == {
        "Enabled": True,
        "RiskClasses": ["critical", "high"],
        "RequiredFields": [],
        "RequiredHighRiskFields": ["run_id"],
    }
    assert payload["Scripts"] == {"MaxSteps": 0, "RequireApprovalAbove": 0, "BlockMixedRisk": True}
    rule = payload["Rules"][0]
    assert rule["Match"]["ToolAnnotations"] == {"ReadOnlyHint": False}
    assert rule["Match"]["EndpointClasses"] == ["fs.write"]
    assert "DiscoveryMethods" not in rule["Match"]
    assert rule["MinApprovals"] == 2
    assert rule["RequireDistinctApprovers"] is True
    assert rule["RateLimit"] == {"Requests": 5, "Window": "minute", "Scope": "tool_identity"}
    assert rule["DestructiveBudget"] == {"Requests": 1, "Window": "hour", "Scope": "identity"}
    assert rule["Dataflow"] == {
        "Enabled": True,
        "TaintedSources": ["external", "tool_output"],
        "Action": "require_approval",
        "ReasonCode": "dataflow_tainted_destination",
        "Violation": "tainted_dataflow",
        "DestinationKinds": ["url"],
    }
    assert rule["Endpoint"] == {
        "Enabled": True,
        "PathAllowlist": [],
        "PathDenylist": [],
        "DomainAllowlist": [],
        "DomainDenylist": [],
        "EgressClasses": [],
        "Action": "block",
        "DestructiveAction": "require_approval",
        "ReasonCode": "endpoint_constraint_violation",
        "Violation": "endpoint_constraint_violation",
    }


# -- normalization ---------------------------------------------------------------------------


def test_normalization_lowercases_merges_aliases_and_sorts() -> None:
    policy = parse_policy(
        """
default_verdict: " BLOCK "
rules:
  - name: zeta
    priority: 5
    action: Allow
    match:
      tool_name: Tool.B
      tool_names: [tool.a, TOOL.A, " ", tool.b]
      identities: [" Alice ", Alice]
      workspace_prefixes: [/Repo, /Repo]
    reason_codes: [b, a, b, " "]
  - name: alpha
    priority: 5
    effect: dry_run
  - name: first
    priority: -1
    effect: block
"""
    )
    assert policy.default_verdict == "block"
    assert [rule.name for rule in policy.rules] == ["first", "alpha", "zeta"]
    zeta = policy.rules[2]
    assert zeta.effect == "allow"
    assert zeta.match.tool_names == ("tool.a", "tool.b")
    assert zeta.match.identities == ("Alice",)
    assert zeta.match.workspace_prefixes == ("/Repo",)
    assert zeta.reason_codes == ("a", "b")


def test_yaml_1_2_scalars_yes_no_on_off_are_strings() -> None:
    policy = parse_policy(
        "rules:\n  - name: on\n    effect: allow\n    reason_codes: [yes, no, on, off, y, n]\n"
    )
    rule = policy.rules[0]
    assert rule.name == "on"
    assert rule.reason_codes == ("n", "no", "off", "on", "y", "yes")


def test_yaml_scalars_become_go_strings() -> None:
    policy = parse_policy(
        "rules:\n"
        "  - {name: 12, effect: allow, reason_codes: [1.50, 0x10, 1e6, true, 2024-01-02, 1:20]}\n"
    )
    rule = policy.rules[0]
    assert rule.name == "12"
    assert rule.reason_codes == ("1.5", "16", "1:20", "1e+06", "2024-01-02", "true")


def test_document_values() -> None:
    assert parse_policy_document("a: yes\nb: 0o17\nc: 017\nd: ~\ne: .inf\nf: '1'\n") == {
        "a": "yes",
        "b": 15,
        "c": 15,
        "d": None,
        "e": float("inf"),
        "f": "1",
    }
    assert parse_policy_document("base: &b {x: 1}\nother:\n  <<: *b\n  y: 2\n") == {
        "base": {"x": 1},
        "other": {"x": 1, "y": 2},
    }
    assert parse_policy_document("a: !!str 5\nb: !!int '7'\n") == {"a": "5", "b": 7}


def test_defaults_and_derived_fields() -> None:
    policy = parse_policy(
        """
fail_closed: {enabled: true}
rules:
  - name: r
    effect: allow
    min_approvals: 3
    dataflow: {enabled: true}
"""
    )
    assert policy.fail_closed.risk_classes == ("critical", "high")
    rule = policy.rules[0]
    assert rule.require_distinct_approvers is True
    assert rule.dataflow.tainted_sources == ("external", "tool_output")
    assert rule.dataflow.action == "require_approval"
    assert not rule.endpoint.enabled


def test_anchors_and_merge_keys_are_supported() -> None:
    policy = parse_policy(
        """
common: &common
rules:
  - &base
    name: base
    effect: block
    match: {tool_names: [tool.write]}
  - <<: *base
    name: copy
""".replace("common: &common\n", "")
    )
    assert [rule.name for rule in policy.rules] == ["base", "copy"]
    assert policy.rules[1].match.tool_names == ("tool.write",)


def test_go_string_helpers() -> None:
    assert go_trim_space("\x1f a \u3000") == "\x1f a"
    assert go_lower("İSTANBUL ΟΔΟΣ") == "istanbul οδοσ"
    assert sanitize_rule_name("Block External Host-1") == "block_external_host_1"
    assert sanitize_rule_name('a<b>&"c"') == 'a\\u003cb\\u003e\\u0026\\"c\\'
    assert sanitize_rule_name("tab\there\x01") == "tab\\there\\u0001"


# -- errors ---------------------------------------------------------------------------------


def test_policy_error_is_invalid_input() -> None:
    with pytest.raises(InvalidInputError) as info:
        parse_policy("rules: [{effect: allow}]")
    assert info.value.exit_code == ExitCode.INVALID_INPUT


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("schema_id: other\n", "unsupported policy schema_id: other"),
        ("schema_version: 2.0.0\n", "unsupported policy schema_version: 2.0.0"),
        ("schema_version: 1.0\n", "unsupported policy schema_version: 1"),
        ("default_verdict: maybe\n", "invalid default_verdict: maybe"),
        (
            "default_verdict: allow\ndefault_action: block\n",
            "default_action must match default_verdict when both are set",
        ),
        ("rules: [{effect: allow}]\n", "rule name is required"),
        ("rules: [null]\n", "rule name is required"),
        ("rules: [{name: r}]\n", "rule effect is required for r"),
        ("rules: [{name: r, effect: maybe}]\n", 'invalid rule effect "maybe" for r'),
        (
            "rules: [{name: r, effect: allow, action: block}]\n",
            "rule action must match effect for r",
        ),
        (
            "fail_closed: {required_fields: [targets, secrets]}\n",
            "unsupported fail_closed required_field: secrets",
        ),
        (
            "fail_closed: {required_high_risk_fields: [owner]}\n",
            "unsupported fail_closed required_high_risk_field: owner",
        ),
        (
            "rules: [{name: r, effect: allow, match: {endpoint_classes: [fs.nope]}}]\n",
            'unsupported match endpoint_class "fs.nope" for r',
        ),
        (
            "rules: [{name: r, effect: allow, match: {discovery_method: [carrier_pigeon]}}]\n",
            'unsupported match discovery_method "carrier_pigeon" for r',
        ),
        ("rules: [{name: r, effect: allow, min_approvals: -1}]\n", "min_approvals must be >= 0"),
        (
            "rules: [{name: r, effect: allow, rate_limit: {requests: 1, window: day}}]\n",
            'unsupported rate_limit.window "day" for r',
        ),
        (
            "rules: [{name: r, effect: allow, rate_limit: {requests: 1, scope: world}}]\n",
            'unsupported rate_limit.scope "world" for r',
        ),
        (
            "rules: [{name: r, effect: allow, destructive_budget: {window: hour}}]\n",
            "destructive_budget.requests must be >= 1 for r",
        ),
        (
            "rules: [{name: r, effect: allow, dataflow: {enabled: true, action: allow}}]\n",
            'unsupported dataflow.action "allow" for r',
        ),
        (
            "rules: [{name: r, effect: allow, endpoint: {enabled: true, action: dry_run}}]\n",
            'unsupported endpoint.action "dry_run" for r',
        ),
        (
            "rules: [{name: r, effect: allow, endpoint: {egress_classes: [fs.read]}}]\n",
            "endpoint.egress_class must be network class for r",
        ),
        ("scripts: {max_steps: -1}\n", "scripts.max_steps must be >= 0"),
        ("scripts: {require_approval_above: -2}\n", "scripts.require_approval_above must be >= 0"),
    ],
)
def test_validation_messages(text: str, message: str) -> None:
    assert message in _error(text)


def test_legacy_fields_are_refused_with_replacements() -> None:
    message = _error("version: 1\nboundaries: []\nname: x\n")
    assert message.startswith(
        "legacy policy proposal fields are not supported [version, name, boundaries]: "
        "version->schema_id|schema_version (set schema_id=gait.gate.policy and "
        "schema_version=1.0.0); name->remove the top-level policy name;"
    )
    assert "boundaries->rules|mcp_trust" in message


@pytest.mark.parametrize(
    "text",
    [
        "surprise: 1\n",
        "rules: [{name: r, effect: allow, surprise: 1}]\n",
        "rules: [{name: r, effect: allow, match: {tool: x}}]\n",
        "rules: [{name: r, effect: allow, match: {tool_annotations: {readonlyhint: true}}}]\n",
        "rules: [{name: r, effect: allow, endpoint: {paths: [a]}}]\n",
        "rules: [{name: r, effect: allow, dataflow: {sources: [a]}}]\n",
        "rules: [{name: r, effect: allow, rate_limit: {per: minute}}]\n",
        "fail_closed: {enabled: true, levels: [high]}\n",
        "scripts: {max: 1}\n",
        "Default_Verdict: allow\n",
    ],
)
def test_unknown_keys_are_refused_at_every_level(text: str) -> None:
    assert "unknown field" in _error(text)


@pytest.mark.parametrize(
    "text",
    [
        "default_verdict: allow\ndefault_verdict: block\n",
        "rules:\n  - name: r\n    name: s\n    effect: allow\n",
        "rules:\n  - name: r\n    effect: allow\n    match:\n      tool_names: [a]\n"
        "      tool_names: [b]\n",
        "fail_closed: {enabled: true, enabled: false}\n",
        "rules: [{name: r, effect: allow, match: {tool_annotations: "
        "{readOnlyHint: true, readOnlyHint: false}}}]\n",
        "extra:\n  a: 1\n  a: 2\n",
    ],
)
def test_duplicate_keys_are_refused_at_every_level(text: str) -> None:
    assert "already defined" in _error(text)


@pytest.mark.parametrize("key", sorted(UNSUPPORTED_RULE_KEYS))
def test_unsupported_rule_features_are_refused_by_name(key: str) -> None:
    text = f"rules:\n  - name: r1\n    effect: allow\n    {key}: x\n"
    assert _error(text) == f'policy uses unsupported feature "{key}" (rule "r1")'


@pytest.mark.parametrize("key", sorted(UNSUPPORTED_MATCH_KEYS))
def test_unsupported_match_features_are_refused_by_name(key: str) -> None:
    text = f"rules:\n  - name: r2\n    effect: allow\n    match:\n      {key}: [x]\n"
    assert _error(text) == f'policy uses unsupported feature "{key}" (rule "r2")'


def test_unsupported_structured_features() -> None:
    text = "rules:\n  - name: freeze\n    effect: allow\n    freeze_window: {timezone: UTC}\n"
    assert _error(text) == 'policy uses unsupported feature "freeze_window" (rule "freeze")'
    # A value that turns the feature on is refused; Go's zero value is an absent key (see
    # test_policy_reference_forms.py).
    text = "rules:\n  - name: f\n    effect: allow\n    match: {require_delegation: true}\n"
    assert _error(text) == 'policy uses unsupported feature "require_delegation" (rule "f")'
    # At the wrong level it is just an unknown field, as in the reference.
    text = "rules:\n  - name: f\n    effect: allow\n    require_delegation: true\n"
    assert 'unknown field "require_delegation"' in _error(text)
    # An empty (null) key is the same as an absent one in the reference, so it is accepted.
    assert parse_policy("rules:\n  - name: f\n    effect: allow\n    sandbox:\n").rules


@pytest.mark.parametrize(
    "text",
    [
        "rules: tool.read\n",
        "rules: {name: r}\n",
        "rules: [[1, 2]]\n",
        "rules: [{name: r, effect: allow, priority: high}]\n",
        "rules: [{name: r, effect: allow, priority: [1]}]\n",
        "rules: [{name: r, effect: allow, priority: true}]\n",
        "rules: [{name: r, effect: allow, priority: 9223372036854775808}]\n",
        "rules: [{name: {a: 1}, effect: allow}]\n",
        "rules: [{name: r, effect: [allow]}]\n",
        "rules: [{name: r, effect: allow, match: []}]\n",
        "rules: [{name: r, effect: allow, match: {tool_names: tool.read}}]\n",
        "rules: [{name: r, effect: allow, match: {tool_names: [[a]]}}]\n",
        "rules: [{name: r, effect: allow, match: {tool_annotations: {readOnlyHint: yes}}}]\n",
        "rules: [{name: r, effect: allow, require_distinct_approvers: 1}]\n",
        "fail_closed: {enabled: 'true'}\n",
        "fail_closed: {enabled: on}\n",
        "fail_closed: true\n",
        "scripts: {max_steps: .nan}\n",
        "- just\n- a list\n",
        "just a string\n",
        "42\n",
        "? [complex, key]\n: value\n",
        "a: !custom 1\n",
        "a: *missing\n",
        "a: [unclosed\n",
        "a: 'unclosed\n",
        "\tbad: indentation\n",
        "a: b: c\n",
    ],
)
def test_malformed_and_mistyped_documents_raise_policy_error(text: str) -> None:
    with pytest.raises(PolicyError):
        parse_policy(text)


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(PolicyError, match="invalid UTF-8"):
        parse_policy(b"default_verdict: allow\nrules: [{name: \xff\xfe, effect: allow}]\n")
    with pytest.raises(PolicyError):
        parse_policy("default_verdict: \ud800\n")


def test_size_limit() -> None:
    big = b"# " + b"x" * limits.MAX_POLICY_BYTES + b"\n"
    with pytest.raises(PolicyError, match="exceeds"):
        parse_policy(big)


def test_nesting_limit() -> None:
    with pytest.raises(PolicyError, match="nesting"):
        parse_policy("a: " + "[" * 10_000 + "]" * 10_000 + "\n")
    with pytest.raises(PolicyError, match="nesting"):
        parse_policy("a:\n" + "".join("  " * depth + "- \n" for depth in range(1, 200)))


def test_alias_expansion_limit() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    with pytest.raises(PolicyError, match="too many nodes"):
        parse_policy("\n".join(lines) + "\n")


def test_load_policy_file_errors(tmp_path: Path) -> None:
    with pytest.raises(PolicyError, match="read policy"):
        load_policy_file(tmp_path / "missing.yaml")
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * (limits.MAX_POLICY_BYTES + 10))
    with pytest.raises(PolicyError, match="exceeds"):
        load_policy_file(big)


@settings(max_examples=300)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_policy_error(data: bytes) -> None:
    with contextlib.suppress(PolicyError):
        parse_policy(data)


_YAMLISH = st.text(alphabet=" \n\t-:[]{},&*!|>'\"#?%@`~abrulesnameffectmatchtool_0123456789.")


@settings(max_examples=500)
@given(_YAMLISH)
def test_arbitrary_yaml_like_text_raises_only_policy_error(text: str) -> None:
    with contextlib.suppress(PolicyError):
        parse_policy(text)


_JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["rules", "name", "effect", "match", "tool_names", "priority", "endpoint", "x"]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(_JSONISH)
def test_arbitrary_documents_raise_only_policy_error(document: Any) -> None:
    with contextlib.suppress(PolicyError):
        parse_policy(json.dumps(document, allow_nan=True))


# -- compilation -----------------------------------------------------------------------------


def _facts(**values: tuple[Any, ...]) -> Any:
    """A `fact(dimension)` function for CompiledPolicy.candidates, from named dimensions."""
    by_index = {getattr(policy_module, "FACT_" + name.upper()): v for name, v in values.items()}

    def fact(dimension: int) -> tuple[Any, ...]:
        return by_index.get(dimension, ())

    return fact


def test_compiled_candidates_keep_priority_name_order() -> None:
    compiled = load_policy(
        """
rules:
  - {name: d, priority: 1, effect: allow, match: {tool_names: [tool.a]}}
  - {name: c, priority: 1, effect: allow}
  - {name: b, priority: 0, effect: allow, match: {tool_names: [tool.a, tool.b]}}
  - {name: a, priority: 2, effect: allow, match: {risk_classes: [high]}}
  - {name: e, priority: 0, effect: allow, match: {tool_name: tool.b}}
  - {name: f, priority: 3, effect: allow, match: {target_kinds: [path, host]}}
"""
    )
    names = [rule.name for rule in compiled.policy.rules]
    assert names == ["b", "e", "c", "d", "a", "f"]

    def candidates(**values: tuple[Any, ...]) -> list[str]:
        return [c.rule.name for c in compiled.candidates(_facts(**values))]

    assert candidates(tool_name=("tool.a",), risk_class=("high",)) == ["b", "c", "d", "a"]
    assert candidates(tool_name=("tool.b",), risk_class=("low",)) == ["b", "e", "c"]
    assert candidates(tool_name=("other",), risk_class=("high",)) == ["c", "a"]
    # A rule in several buckets of one dimension is listed once.
    assert candidates(tool_name=("x",), risk_class=("",), target_kind=("host", "path")) == [
        "c",
        "f",
    ]
    # Cached merges give the same answer.
    assert candidates(tool_name=("tool.a",), risk_class=("high",)) == ["b", "c", "d", "a"]
    assert compiled.residual == (compiled.rules[2],)


def test_compile_is_deterministic() -> None:
    policy = parse_policy(D5_POLICY)
    assert compile_policy(policy).digest == compile_policy(policy).digest == policy.digest
    assert compile_policy(policy).rules[0].reasons == ("blocked_external",)


@settings(max_examples=100)
@given(st.permutations(range(6)))
def test_rule_order_in_the_document_does_not_change_the_digest(order: list[int]) -> None:
    rules = [
        f"  - {{name: r{index}, priority: {index % 3}, effect: allow, "
        f"match: {{tool_names: [t{index}]}}}}"
        for index in range(6)
    ]
    text = "rules:\n" + "\n".join(rules[index] for index in order) + "\n"
    reference = "rules:\n" + "\n".join(rules) + "\n"
    assert parse_policy(text).digest == parse_policy(reference).digest
