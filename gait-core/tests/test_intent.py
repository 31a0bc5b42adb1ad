"""Intent parsing, normalization and digests (spec gate.md §1, §2, §11.1)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from gait.canonical import canonical_json, digest
from gait.errors import ExitCode, InvalidInputError
from gait.intent import (
    ArgProvenance,
    IntentDecodeError,
    IntentError,
    NormalizedIntent,
    Target,
    go_lower,
    go_trim_space,
    normalize_intent,
    parse_intent_json,
    prepare_for_evaluation,
    raw_risk_class,
)
from gait.limits import MAX_INTENT_BYTES, MAX_JSON_DEPTH

CONFORMANCE = Path(__file__).resolve().parents[3] / "shared" / "conformance"
CASES = sorted((CONFORMANCE / "gate" / "cases").glob("*.json"))

ZERO = "0001-01-01T00:00:00Z"
HEX_A = "a" * 64


def load_case(path: Path) -> dict[str, Any]:
    case: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return case


def base_intent(**overrides: Any) -> dict[str, Any]:
    """A small valid intent: tool.write to one path with user provenance."""
    intent: dict[str, Any] = {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-02-05T00:00:00Z",
        "producer_version": "0.0.0-test",
        "tool_name": "tool.write",
        "args": {"path": "/tmp/out.txt"},
        "targets": [{"kind": "path", "value": "/tmp/out.txt", "operation": "write"}],
        "arg_provenance": [{"arg_path": "$.path", "source": "user"}],
        "context": {"identity": "alice", "workspace": "/repo/gait", "risk_class": "high"},
    }
    intent.update(overrides)
    return intent


def with_context(**fields: Any) -> dict[str, Any]:
    intent = base_intent()
    intent["context"] = {**intent["context"], **fields}
    return intent


def norm(raw: dict[str, Any]) -> NormalizedIntent:
    return normalize_intent(raw)


def error_of(raw: Any) -> str:
    with pytest.raises(IntentError) as info:
        normalize_intent(raw)
    return str(info.value)


def from_bytes(raw: dict[str, Any]) -> NormalizedIntent:
    return normalize_intent(parse_intent_json(json.dumps(raw).encode("utf-8")))


# --------------------------------------------------------------------------------------------
# Conformance data
# --------------------------------------------------------------------------------------------

DIGEST_CASES = [
    path
    for path in CASES
    if "intent_digest" in (case := load_case(path))["expected"]
    and case["expected"].get("exit_code") != 6
]

# The exit-6 cases whose intent fails normalization, and Go's error for each.
NORMALIZATION_FAILURES = {
    "s1-0011": "unsupported target kind: galaxy",
    "s1-0033": "args.api_key must not contain raw credential material; "
    "use credential references or digests instead",
    "s1-0041": "args.api_key must not contain raw credential material; "
    "use credential references or digests instead",
    "s1-0046": "tool_name is required",
    "s1-0057": "tool_name is required",
    "s1-0076": "normalize args: args contains empty key",
    "s1-0090": "args.api_key must not contain raw credential material; "
    "use credential references or digests instead",
    "s1-0180": "normalize args: args contains empty key",
}
INVALID_CASES = [path for path in CASES if load_case(path)["expected"].get("exit_code") == 6]


def test_conformance_data_is_present() -> None:
    assert len(CASES) >= 200
    assert len(DIGEST_CASES) >= 187
    assert len(INVALID_CASES) == 13


@pytest.mark.parametrize("path", DIGEST_CASES, ids=lambda path: path.stem)
def test_conformance_intent_digest(path: Path) -> None:
    case = load_case(path)
    expected = case["expected"]["intent_digest"]
    assert prepare_for_evaluation(normalize_intent(case["intent"])).intent_digest == expected
    # The same intent through the byte parser (every number a float, as in Go).
    parsed = parse_intent_json(json.dumps(case["intent"]).encode("utf-8"))
    assert prepare_for_evaluation(normalize_intent(parsed)).intent_digest == expected


@pytest.mark.parametrize("path", INVALID_CASES, ids=lambda path: path.stem)
def test_conformance_invalid_cases(path: Path) -> None:
    case = load_case(path)
    message = NORMALIZATION_FAILURES.get(case["id"])
    if message is not None:
        assert error_of(case["intent"]) == message
        with pytest.raises(IntentError, match="^" + message.split(":")[0]):
            normalize_intent(parse_intent_json(json.dumps(case["intent"]).encode("utf-8")))
    else:
        # These intents are fine: the policy is what is invalid (a rule with `effect: maybe`).
        normalize_intent(case["intent"])
        assert "effect: maybe" in case["policy_yaml"]


# --------------------------------------------------------------------------------------------
# Digest vectors (spec §2.4 worked example, §11.1 D1, D2, D5, D7)
# --------------------------------------------------------------------------------------------

D1_INTENT: dict[str, Any] = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-02-18T00:00:00Z",
    "producer_version": "0.0.0-dev",
    "tool_name": "tool.write",
    "args": {"path": "/tmp/approve-valid.txt"},
    "targets": [
        {
            "kind": "path",
            "value": "/tmp/approve-valid.txt",
            "operation": "write",
            "endpoint_class": "fs.write",
        }
    ],
    "arg_provenance": [{"arg_path": "$.path", "source": "user"}],
    "context": {
        "identity": "agent.scenario",
        "workspace": "/repo/gait",
        "risk_class": "high",
        "session_id": "sess-tier11",
    },
}
D1_PAYLOAD = (
    '{"tool_name":"tool.write","args":{"path":"/tmp/approve-valid.txt"},"targets":[{"kind":'
    '"path","value":"/tmp/approve-valid.txt","operation":"write","endpoint_class":"fs.write",'
    '"discovery_method":"unknown"}],"arg_provenance":[{"arg_path":"$.path","source":"user"}],'
    '"context":{"identity":"agent.scenario","workspace":"/repo/gait","risk_class":"high",'
    '"phase":"apply","session_id":"sess-tier11"}}'
)
D1_DIGEST = "4b53bb79e35105ac9170963ac6f84ed0ed15530c68f06a46fc1233c5ec766913"
D2_DIGEST = "5560b84bd90ae0b84079bd0125a27d74750fb25f55a62a12a6b718eaca3dca51"
D5_DIGEST = "74d4a052fd27c63f110e0879f227215aed15a8e522946d38a2fb515374fbafa8"


def test_worked_example_d1() -> None:
    intent = norm(D1_INTENT)
    assert intent.digest_payload() == json.loads(D1_PAYLOAD)
    assert intent.canonical_bytes == canonical_json(json.loads(D1_PAYLOAD))
    assert intent.intent_digest == D1_DIGEST
    assert from_bytes(D1_INTENT).intent_digest == D1_DIGEST
    assert prepare_for_evaluation(intent).intent_digest == D1_DIGEST


def test_d2_expired_path() -> None:
    raw = copy.deepcopy(D1_INTENT)
    raw["args"]["path"] = "/tmp/approve-expired.txt"
    raw["targets"][0]["value"] = "/tmp/approve-expired.txt"
    assert norm(raw).intent_digest == D2_DIGEST


def test_d5_host_target_gets_inferred_class_and_domain() -> None:
    raw = {
        "tool_name": "tool.write",
        "args": {"path": "/tmp/out.txt"},
        "targets": [{"kind": "host", "value": "api.external.com"}],
        "arg_provenance": [{"arg_path": "$.path", "source": "user"}],
        "context": {"identity": "alice", "workspace": "/repo/gait", "risk_class": "high"},
    }
    intent = norm(raw)
    assert intent.targets == (
        Target(
            "host",
            "api.external.com",
            endpoint_class="net.http",
            endpoint_domain="api.external.com",
        ),
    )
    assert intent.intent_digest == D5_DIGEST


EQUIVALENT_A: dict[str, Any] = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-02-05T00:00:00Z",
    "producer_version": "0.0.0-dev",
    "tool_name": "tool.write",
    "args": {"path": " /tmp/out.txt ", "payload": {"tags": ["alpha", "beta"], "x": 1}},
    "targets": [
        {"kind": "path", "value": " /tmp/out.txt ", "operation": "write"},
        {"kind": "host", "value": "api.internal"},
    ],
    "arg_provenance": [
        {"arg_path": "args.payload", "source": "tool_output", "source_ref": "trace_2"},
        {"arg_path": "args.path", "source": "user"},
    ],
    "context": {
        "identity": "alice",
        "workspace": "/repo/work",
        "risk_class": "HIGH",
        "session_id": "s1",
    },
}
# Same intent: other key order, whitespace, case, a duplicate target, other metadata.
EQUIVALENT_B: dict[str, Any] = {
    "context": {
        "session_id": "s1",
        "risk_class": " high ",
        "workspace": "/repo/work",
        "identity": " alice ",
        "phase": "apply",
    },
    "arg_provenance": [
        {"arg_path": "args.path", "source": " user "},
        {"arg_path": "args.payload", "source": "TOOL_OUTPUT", "source_ref": "trace_2"},
    ],
    "targets": [
        {"kind": "host", "value": " api.internal "},
        {"kind": "path", "value": "/tmp/out.txt", "operation": "WRITE"},
        {"kind": " PATH ", "value": "/tmp/out.txt", "operation": "write"},
    ],
    "args": {"payload": {"x": 1.0, "tags": [" alpha", "beta "]}, "path": "/tmp/out.txt"},
    "tool_name": "  Tool.Write  ",
    "producer_version": "0.1.0",
    "created_at": "2026-02-05T12:00:00Z",
    "schema_version": "1.0.0",
    "schema_id": "gait.gate.intent_request",
    "relationship": {"parent_ref": {"kind": "session", "id": "s1"}},
    "intent_digest": "0" * 64,
    "args_digest": "1" * 64,
}


def test_d7_equivalent_intents_have_equal_digest_and_bytes() -> None:
    left, right = norm(EQUIVALENT_A), norm(EQUIVALENT_B)
    assert left.canonical_bytes == right.canonical_bytes
    assert left.intent_digest == right.intent_digest
    assert left.args_digest == right.args_digest
    assert len(right.targets) == 2


def test_d7_different_intent_has_different_digest() -> None:
    different = copy.deepcopy(EQUIVALENT_A)
    different["args"]["payload"]["x"] = 2
    assert norm(different).intent_digest != norm(EQUIVALENT_A).intent_digest


def test_explicit_apply_phase_equals_default() -> None:
    assert norm(with_context(phase="apply")).intent_digest == norm(base_intent()).intent_digest
    assert norm(with_context(phase=" APPLY ")).intent_digest == norm(base_intent()).intent_digest
    assert norm(with_context(phase="plan")).intent_digest != norm(base_intent()).intent_digest


def test_excluded_fields_do_not_change_digest() -> None:
    reference = norm(base_intent()).intent_digest
    for field, value in [
        ("schema_id", "other"),
        ("schema_version", "9.9.9"),
        ("created_at", "2030-01-01T00:00:00Z"),
        ("producer_version", "9"),
        ("intent_digest", "f" * 64),
        ("args_digest", "f" * 64),
        ("script_hash", "f" * 64),
        ("relationship", {"parent_record_id": "x"}),
        ("unknown_key", {"anything": [1, 2]}),
    ]:
        assert norm(base_intent(**{field: value})).intent_digest == reference, field


def test_args_digest_is_digest_of_normalized_args() -> None:
    intent = norm(base_intent(args={" b ": [" x ", 2.0], "a": {"k": " v "}}))
    assert intent.args == {"b": ["x", 2], "a": {"k": "v"}}
    assert intent.args_digest == digest({"a": {"k": "v"}, "b": ["x", 2]})


def test_digests_are_cached_and_evolve_recomputes() -> None:
    intent = norm(base_intent())
    first = intent.intent_digest
    assert intent.intent_digest is first
    assert intent.__dict__["intent_digest"] == first
    changed = attrs.evolve(intent, tool_name="tool.other")
    assert changed.intent_digest != first


# --------------------------------------------------------------------------------------------
# Go string semantics (spec §1)
# --------------------------------------------------------------------------------------------


def test_go_trim_space_differs_from_str_strip() -> None:
    assert go_trim_space("\x1c a \x1f") == "\x1c a \x1f"  # str.strip() would remove these
    assert go_trim_space("\u00a0\u3000\u2028 a\t\n\v\f\r\x85") == "a"
    assert go_trim_space("\u200ba\u200b") == "\u200ba\u200b"  # zero-width space is not space
    assert go_trim_space("\ufeffa") == "\ufeffa"


def test_go_trim_space_replaces_lone_surrogates() -> None:
    assert go_trim_space(" \ud800x ") == "\ufffdx"


def test_go_lower_is_rune_by_rune() -> None:
    assert go_lower("\u0391\u03a3") == "\u03b1\u03c3"  # no final-sigma rule
    assert go_lower("\u0130X") == "ix"  # Go's simple mapping of dotted capital I
    assert go_lower("HIGH") == "high"


def test_whitespace_rule_in_intent_fields() -> None:
    intent = norm(with_context(identity="\x1calice"))
    assert intent.context.identity == "\x1calice"
    intent = norm(with_context(identity="\u00a0alice\u3000"))
    assert intent.context.identity == "alice"


def test_top_level_and_nested_keys_match_case_insensitively() -> None:
    raw = {
        "TOOL_NAME": "tool.write",
        "Args": {"Path": "/tmp/out.txt"},
        "Targets": [{"KIND": "path", "Value": "/tmp/out.txt", "Operation": "write"}],
        "ARG_PROVENANCE": [{"Arg_Path": "$.path", "SOURCE": "user"}],
        "Context": {"IDENTITY": "alice", "Workspace": "/repo/gait", "Risk_Class": "high"},
    }
    intent = norm(raw)
    assert intent.tool_name == "tool.write"
    # Keys inside args are data, not field names: they keep their case.
    assert intent.args == {"Path": "/tmp/out.txt"}
    assert intent.context.risk_class == "high"
    assert intent.targets[0].endpoint_class == "fs.write"


def test_kelvin_sign_and_long_s_fold_like_go() -> None:
    # Go's decoder folds U+212A onto "k" and U+017F onto "s".
    raw = base_intent()
    raw["targets"] = [{"\u212aind": "path", "value": "/tmp/out.txt", "operation": "write"}]
    raw["\u017fkill_provenance"] = {"skill_name": "s", "source": "git", "publisher": "p"}
    intent = norm(raw)
    assert intent.targets[0].kind == "path"
    assert intent.skill_provenance is not None


def test_duplicate_spellings_decode_into_the_same_value() -> None:
    raw = base_intent()
    raw["context"] = {"identity": "alice", "workspace": "/w"}
    raw["CONTEXT"] = {"risk_class": "high"}  # merged into the same struct, as Go does
    assert norm(raw).context == norm(with_context(workspace="/w")).context
    raw = base_intent(TOOL_NAME="tool.read")
    assert norm(raw).tool_name == "tool.read"  # the later key wins
    raw = base_intent(Tool_Name=None)
    assert norm(raw).tool_name == "tool.write"  # null leaves a string unchanged


# --------------------------------------------------------------------------------------------
# tool_name, args
# --------------------------------------------------------------------------------------------


def test_tool_name_trimmed_lowercased_and_required() -> None:
    assert norm(base_intent(tool_name="  Tool.Write ")).tool_name == "tool.write"
    assert error_of(base_intent(tool_name=" \t ")) == "tool_name is required"
    assert error_of(base_intent(tool_name=None)) == "tool_name is required"
    raw = base_intent()
    del raw["tool_name"]
    assert error_of(raw) == "tool_name is required"


def test_args_missing_or_null_is_empty_object() -> None:
    raw = base_intent()
    del raw["args"]
    assert norm(raw).args == {}
    assert norm(base_intent(args=None)).args == {}
    assert norm(raw).digest_payload()["args"] == {}


def test_args_strings_and_keys_trimmed_recursively() -> None:
    args = {" a ": {" b ": [" x ", {" c ": " y "}, 1, True, None]}}
    assert norm(base_intent(args=args)).args == {"a": {"b": ["x", {"c": "y"}, 1, True, None]}}


def test_args_empty_key_is_an_error() -> None:
    assert error_of(base_intent(args={"": 1})) == "normalize args: args contains empty key"
    assert error_of(base_intent(args={"x": {"  ": 1}})) == "normalize args: args contains empty key"
    assert error_of(base_intent(args={"x": [{"\u3000": 1}]})) == (
        "normalize args: args contains empty key"
    )


def test_args_must_be_an_object() -> None:
    for value in ([1], "x", 3, True):
        with pytest.raises(IntentDecodeError):
            normalize_intent(base_intent(args=value))


def test_numbers_follow_float64() -> None:
    one = norm(base_intent(args={"n": 1}))
    assert norm(base_intent(args={"n": 1.0})).args_digest == one.args_digest
    assert from_bytes(base_intent(args={"n": 1})).args_digest == one.args_digest
    # 2**60 + 1 is not a float64: Go hashes the rounded value.
    big = norm(base_intent(args={"n": 2**60 + 1}))
    assert big.args_digest == digest({"n": float(2**60)})
    assert big.args_digest == from_bytes(base_intent(args={"n": 2**60 + 1})).args_digest
    assert canonical_json(norm(base_intent(args={"n": 1.5, "m": 1e21})).args) == (
        b'{"m":1e+21,"n":1.5}'
    )
    assert norm(base_intent(args={"n": -0.0})).args_digest == digest({"n": 0})


def test_non_json_values_in_args_are_errors() -> None:
    assert error_of(base_intent(args={"n": float("nan")})).startswith("normalize args:")
    assert error_of(base_intent(args={"n": float("inf")})).startswith("normalize args:")
    assert error_of(base_intent(args={"n": object()})).startswith("normalize args:")
    assert error_of(base_intent(args={"n": {1: "x"}})).startswith("normalize args:")
    assert error_of(base_intent(args={"n": 10**400})).startswith("normalize args:")


# --------------------------------------------------------------------------------------------
# Raw credential material (spec §2.2)
# --------------------------------------------------------------------------------------------

SECRET = "abcdef0123456789abcdef"  # 22 chars, letters and digits
CREDENTIAL_ERROR = (
    "must not contain raw credential material; use credential references or digests instead"
)


@pytest.mark.parametrize(
    "key",
    [
        "token",
        "access_token",
        "Secret",
        "client_secret",
        "api_key",
        "apikey",
        "api-key",
        "API_KEY",
        "access_key",
        "accesskey",
        "password",
        "db_password_value",
        "credential",
        "credentials",
        " token ",
    ],
)
def test_suspicious_keys_with_secret_values_are_rejected(key: str) -> None:
    message = error_of(base_intent(args={key: SECRET}))
    assert message == f"args.{key.strip()} {CREDENTIAL_ERROR}"


@pytest.mark.parametrize(
    "key",
    [
        "credential_ref",
        "token_refs",
        "secret_digest",
        "token_digests",
        "password_hash",
        "token_issuer",
        "credential_source",
        "token_type",
        "token_ttl",
        "token_ttl_seconds",
        "token_id",
        "api_key_ids",
        "secret_name",
        "secret_names",
        "token_scope",
        "token_scopes",
        "path",
        "tok_en",
    ],
)
def test_safe_keys_are_not_checked(key: str) -> None:
    norm(base_intent(args={key: SECRET}))


@pytest.mark.parametrize(
    "value",
    [
        "env:GAIT_TOKEN_0123456789abc",
        "ENV:GAIT_TOKEN_0123456789abc",
        "stub:abcdef0123456789abcdef",
        "cmd:get-token-0123456789",
        "ref:vault/secret/0123456789",
        "sha256:abcdef0123456789abcdef",
        HEX_A,
        "0123456789abcdef" * 4,
        "0123456789ABCDEF" * 4,  # Go checks the lower-cased value
        "short1",  # under 16 characters
        "abcdefghijklmnopqrstuvwxyz",  # no digit
        "01234567890123456789",  # no letter
        "abcdef012345 6789abcdef",  # contains a space
        "abcdef012345\t6789abcdef",
        "",
    ],
)
def test_values_that_do_not_look_like_secrets(value: str) -> None:
    norm(base_intent(args={"token": value}))


@pytest.mark.parametrize(
    "value",
    [
        "ghp_x",
        "gho_x",
        "github_pat_x",
        "sk-x",
        "AKIA0",
        "ASIAX",
        "abcdef0123456789",  # exactly 16
        "A1B2C3D4E5F6G7H8I9J0K1L2M3N4O5P6",
        "Abcdefg123456789" * 4,  # 64 characters but not hex
        "a1-._~!@#$%^&*()",  # punctuation counts towards the length
    ],
)
def test_values_that_look_like_secrets(value: str) -> None:
    assert error_of(base_intent(args={"token": value})) == f"args.token {CREDENTIAL_ERROR}"


def test_secret_length_counts_utf8_bytes() -> None:
    # 9 characters but 16 bytes in UTF-8, with a letter and a digit: Go's len() says 16.
    value = "a1" + "é" * 7
    assert len(value) == 9
    assert len(value.encode("utf-8")) == 16
    assert error_of(base_intent(args={"token": value})) == f"args.token {CREDENTIAL_ERROR}"
    norm(base_intent(args={"token": "a1" + "é" * 6}))


def test_credential_paths_for_nested_values() -> None:
    assert error_of(base_intent(args={"headers": {"Token": SECRET}})) == (
        f"args.headers.Token {CREDENTIAL_ERROR}"
    )
    assert error_of(base_intent(args={"items": [{"ok": 1}, {"password": SECRET}]})) == (
        f"args.items[1].password {CREDENTIAL_ERROR}"
    )
    # Keys are visited in sorted order, so the first offender in that order is reported.
    assert error_of(base_intent(args={"z_token": SECRET, "a_secret": SECRET})) == (
        f"args.a_secret {CREDENTIAL_ERROR}"
    )


def test_non_string_values_under_suspicious_keys_are_walked_not_rejected() -> None:
    norm(base_intent(args={"token": 1234567890123456789, "secret": ["abcdef0123456789x"]}))
    assert error_of(base_intent(args={"secret": {"password": SECRET}})) == (
        f"args.secret.password {CREDENTIAL_ERROR}"
    )


def test_auth_context_is_checked_and_normalized() -> None:
    assert error_of(with_context(auth_context={"api_key": "sk-live"})) == (
        f"context.auth_context.api_key {CREDENTIAL_ERROR}"
    )
    intent = norm(with_context(auth_context={" provider ": " oidc ", "claims": {"t": " a "}}))
    assert intent.context.auth_context == {"provider": "oidc", "claims": {"t": "a"}}
    assert norm(with_context(auth_context={})).context.auth_context is None
    assert error_of(with_context(auth_context={" ": 1})) == (
        "normalize context.auth_context: args contains empty key"
    )


def test_script_step_args_are_not_credential_checked() -> None:
    # Go checks only the top-level args and auth_context.
    raw = base_intent(script={"steps": [{"tool_name": "tool.read", "args": {"token": SECRET}}]})
    norm(raw)


# --------------------------------------------------------------------------------------------
# Targets (spec §2.2, §2.3)
# --------------------------------------------------------------------------------------------


def target_of(tool_name: str, **target: Any) -> Target:
    raw = base_intent(tool_name=tool_name, targets=[target])
    (normalized,) = norm(raw).targets
    return normalized


@pytest.mark.parametrize(
    ("kind", "operation", "tool_name", "expected"),
    [
        ("path", "read", "tool.x", "fs.read"),
        ("path", "get", "tool.x", "fs.read"),
        ("path", "list", "tool.x", "fs.read"),
        ("path", "open", "tool.x", "fs.read"),
        ("path", "cat", "tool.x", "fs.read"),
        ("path", "head", "tool.x", "fs.read"),
        ("path", "download", "tool.x", "fs.read"),
        ("path", "stat", "tool.x", "fs.read"),
        ("path", "write", "tool.x", "fs.write"),
        ("path", "append", "tool.x", "fs.write"),
        ("path", "put", "tool.x", "fs.write"),
        ("path", "create", "tool.x", "fs.write"),
        ("path", "update", "tool.x", "fs.write"),
        ("path", "save", "tool.x", "fs.write"),
        ("path", "copy", "tool.x", "fs.write"),
        ("path", "move", "tool.x", "fs.write"),
        ("path", "rename", "tool.x", "fs.write"),
        ("path", "delete", "tool.x", "fs.delete"),
        ("path", "remove", "tool.x", "fs.delete"),
        ("path", "rm", "tool.x", "fs.delete"),
        ("path", "unlink", "tool.x", "fs.delete"),
        ("path", "rmdir", "tool.x", "fs.delete"),
        ("path", "drop", "tool.x", "fs.delete"),
        ("path", "truncate", "tool.x", "fs.delete"),
        ("path", "READ", "tool.x", "fs.read"),
        # Operation wins over the tool hint.
        ("path", "read", "tool.delete", "fs.read"),
        # Tool hints, in order: read|list|fetch|search, write|update|save|create, delete|...
        ("path", "", "tool.read", "fs.read"),
        ("path", "", "tool.list_files", "fs.read"),
        ("path", "", "web.fetch", "fs.read"),
        ("path", "", "tool.search", "fs.read"),
        ("path", "", "tool.write", "fs.write"),
        ("path", "", "fs.write_file", "fs.write"),
        ("path", "", "tool.update", "fs.write"),
        ("path", "", "tool.save", "fs.write"),
        ("path", "", "tool.create", "fs.write"),
        ("path", "", "tool.delete", "fs.delete"),
        ("path", "", "tool.remove", "fs.delete"),
        ("path", "", "tool.rm", "fs.delete"),
        ("path", "", "tool.drop", "fs.delete"),
        ("path", "", "tool.read_then_delete", "fs.read"),
        ("path", "", "tool.unknown", "other"),
        ("path", "chmod", "tool.unknown", "other"),
        # The hint looks only after the last "/".
        ("path", "", "read/tool.x", "other"),
        ("path", "", "x/tool.read", "fs.read"),
        ("path", "", "tool.read/", "fs.read"),
        ("host", "", "tool.x", "net.http"),
        ("host", "dns", "tool.x", "net.dns"),
        ("url", "resolve", "tool.x", "net.dns"),
        ("url", "lookup", "tool.x", "net.dns"),
        ("url", "get", "tool.x", "net.http"),
        ("other", "exec", "tool.x", "proc.exec"),
        ("other", "spawn", "tool.x", "proc.exec"),
        ("other", "run", "tool.x", "proc.exec"),
        ("other", "shell", "tool.x", "proc.exec"),
        ("other", "command", "tool.x", "proc.exec"),
        ("other", "", "tool.exec", "proc.exec"),
        ("other", "", "tool.shell", "proc.exec"),
        ("other", "", "tool.command", "proc.exec"),
        ("other", "", "tool.spawn", "proc.exec"),
        ("other", "", "tool.prune", "proc.exec"),  # "prune" contains "run"
        ("other", "read", "tool.x", "other"),
        ("repo", "exec", "tool.exec", "other"),
        ("bucket", "read", "tool.read", "other"),
        ("table", "", "tool.x", "other"),
        ("queue", "", "tool.x", "other"),
        ("topic", "", "tool.x", "other"),
    ],
)
def test_endpoint_class_inference(kind: str, operation: str, tool_name: str, expected: str) -> None:
    target = target_of(tool_name, kind=kind, value="v", operation=operation)
    assert target.endpoint_class == expected


def test_explicit_endpoint_class_is_kept_and_validated() -> None:
    target = target_of("tool.read", kind="path", value="/x", endpoint_class=" FS.Write ")
    assert target.endpoint_class == "fs.write"
    assert error_of(
        base_intent(targets=[{"kind": "path", "value": "/x", "endpoint_class": "fs"}])
    ) == ("unsupported endpoint class: fs")


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        ("host", "API.Example.com", "api.example.com"),
        ("host", "https://internal.corp:443/path", "internal.corp"),
        ("host", "http://a.b/c", "a.b"),
        ("host", "http://https://a.b", "a.b"),
        ("host", "HTTPS://a.b", "https"),  # the scheme match is case-sensitive
        ("host", "a.b:8080", "a.b"),
        ("url", "http://evil.example.com:8080/x", "evil.example.com"),
        ("url", "https://API.github.com/repos", "api.github.com"),
        ("url", "HTTPS://user:pw@Example.org:443/p?q=1#f", "example.org"),
        ("url", "https://[::1]:8080/", "::1"),
        ("url", "https://[fe80::1%25en0]/", "fe80::1%en0"),
        ("url", "mailto:someone@example.com", ""),
        ("url", "example.com/path", ""),
        ("url", "//example.com/path", "example.com"),
        ("url", "https://exa mple.com/", ""),  # invalid host character
        ("url", "https://example.com:80a/", ""),  # invalid port
        ("url", "https://example.com/%zz", ""),  # invalid escape
        ("url", "1http://example.com", ""),  # first path segment contains a colon
        ("url", "://example.com", ""),  # missing scheme
        ("url", "https://ex%41mple.com/", ""),  # %-escapes of ASCII are not allowed in hosts
        ("url", "https://caf%C3%A9.example/", "café.example"),
        ("path", "/tmp/x", ""),
        ("repo", "https://github.com/org/repo", ""),
    ],
)
def test_endpoint_domain_inference(kind: str, value: str, expected: str) -> None:
    assert target_of("tool.x", kind=kind, value=value).endpoint_domain == expected


def test_explicit_endpoint_domain_is_lowercased() -> None:
    target = target_of("tool.x", kind="url", value="https://a.b", endpoint_domain=" X.Y ")
    assert target.endpoint_domain == "x.y"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"kind": "path", "value": "/x", "operation": "write"}, False),
        ({"kind": "path", "value": "/x", "operation": "delete"}, True),
        ({"kind": "path", "value": "/x", "operation": "TRUNCATE"}, True),
        ({"kind": "table", "value": "t", "operation": "drop"}, True),
        ({"kind": "other", "value": "x", "operation": "exec"}, True),
        ({"kind": "other", "value": "x", "operation": "spawn"}, True),
        ({"kind": "other", "value": "x", "operation": "run"}, True),  # via proc.exec
        ({"kind": "repo", "value": "x", "operation": "run"}, False),
        ({"kind": "path", "value": "/x", "endpoint_class": "fs.delete"}, True),
        ({"kind": "repo", "value": "x", "endpoint_class": "proc.exec"}, True),
        ({"kind": "path", "value": "/x", "operation": "read", "destructive": True}, True),
        ({"kind": "path", "value": "/x", "operation": "read", "destructive_hint": True}, True),
    ],
)
def test_destructive_inference(target: dict[str, Any], expected: bool) -> None:
    normalized = target_of("tool.x", **target)
    assert normalized.destructive is expected
    assert norm(base_intent(tool_name="tool.x", targets=[target])).is_destructive is expected


def test_target_fields_trimmed_and_lowercased_except_value() -> None:
    target = target_of(
        "tool.x",
        kind=" PATH ",
        value=" /Tmp/X ",
        operation=" Write ",
        sensitivity=" PII ",
        discovery_method=" Static-MCP ",
        read_only_hint=True,
        idempotent_hint=True,
        open_world_hint=True,
    )
    assert target == Target(
        "path",
        "/Tmp/X",
        "write",
        "pii",
        "fs.write",
        "",
        False,
        "static_mcp",
        True,
        False,
        True,
        True,
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "unknown"),
        ("", "unknown"),
        ("  ", "unknown"),
        ("MCP", "mcp"),
        ("dynamic mcp", "dynamic_mcp"),
        ("dynamic-mcp", "dynamic_mcp"),
        ("WebMCP", "webmcp"),
        ("a2a", "a2a"),
        ("manual", "manual"),
    ],
)
def test_discovery_method(raw: str | None, expected: str) -> None:
    target: dict[str, Any] = {"kind": "path", "value": "/x"}
    if raw is not None:
        target["discovery_method"] = raw
    assert target_of("tool.x", **target).discovery_method == expected


def test_target_validation_errors() -> None:
    def target_error(target: dict[str, Any]) -> str:
        return error_of(base_intent(targets=[target]))

    assert target_error({"kind": "path", "value": " "}) == "targets require kind and value"
    assert target_error({"kind": "", "value": "/x"}) == "targets require kind and value"
    assert target_error({"value": "/x"}) == "targets require kind and value"
    assert target_error({"kind": "File", "value": "/x"}) == "unsupported target kind: file"
    assert target_error({"kind": "path", "value": "/x", "discovery_method": "magic"}) == (
        "unsupported discovery method: magic"
    )
    assert error_of(base_intent(targets=[None])) == "targets require kind and value"


def test_targets_deduped_and_sorted() -> None:
    targets = [
        {"kind": "path", "value": "/b", "operation": "write"},
        {"kind": "host", "value": "z.example"},
        {"kind": "path", "value": "/a", "operation": "write", "destructive": True},
        {"kind": "path", "value": "/a", "operation": "write"},
        {"kind": " PATH ", "value": " /a ", "operation": "WRITE"},
        {"kind": "path", "value": "/a", "operation": "write", "open_world_hint": True},
        {"kind": "path", "value": "/a", "operation": "write", "discovery_method": "manual"},
        {"kind": "path", "value": "/a", "operation": "read"},
        {"kind": "path", "value": "/a", "operation": "write", "sensitivity": "pii"},
    ]
    normalized = norm(base_intent(tool_name="tool.x", targets=targets)).targets
    key = [
        (
            t.kind,
            t.value,
            t.operation,
            t.sensitivity,
            t.destructive,
            t.discovery_method,
            t.open_world_hint,
        )
        for t in normalized
    ]
    assert key == [
        ("host", "z.example", "", "", False, "unknown", False),
        ("path", "/a", "read", "", False, "unknown", False),
        ("path", "/a", "write", "", False, "manual", False),
        ("path", "/a", "write", "", False, "unknown", False),
        ("path", "/a", "write", "", False, "unknown", True),
        ("path", "/a", "write", "", True, "unknown", False),
        ("path", "/a", "write", "pii", False, "unknown", False),
        ("path", "/b", "write", "", False, "unknown", False),
    ]
    reordered = norm(base_intent(tool_name="tool.x", targets=list(reversed(targets))))
    assert reordered.targets == normalized


def test_targets_null_or_missing_is_empty_list_in_payload() -> None:
    for raw in (base_intent(targets=None), base_intent(targets=[])):
        intent = norm(raw)
        assert intent.targets == ()
        assert intent.digest_payload()["targets"] == []


# --------------------------------------------------------------------------------------------
# Provenance and skill provenance
# --------------------------------------------------------------------------------------------


def test_provenance_normalized_deduped_sorted() -> None:
    entries = [
        {"arg_path": " $.path ", "source": " USER "},
        {"arg_path": "$.path", "source": "user"},
        {"arg_path": "$.a", "source": "external", "integrity_digest": "A" * 64},
        {"arg_path": "$.a", "source": "external", "source_ref": " trace_1 "},
    ]
    assert norm(base_intent(arg_provenance=entries)).arg_provenance == (
        ArgProvenance("$.a", "external", "", HEX_A),
        ArgProvenance("$.a", "external", "trace_1", ""),
        ArgProvenance("$.path", "user"),
    )


def test_provenance_omitted_from_payload_when_empty() -> None:
    assert "arg_provenance" not in norm(base_intent(arg_provenance=[])).digest_payload()
    assert "arg_provenance" not in norm(base_intent(arg_provenance=None)).digest_payload()


def test_provenance_errors() -> None:
    def provenance_error(entry: dict[str, Any]) -> str:
        return error_of(base_intent(arg_provenance=[entry]))

    assert provenance_error({"arg_path": "", "source": "user"}) == (
        "arg provenance requires arg_path and source"
    )
    assert provenance_error({"arg_path": "$.x"}) == "arg provenance requires arg_path and source"
    assert provenance_error({"arg_path": "$.x", "source": "web"}) == (
        "unsupported provenance source: web"
    )
    assert provenance_error({"arg_path": "$.x", "source": "user", "integrity_digest": "abc"}) == (
        "invalid provenance integrity_digest: abc"
    )
    assert provenance_error(
        {"arg_path": "$.x", "source": "user", "integrity_digest": "z" * 64}
    ).startswith("invalid provenance integrity_digest")


def test_skill_provenance() -> None:
    skill = {
        "skill_name": " safe-curl ",
        "skill_version": " 1.0.1 ",
        "source": " Registry ",
        "publisher": " Acme ",
        "digest": "A" * 64,
        "signature_key_id": " key-1 ",
    }
    intent = norm(base_intent(skill_provenance=skill))
    assert intent.skill_provenance is not None
    assert intent.digest_payload()["skill_provenance"] == {
        "skill_name": "safe-curl",
        "skill_version": "1.0.1",
        "source": "registry",
        "publisher": "Acme",
        "digest": HEX_A,
        "signature_key_id": "key-1",
    }
    minimal = norm(
        base_intent(skill_provenance={"skill_name": "s", "source": "git", "publisher": "p"})
    )
    assert minimal.digest_payload()["skill_provenance"] == {
        "skill_name": "s",
        "source": "git",
        "publisher": "p",
    }
    assert "skill_provenance" not in norm(base_intent(skill_provenance=None)).digest_payload()
    assert error_of(base_intent(skill_provenance={"skill_name": "s", "source": "git"})) == (
        "skill provenance requires skill_name, source, and publisher"
    )
    assert error_of(
        base_intent(
            skill_provenance={"skill_name": "s", "source": "g", "publisher": "p", "digest": "x"}
        )
    ) == ("invalid skill provenance digest: x")


# --------------------------------------------------------------------------------------------
# Context
# --------------------------------------------------------------------------------------------


def test_context_required_fields() -> None:
    assert error_of(with_context(identity=" ")) == "context.identity is required"
    assert error_of(with_context(workspace="")) == "context.workspace is required"
    assert error_of(with_context(risk_class="\t")) == "context.risk_class is required"
    raw = base_intent()
    del raw["context"]
    assert error_of(raw) == "context.identity is required"
    assert error_of(base_intent(context=None)) == "context.identity is required"


def test_context_basic_normalization() -> None:
    context = norm(
        with_context(identity=" alice ", workspace=" C:\\repo\\gait ", risk_class=" High ")
    ).context
    assert (context.identity, context.workspace, context.risk_class, context.phase) == (
        "alice",
        "C:/repo/gait",
        "high",
        "apply",
    )
    assert norm(with_context(risk_class="Custom-Tier")).context.risk_class == "custom-tier"
    assert norm(with_context(phase=" PLAN ")).context.phase == "plan"
    assert error_of(with_context(phase="execute")) == "context.phase must be plan or apply"


def test_context_optional_fields_in_payload() -> None:
    context = {
        "identity": "alice",
        "workspace": "/repo/gait",
        "risk_class": "high",
        "agent_id": " agent.prod ",
        "run_id": " run-1 ",
        "workflow_id": "wf",
        "repo": " Clyra-AI/gait ",
        "environment": "prod",
        "job_id": "job",
        "session_id": "s1",
        "request_id": "req",
        "credential_ref": " env:GAIT_TOKEN ",
        "credential_source": " GitHub_PAT ",
        "credential_access_type": " Standing ",
        "credential_issuer": "github.com",
        "credential_subject": "sub",
        "credential_owner": "own",
        "credential_target_binding": "tb",
        "credential_run_binding": "rb",
        "credential_job_binding": "jb",
        "credential_ttl_seconds": 600,
        "approval_ref": "ap",
        "wrkr_inventory_ref": "wr",
        "agent_action_bom_ref": "bom",
        "environment_fingerprint": " env:prod ",
        "credential_scopes": [" tools.write ", "tools.read", "tools.read", " "],
        "context_refs": ["r2", " r1 ", "r2"],
        "context_set_digest": "B" * 64,
        "context_evidence_mode": " Required ",
        "run_ID": "ignored because run_id came first? no: later key wins",
    }
    del context["run_ID"]
    payload = norm(base_intent(context=context)).digest_payload()["context"]
    assert payload == {
        "identity": "alice",
        "workspace": "/repo/gait",
        "risk_class": "high",
        "phase": "apply",
        "agent_id": "agent.prod",
        "run_id": "run-1",
        "workflow_id": "wf",
        "repo": "Clyra-AI/gait",
        "environment": "prod",
        "job_id": "job",
        "session_id": "s1",
        "request_id": "req",
        "credential_ref": "env:GAIT_TOKEN",
        "credential_source": "github_pat",
        "credential_access_type": "standing",
        "credential_issuer": "github.com",
        "credential_subject": "sub",
        "credential_owner": "own",
        "credential_target_binding": "tb",
        "credential_run_binding": "rb",
        "credential_job_binding": "jb",
        "credential_ttl_seconds": 600,
        "approval_ref": "ap",
        "wrkr_inventory_ref": "wr",
        "agent_action_bom_ref": "bom",
        "environment_fingerprint": "env:prod",
        "credential_scopes": ["tools.read", "tools.write"],
        "context_refs": ["r1", "r2"],
        "context_set_digest": "b" * 64,
        "context_evidence_mode": "required",
    }


def test_context_empty_optional_values_are_omitted() -> None:
    payload = norm(
        with_context(
            agent_id=" ", credential_scopes=[" "], context_refs=[], credential_ttl_seconds=0
        )
    ).digest_payload()["context"]
    assert payload == {
        "identity": "alice",
        "workspace": "/repo/gait",
        "risk_class": "high",
        "phase": "apply",
    }


def test_context_validation_errors() -> None:
    assert error_of(with_context(credential_source="bad-source")) == (
        "context.credential_source is unsupported: bad-source"
    )
    assert error_of(with_context(credential_access_type="BAD")) == (
        "context.credential_access_type is unsupported: bad"
    )
    assert error_of(with_context(credential_ttl_seconds=-1)) == (
        "context.credential_ttl_seconds must be >= 0"
    )
    assert error_of(with_context(context_set_digest="abc")) == (
        "context.context_set_digest must be sha256 hex"
    )
    assert error_of(with_context(context_evidence_mode="strict")) == (
        "context.context_evidence_mode must be best_effort or required"
    )


def test_credential_ttl_must_be_an_integer_literal() -> None:
    assert norm(with_context(credential_ttl_seconds=300.0)).context.credential_ttl_seconds == 300
    for literal in ("1.5", "1e3", "1.0", "true", '"300"', "9223372036854775808"):
        data = json.dumps(base_intent()).replace(
            '"risk_class": "high"', f'"risk_class": "high", "credential_ttl_seconds": {literal}'
        )
        with pytest.raises(IntentDecodeError):
            normalize_intent(parse_intent_json(data.encode("utf-8")))
    data = json.dumps(with_context(credential_ttl_seconds=-0))
    assert normalize_intent(parse_intent_json(data.encode())).context.credential_ttl_seconds == 0


def test_large_ttl_is_hashed_as_float64_like_go() -> None:
    intent = norm(with_context(credential_ttl_seconds=2**62))
    assert intent.context.credential_ttl_seconds == 2**62
    assert b'"credential_ttl_seconds":4611686018427388000' in intent.canonical_bytes


def test_sandbox() -> None:
    sandbox = {
        "network_mode": " EGRESS_ALLOWLIST ",
        "writable_paths": [" /tmp/work ", "/tmp/work/", "/var/tmp/cache ", "./", " ", "/a/../b"],
        "read_only_roots": ["/repo", "/repo//", "/usr/share "],
        "env_exposure_mode": " ALLOWLIST ",
        "timeout_seconds": 30,
        "filesystem_isolation": " CONTAINER ",
        "user_mode": " UNPRIVILEGED ",
        "evidence_ref": " sandbox:receipt:v1 ",
        "evidence_digest": "C" * 64,
    }
    payload = norm(with_context(sandbox=sandbox)).digest_payload()["context"]["sandbox"]
    assert payload == {
        "network_mode": "egress_allowlist",
        "writable_paths": ["/b", "/tmp/work", "/var/tmp/cache"],
        "read_only_roots": ["/repo", "/usr/share"],
        "env_exposure_mode": "allowlist",
        "timeout_seconds": 30,
        "filesystem_isolation": "container",
        "user_mode": "unprivileged",
        "evidence_ref": "sandbox:receipt:v1",
        "evidence_digest": "c" * 64,
    }
    empty = norm(with_context(sandbox={"writable_paths": [".", ""], "network_mode": " "}))
    assert empty.context.sandbox is None
    assert "sandbox" not in empty.digest_payload()["context"]


def test_sandbox_errors() -> None:
    def sandbox_error(**sandbox: Any) -> str:
        return error_of(with_context(sandbox=sandbox))

    assert sandbox_error(network_mode="open") == "context.sandbox.network_mode is unsupported: open"
    assert sandbox_error(env_exposure_mode="x") == (
        "context.sandbox.env_exposure_mode is unsupported: x"
    )
    assert sandbox_error(filesystem_isolation="vm") == (
        "context.sandbox.filesystem_isolation is unsupported: vm"
    )
    assert sandbox_error(user_mode="admin") == "context.sandbox.user_mode is unsupported: admin"
    assert sandbox_error(timeout_seconds=-1) == "context.sandbox.timeout_seconds must be >= 0"
    assert sandbox_error(writable_paths=["/ok", "API_TOKEN=supersecret"]) == (
        "context.sandbox.writable_paths[1] must not contain raw environment variable assignments"
    )
    assert sandbox_error(read_only_roots=["HOME=/x"]) == (
        "context.sandbox.read_only_roots[0] must not contain raw environment variable assignments"
    )
    assert sandbox_error(evidence_digest="xyz") == (
        "context.sandbox.evidence_digest must be sha256 hex"
    )
    assert sandbox_error(evidence_ref="ghp_1234567890abcdefghijklmnopqrstuvwxyz") == (
        "context.sandbox.evidence_ref must not contain secret-like sandbox material; "
        "use sandbox evidence refs or digests instead"
    )
    assert sandbox_error(evidence_ref="A=b") == (
        "context.sandbox.evidence_ref must not contain raw environment variable assignments"
    )
    for ok_ref in (
        "ref:abcdef0123456789abc",
        "receipt:abcdef0123456789",
        "Proof:x1234567890abcdefg",
    ):
        norm(with_context(sandbox={"evidence_ref": ok_ref}))


def test_agent_identity_and_zero_time_gotcha() -> None:
    identity = {
        "lifecycle_states": [" active ", "approved", "active"],
        "owner": " platform ",
        "manifest_digest": "B" * 64,
        "publisher": " Acme ",
        "source": " Registry ",
        "issued_at": "2026-02-05T01:00:00+01:00",
        "approved_at": "2026-02-05T01:00:00.500Z",
        "expires_at": "2026-02-06T00:00:00Z",
        "revoked": True,
    }
    payload = norm(with_context(agent_identity=identity)).digest_payload()["context"]
    assert payload["agent_identity"] == {
        "lifecycle_states": ["active", "approved"],
        "owner": "platform",
        "manifest_digest": "b" * 64,
        "publisher": "Acme",
        "source": "registry",
        "issued_at": "2026-02-05T00:00:00Z",  # converted to UTC
        "approved_at": "2026-02-05T01:00:00.5Z",
        "expires_at": "2026-02-06T00:00:00Z",
        "revoked": True,
    }
    # An almost empty agent_identity still carries the three zero times (spec §1).
    payload = norm(with_context(agent_identity={})).digest_payload()["context"]
    assert payload["agent_identity"] == {
        "issued_at": ZERO,
        "approved_at": ZERO,
        "expires_at": ZERO,
    }
    explicit_zero = norm(with_context(agent_identity={"issued_at": ZERO}))
    assert explicit_zero.intent_digest == norm(with_context(agent_identity={})).intent_digest
    assert (
        "agent_identity" not in norm(with_context(agent_identity=None)).digest_payload()["context"]
    )


def test_agent_identity_errors() -> None:
    def identity_error(**identity: Any) -> str:
        return error_of(with_context(agent_identity=identity))

    assert identity_error(manifest_digest="nope") == (
        "context.agent_identity.manifest_digest must be sha256 hex"
    )
    assert identity_error(issued_at="2026-02-05T01:00:00Z", approved_at="2026-02-05T00:00:00Z") == (
        "context.agent_identity.approved_at must be on or after issued_at"
    )
    assert identity_error(issued_at="2026-02-05T01:00:00Z", expires_at="2026-02-05T01:00:00Z") == (
        "context.agent_identity.expires_at must be after issued_at"
    )
    assert identity_error(
        approved_at="2026-02-05T02:00:00Z", expires_at="2026-02-05T01:00:00Z"
    ) == ("context.agent_identity.expires_at must be after approved_at")
    # Equal issued_at and approved_at are fine; sub-second order counts.
    norm(
        with_context(
            agent_identity={
                "issued_at": "2026-02-05T01:00:00Z",
                "approved_at": "2026-02-05T02:00:00+01:00",
                "expires_at": "2026-02-05T01:00:00.000000001Z",
            }
        )
    )


def test_delegation() -> None:
    delegation = {
        "requester_identity": " agent.specialist ",
        "scope_class": " WRITE ",
        "token_refs": [" token_b ", "token_a", "token_a", ""],
        "chain": [
            {
                "delegator_identity": "agent.root",
                "delegate_identity": "agent.lead",
                "scope_class": "Write",
                "token_ref": " t1 ",
                "issued_at": "2026-02-05T00:00:00Z",
                "expires_at": "2026-02-06T00:00:00Z",
            },
            {"delegator_identity": "agent.lead", "delegate_identity": "agent.specialist"},
        ],
        "expires_at": "2026-02-06T00:00:00-05:00",
    }
    payload = norm(base_intent(delegation=delegation)).digest_payload()["delegation"]
    assert payload == {
        "requester_identity": "agent.specialist",
        "scope_class": "write",
        "token_refs": ["token_a", "token_b"],
        "chain": [
            {
                "delegator_identity": "agent.root",
                "delegate_identity": "agent.lead",
                "scope_class": "write",
                "token_ref": "t1",
                "issued_at": "2026-02-05T00:00:00Z",
                "expires_at": "2026-02-06T00:00:00Z",
            },
            {
                "delegator_identity": "agent.lead",
                "delegate_identity": "agent.specialist",
                "issued_at": ZERO,
                "expires_at": ZERO,
            },
        ],
        "issued_at": ZERO,
        "expires_at": "2026-02-06T05:00:00Z",
    }
    minimal = norm(base_intent(delegation={"requester_identity": "a", "chain": []}))
    assert minimal.digest_payload()["delegation"] == {
        "requester_identity": "a",
        "issued_at": ZERO,
        "expires_at": ZERO,
    }


def test_delegation_errors() -> None:
    def delegation_error(**delegation: Any) -> str:
        return error_of(base_intent(delegation=delegation))

    assert delegation_error(scope_class="x") == "delegation.requester_identity is required"
    assert (
        delegation_error(
            requester_identity="w", chain=[{"delegator_identity": "a", "delegate_identity": " "}]
        )
        == "delegation.chain[0] requires delegator_identity and delegate_identity"
    )
    assert delegation_error(
        requester_identity="w",
        chain=[
            {"delegator_identity": "a", "delegate_identity": "m"},
            {"delegator_identity": "x", "delegate_identity": "w"},
        ],
    ) == ("delegation.chain[1] delegator_identity must match delegation.chain[0].delegate_identity")
    assert (
        delegation_error(
            requester_identity="w", chain=[{"delegator_identity": "a", "delegate_identity": "m"}]
        )
        == "delegation.chain last delegate_identity must match delegation.requester_identity"
    )
    assert (
        delegation_error(
            requester_identity="w",
            chain=[
                {
                    "delegator_identity": "a",
                    "delegate_identity": "w",
                    "issued_at": "2026-02-05T00:00:00Z",
                    "expires_at": "2026-02-05T00:00:00Z",
                }
            ],
        )
        == "delegation.chain[0] expires_at must be after issued_at"
    )
    assert (
        delegation_error(
            requester_identity="w",
            issued_at="2026-02-05T00:00:00Z",
            expires_at="2026-02-04T00:00:00Z",
        )
        == "delegation.expires_at must be after issued_at"
    )


def test_times_must_be_go_rfc3339() -> None:
    for bad in ("2026-02-05", "2026-02-05t00:00:00Z", "2026-02-05T00:00:00z", "", "yesterday"):
        with pytest.raises(IntentDecodeError):
            normalize_intent(with_context(agent_identity={"issued_at": bad}))
    with pytest.raises(IntentDecodeError):
        normalize_intent(base_intent(created_at="2026-13-01T00:00:00Z"))
    with pytest.raises(IntentDecodeError):
        normalize_intent(base_intent(created_at=12))
    assert norm(base_intent(created_at=None)).created_at is None
    created = norm(base_intent(created_at="2026-02-05T10:00:00.25+02:00")).created_at
    assert created is not None
    assert created.format() == "2026-02-05T10:00:00.25+02:00"


# --------------------------------------------------------------------------------------------
# Scripts
# --------------------------------------------------------------------------------------------


def script_intent(steps: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    raw = base_intent(tool_name="tool.anything", script={"steps": steps})
    del raw["targets"]
    del raw["arg_provenance"]
    raw.update(overrides)
    return raw


READ_STEP = {
    "tool_name": " Tool.Read ",
    "args": {"path": " /tmp/in.txt "},
    "targets": [{"kind": "path", "value": "/tmp/in.txt"}],
    "arg_provenance": [{"arg_path": "$.path", "source": "user"}],
}
WRITE_STEP = {
    "tool_name": "tool.write",
    "args": {"path": "/tmp/out.txt"},
    "targets": [{"kind": "path", "value": "/tmp/out.txt"}],
}


def test_script_tool_name_targets_and_hash() -> None:
    intent = norm(script_intent([READ_STEP, WRITE_STEP]))
    assert intent.tool_name == "script"
    assert intent.script is not None
    steps = intent.script.steps
    assert [step.tool_name for step in steps] == ["tool.read", "tool.write"]
    assert steps[0].args == {"path": "/tmp/in.txt"}
    # Each step's targets are inferred with the step's own tool name.
    assert steps[0].targets[0].endpoint_class == "fs.read"
    assert steps[1].targets[0].endpoint_class == "fs.write"
    # Top-level targets and provenance are filled from the steps, deduped and sorted.
    assert [t.value for t in intent.targets] == ["/tmp/in.txt", "/tmp/out.txt"]
    assert intent.arg_provenance == (ArgProvenance("$.path", "user"),)
    expected_script = {
        "steps": [
            {
                "tool_name": "tool.read",
                "args": {"path": "/tmp/in.txt"},
                "targets": [
                    {
                        "kind": "path",
                        "value": "/tmp/in.txt",
                        "endpoint_class": "fs.read",
                        "discovery_method": "unknown",
                    }
                ],
                "arg_provenance": [{"arg_path": "$.path", "source": "user"}],
            },
            {
                "tool_name": "tool.write",
                "args": {"path": "/tmp/out.txt"},
                "targets": [
                    {
                        "kind": "path",
                        "value": "/tmp/out.txt",
                        "endpoint_class": "fs.write",
                        "discovery_method": "unknown",
                    }
                ],
            },
        ]
    }
    assert intent.script_hash == digest(expected_script)
    payload = intent.digest_payload()
    assert payload["script"] == expected_script
    assert payload["script_hash"] == intent.script_hash
    assert payload["tool_name"] == "script"


def test_script_equivalence_and_order() -> None:
    a = norm(script_intent([READ_STEP, WRITE_STEP]))
    b_read = {
        **READ_STEP,
        "targets": [*READ_STEP["targets"], {"kind": " path ", "value": " /tmp/in.txt "}],
    }
    b = norm(script_intent([b_read, WRITE_STEP], tool_name=" SCRIPT "))
    assert a.script_hash == b.script_hash
    assert a.intent_digest == b.intent_digest
    swapped = norm(script_intent([WRITE_STEP, READ_STEP]))
    assert swapped.script_hash != a.script_hash  # steps keep their order


def test_script_explicit_top_level_targets_are_kept() -> None:
    raw = script_intent([READ_STEP], targets=[{"kind": "host", "value": "example.com"}])
    intent = norm(raw)
    assert [t.kind for t in intent.targets] == ["host"]
    # Inference for top-level targets uses the forced tool name "script".
    raw = script_intent([READ_STEP], targets=[{"kind": "other", "value": "x"}])
    assert norm(raw).targets[0].endpoint_class == "other"


def test_script_step_limits() -> None:
    step = {"tool_name": "tool.read", "args": {"i": 0}}
    assert len(norm(script_intent([step])).script.steps) == 1  # type: ignore[union-attr]
    assert len(norm(script_intent([step] * 64)).script.steps) == 64  # type: ignore[union-attr]
    assert error_of(script_intent([step] * 65)) == ("script.steps exceeds max supported steps (64)")
    assert error_of(script_intent([])) == "script.steps must not be empty"
    assert error_of(base_intent(script={})) == "script.steps must not be empty"
    assert error_of(base_intent(script={"steps": None})) == "script.steps must not be empty"
    # A null script is no script at all.
    assert norm(base_intent(script=None)).script is None


def test_script_step_errors() -> None:
    assert error_of(script_intent([READ_STEP, {"tool_name": " "}])) == (
        "script.steps[1].tool_name is required"
    )
    assert error_of(script_intent([{"tool_name": "t", "args": {" ": 1}}])) == (
        "normalize script.steps[0].args: args contains empty key"
    )
    assert error_of(
        script_intent([{"tool_name": "t", "targets": [{"kind": "x", "value": "v"}]}])
    ) == ("normalize script.steps[0].targets: unsupported target kind: x")
    assert (
        error_of(
            script_intent(
                [{"tool_name": "t", "arg_provenance": [{"arg_path": "a", "source": "b"}]}]
            )
        )
        == "normalize script.steps[0].arg_provenance: unsupported provenance source: b"
    )
    # The script is normalized before tool_name and args are looked at.
    raw = script_intent([{"tool_name": ""}], tool_name="", args={"": 1})
    assert error_of(raw) == "script.steps[0].tool_name is required"


def test_script_steps_without_args_hash_empty_object() -> None:
    intent = norm(script_intent([{"tool_name": "tool.read"}]))
    assert intent.script is not None
    assert intent.script.to_json() == {"steps": [{"tool_name": "tool.read", "args": {}}]}


# --------------------------------------------------------------------------------------------
# prepare_for_evaluation (spec §2.5) and raw_risk_class
# --------------------------------------------------------------------------------------------


def test_prepare_strips_context_evidence_claims() -> None:
    raw = with_context(
        context_set_digest="a" * 64,
        context_evidence_mode="required",
        context_refs=["r1"],
        auth_context={"context_age_seconds": 5, "provider": "oidc"},
    )
    raw_intent = norm(raw)
    prepared = prepare_for_evaluation(raw_intent)
    assert prepared.context.context_set_digest == ""
    assert prepared.context.context_evidence_mode == ""
    assert prepared.context.context_refs == ()
    assert prepared.context.auth_context == {"provider": "oidc"}
    assert raw_intent.intent_digest != prepared.intent_digest
    expected = norm(with_context(auth_context={"provider": "oidc"})).intent_digest
    assert prepared.intent_digest == expected
    # Only the age: auth_context disappears.
    only_age = prepare_for_evaluation(norm(with_context(auth_context={"context_age_seconds": 1})))
    assert only_age.context.auth_context is None
    assert only_age.intent_digest == norm(base_intent()).intent_digest


def test_prepare_returns_same_object_when_nothing_to_strip() -> None:
    intent = norm(with_context(auth_context={"provider": "oidc"}))
    assert prepare_for_evaluation(intent) is intent


def test_raw_risk_class() -> None:
    assert raw_risk_class(with_context(risk_class=" HIGH ")) == "high"
    assert raw_risk_class({"Context": {"RISK_CLASS": "Critical"}, "tool_name": " "}) == "critical"
    assert raw_risk_class(with_context(workspace="")) == "high"  # normalization would fail
    assert raw_risk_class({"context": {"identity": "a"}}) == ""
    assert raw_risk_class({"context": {"risk_class": 3}}) == ""
    assert raw_risk_class({"context": "high"}) == ""
    assert raw_risk_class({}) == ""
    assert raw_risk_class([]) == ""  # type: ignore[arg-type]
    # A document Go cannot decode never gets as far as fail-closed.
    assert raw_risk_class(with_context(identity=7)) == ""


# --------------------------------------------------------------------------------------------
# parse_intent_json and decoding errors
# --------------------------------------------------------------------------------------------


def test_parse_returns_floats_like_go() -> None:
    raw = parse_intent_json(b'{"tool_name":"t","args":{"i":1,"f":1.5,"e":1e2}}')
    assert raw == {"tool_name": "t", "args": {"i": 1.0, "f": 1.5, "e": 100.0}}
    assert type(raw["args"]["i"]) is float


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{",
        b"[]",
        b"null",
        b'"x"',
        b"3",
        b'{"a":NaN}',
        b'{"a":Infinity}',
        b'{"a":-Infinity}',
        b'{"a":1e400}',
        b'{"a":' + b"9" * 400 + b"}",
        b'{"a":01}',
        b"{'a':1}",
        b'{"a":1,}',
        b'\xef\xbb\xbf{"a":1}',  # a UTF-8 byte order mark
        b'{"a":"\xff"}',  # invalid UTF-8
        b'{"a":"\xed\xa0\x80"}',  # an encoded surrogate
        b'{"a":"\x01"}',  # raw control character in a string
    ],
)
def test_parse_rejects_bad_documents(data: bytes) -> None:
    with pytest.raises(IntentDecodeError):
        parse_intent_json(data)


def test_parse_size_limit() -> None:
    padding = b" " * (MAX_INTENT_BYTES - 2)
    assert parse_intent_json(b"{" + padding + b"}") == {}
    with pytest.raises(IntentDecodeError, match="maximum size"):
        parse_intent_json(b"{" + padding + b" }")


def test_parse_depth_limit() -> None:
    def nested(depth: int) -> bytes:
        # depth counts containers: {"a": ...} is depth 1
        return b'{"a":' * depth + b"1" + b"}" * depth

    assert parse_intent_json(nested(MAX_JSON_DEPTH))
    with pytest.raises(IntentDecodeError, match="depth"):
        parse_intent_json(nested(MAX_JSON_DEPTH + 1))
    with pytest.raises(IntentDecodeError, match="depth"):
        parse_intent_json(b'{"a":' + b"[" * 100000 + b"]" * 100000 + b"}")


def test_lone_surrogate_escapes_become_replacement_characters() -> None:
    data = json.dumps(base_intent(args={"path": "\ud800x"})).encode("ascii")
    assert b"\\ud800" in data
    intent = normalize_intent(parse_intent_json(data))
    assert intent.args == {"path": "\ufffdx"}
    assert len(intent.intent_digest) == 64


def test_error_types() -> None:
    error = IntentDecodeError("x")
    assert isinstance(error, IntentError)
    assert isinstance(error, InvalidInputError)
    assert error.exit_code == ExitCode.INVALID_INPUT
    assert IntentError("y").exit_code == ExitCode.INVALID_INPUT


@pytest.mark.parametrize(
    "raw",
    [
        base_intent(tool_name=5),
        base_intent(tool_name=["tool.write"]),
        base_intent(targets={"kind": "path"}),
        base_intent(targets=["path"]),
        base_intent(targets=[{"kind": 1, "value": "/x"}]),
        base_intent(targets=[{"kind": "path", "value": "/x", "destructive": "yes"}]),
        base_intent(targets=[{"kind": "path", "value": "/x", "read_only_hint": 1}]),
        base_intent(arg_provenance={"arg_path": "x"}),
        base_intent(arg_provenance=[{"arg_path": 1, "source": "user"}]),
        base_intent(context="alice"),
        base_intent(context=[]),
        base_intent(args=[]),
        base_intent(script=[]),
        base_intent(script={"steps": {}}),
        base_intent(script={"steps": [1]}),
        base_intent(script={"steps": [{"tool_name": "t", "args": "x"}]}),
        base_intent(skill_provenance="x"),
        base_intent(delegation=[]),
        base_intent(delegation={"requester_identity": "a", "token_refs": "t"}),
        base_intent(delegation={"requester_identity": "a", "token_refs": [1]}),
        base_intent(delegation={"requester_identity": "a", "chain": {}}),
        base_intent(relationship="x"),
        base_intent(relationship={"edges": [{"from": "x"}]}),
        base_intent(producer_version=1),
        base_intent(schema_id=True),
        base_intent(created_at=False),
        with_context(identity=1),
        with_context(credential_scopes="a"),
        with_context(credential_ttl_seconds="60"),
        with_context(credential_ttl_seconds=1.5),
        with_context(credential_ttl_seconds=True),
        with_context(credential_ttl_seconds=2**63),
        with_context(auth_context=[]),
        with_context(sandbox=[]),
        with_context(sandbox={"timeout_seconds": "1"}),
        with_context(sandbox={"writable_paths": "/tmp"}),
        with_context(agent_identity="x"),
        with_context(agent_identity={"revoked": "no"}),
        with_context(agent_identity={"issued_at": 0}),
        # A wrong type is an error even when a later spelling of the key is fine.
        {**base_intent(), "TOOL_NAME": 5, "tool_name": "tool.write"},
    ],
)
def test_wrong_types_raise_decode_errors(raw: dict[str, Any]) -> None:
    with pytest.raises(IntentDecodeError, match=r"cannot unmarshal|parsing time"):
        normalize_intent(raw)


@pytest.mark.parametrize("raw", [None, [], "x", 3, True, [base_intent()]])
def test_top_level_must_be_an_object(raw: Any) -> None:
    with pytest.raises(IntentDecodeError):
        normalize_intent(raw)


def test_non_string_top_level_keys_are_errors() -> None:
    raw: dict[Any, Any] = base_intent()
    raw[1] = "x"
    with pytest.raises(IntentDecodeError):
        normalize_intent(raw)


def test_null_values_clear_or_keep_like_go() -> None:
    # null for a slice, map or pointer is "absent"; for a string or bool it changes nothing.
    intent = norm(
        base_intent(
            targets=[{"kind": "path", "value": "/x", "operation": None, "destructive": None}],
            skill_provenance=None,
            delegation=None,
            relationship=None,
        )
    )
    assert intent.targets[0].operation == ""
    assert intent.skill_provenance is None
    assert intent.delegation is None
    assert intent.relationship is None
    assert norm(with_context(credential_scopes=[None, "a"])).context.credential_scopes == ("a",)


# --------------------------------------------------------------------------------------------
# Relationship envelope (normalized, not digested)
# --------------------------------------------------------------------------------------------


def test_relationship_normalized() -> None:
    relationship = {
        "parent_ref": {"kind": " Session ", "id": " s1 "},
        "entity_refs": [
            {"kind": "tool", "id": " tool.write "},
            {"kind": "Agent", "id": "alice"},
            {"kind": "tool", "id": "tool.write"},
            {"kind": "planet", "id": "mars"},
        ],
        "policy_ref": {"policy_digest": " ABC ", "matched_rule_ids": ["r2", " r1 ", "r2"]},
        "agent_chain": [
            {"identity": "alice", "role": " Requester "},
            {"identity": "x", "role": "boss"},
        ],
        "edges": [
            {
                "kind": "calls",
                "from": {"kind": "agent", "id": "alice"},
                "to": {"kind": "tool", "id": "t"},
            },
            {
                "kind": "eats",
                "from": {"kind": "agent", "id": "alice"},
                "to": {"kind": "tool", "id": "t"},
            },
        ],
        "parent_record_id": " rec ",
        "related_record_ids": ["b", " a ", "b"],
        "agent_lineage": [{"agent_id": "a2", "delegated_by": "a1"}, {"agent_id": " "}],
    }
    intent = norm(base_intent(relationship=relationship))
    assert intent.relationship == {
        "parent_ref": {"kind": "session", "id": "s1"},
        "entity_refs": [{"kind": "agent", "id": "alice"}, {"kind": "tool", "id": "tool.write"}],
        "policy_ref": {"policy_digest": "abc", "matched_rule_ids": ["r1", "r2"]},
        "agent_chain": [{"identity": "alice", "role": "requester"}],
        "edges": [
            {
                "kind": "calls",
                "from": {"kind": "agent", "id": "alice"},
                "to": {"kind": "tool", "id": "t"},
            }
        ],
        "parent_record_id": "rec",
        "related_record_ids": ["a", "b"],
        "related_entity_ids": ["alice", "tool.write"],
        "agent_lineage": [{"agent_id": "a2", "delegated_by": "a1"}],
    }
    assert intent.intent_digest == norm(base_intent()).intent_digest
    assert (
        norm(base_intent(relationship={"parent_ref": {"kind": "x", "id": "y"}})).relationship
        is None
    )


# --------------------------------------------------------------------------------------------
# Round trip
# --------------------------------------------------------------------------------------------


def test_normalizing_the_digest_payload_again_changes_nothing() -> None:
    raw = with_context(
        agent_identity={"owner": "o", "issued_at": "2026-02-05T00:00:00+03:00"},
        sandbox={"network_mode": "full", "writable_paths": ["/tmp/a/"]},
        auth_context={"k": [" v "]},
    )
    raw["delegation"] = {
        "requester_identity": "alice",
        "chain": [{"delegator_identity": "root", "delegate_identity": "alice"}],
    }
    raw["skill_provenance"] = {"skill_name": "s", "source": "Git", "publisher": "p"}
    for source in (raw, script_intent([READ_STEP, WRITE_STEP])):
        first = norm(source)
        second = norm(first.digest_payload())
        assert second.digest_payload() == first.digest_payload()
        assert second.intent_digest == first.intent_digest
        assert second.args_digest == first.args_digest
