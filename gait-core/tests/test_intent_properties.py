"""Property tests for intent normalization (spec gate.md §2)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gait.intent import (
    IntentError,
    NormalizedIntent,
    go_trim_space,
    normalize_intent,
    parse_intent_json,
    prepare_for_evaluation,
    raw_risk_class,
)
from gait.strictjson import fold

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

# ---- building blocks ---------------------------------------------------------------------------

SPACES = st.sampled_from(["", " ", "\t", "\u00a0", "\u3000", "\n "])
WEIRD_TEXT = st.text(
    alphabet=st.characters(codec="utf-8"),
    max_size=12,
)


@st.composite
def padded(draw: st.DrawFn, values: st.SearchStrategy[str]) -> str:
    """A value with random surrounding whitespace and random letter case."""
    value = draw(values)
    if draw(st.booleans()):
        value = value.upper()
    return draw(SPACES) + value + draw(SPACES)


def word(*choices: str) -> st.SearchStrategy[str]:
    return padded(st.sampled_from(choices))


TOOL_NAMES = word(
    "tool.write",
    "tool.read",
    "tool.exec",
    "tool.delete",
    "fs.write_file",
    "mcp.github.create_issue",
    "x/tool.search",
    "tool.prune",
)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | WEIRD_TEXT
)
ARG_KEYS = WEIRD_TEXT.filter(lambda key: go_trim_space(key) != "")


def unambiguous(objects: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    """Objects the JSON boundary accepts: no two keys equal under Go's case folding
    (gait.strictjson refuses such a pair, docs/compatibility.md)."""
    return objects.filter(lambda obj: len({fold(key) for key in obj}) == len(obj))


JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda children: (
        st.lists(children, max_size=4)
        | unambiguous(st.dictionaries(ARG_KEYS, children, max_size=4))
    ),
    max_leaves=12,
)
ARGS = unambiguous(st.dictionaries(ARG_KEYS, JSON_VALUES, max_size=4))
VALUES = padded(
    st.sampled_from(
        [
            "/tmp/out.txt",
            "/etc/passwd",
            "api.github.com",
            "https://internal.corp:443/path",
            "http://Evil.example.com:8080/x",
            "https://[::1]:99/",
            "rm -rf /",
            "org/repo",
            "s3://data",
        ]
    )
    | WEIRD_TEXT.filter(lambda text: go_trim_space(text) != "")
)
TIMES = st.sampled_from(
    [
        "2026-02-05T00:00:00Z",
        "2026-02-05T01:00:00.5+01:00",
        "2026-02-06T00:00:00.123456789Z",
        "2026-03-01T00:00:00-05:00",
        "0001-01-01T00:00:00Z",
    ]
)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def drop_none(mapping: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in mapping.items() if value is not None}


@st.composite
def targets(draw: st.DrawFn) -> dict[str, Any]:
    target = {
        "kind": draw(
            word("path", "url", "host", "repo", "bucket", "table", "queue", "topic", "other")
        ),
        "value": draw(VALUES),
        "operation": draw(
            optional(word("read", "write", "delete", "exec", "dns", "run", "list", "post", ""))
        ),
        "sensitivity": draw(optional(word("pii", "public", "internal"))),
        "endpoint_class": draw(optional(word("fs.read", "net.http", "proc.exec", "other", ""))),
        "endpoint_domain": draw(optional(word("Example.com", ""))),
        "discovery_method": draw(optional(word("mcp", "static-mcp", "dynamic mcp", "manual", ""))),
    }
    for flag in (
        "destructive",
        "read_only_hint",
        "destructive_hint",
        "idempotent_hint",
        "open_world_hint",
    ):
        target[flag] = draw(optional(st.booleans()))
    return drop_none(target)


@st.composite
def provenance(draw: st.DrawFn) -> dict[str, Any]:
    return drop_none(
        {
            "arg_path": draw(word("$.path", "args.payload", "$.x")),
            "source": draw(word("user", "tool_output", "external", "system")),
            "source_ref": draw(optional(word("trace_1", "", "ref"))),
            "integrity_digest": draw(optional(st.sampled_from(["a" * 64, "B" * 64, ""]))),
        }
    )


@st.composite
def agent_identities(draw: st.DrawFn) -> dict[str, Any]:
    issued, approved, expires = sorted(
        draw(st.lists(st.integers(1, 20), min_size=3, max_size=3, unique=True))
    )

    def time_of(hour: int) -> str:
        return f"2026-02-05T{hour:02d}:00:00Z"

    return drop_none(
        {
            "lifecycle_states": draw(
                optional(st.lists(word("active", "approved", " "), max_size=3))
            ),
            "owner": draw(optional(word("platform", ""))),
            "manifest_digest": draw(optional(st.sampled_from(["c" * 64, "C" * 64]))),
            "publisher": draw(optional(word("Acme"))),
            "source": draw(optional(word("Registry"))),
            "issued_at": draw(optional(st.just(time_of(issued)))),
            "approved_at": draw(optional(st.just(time_of(approved)))),
            "expires_at": draw(optional(st.just(time_of(expires)))),
            "revoked": draw(optional(st.booleans())),
        }
    )


@st.composite
def sandboxes(draw: st.DrawFn) -> dict[str, Any]:
    paths = st.lists(
        padded(st.sampled_from(["/tmp/a", "/tmp/a/", "./x", "/a/../b", ".", ""])), max_size=3
    )
    return drop_none(
        {
            "network_mode": draw(optional(word("disabled", "egress_allowlist", "full"))),
            "writable_paths": draw(optional(paths)),
            "read_only_roots": draw(optional(paths)),
            "env_exposure_mode": draw(optional(word("none", "allowlist"))),
            "timeout_seconds": draw(optional(st.integers(0, 2**62))),
            "filesystem_isolation": draw(optional(word("container", "workspace"))),
            "user_mode": draw(optional(word("root", "unprivileged"))),
            "evidence_ref": draw(optional(word("sandbox:receipt:1", "r1"))),
            "evidence_digest": draw(optional(st.sampled_from(["d" * 64, ""]))),
        }
    )


@st.composite
def contexts(draw: st.DrawFn) -> dict[str, Any]:
    context = {
        "identity": draw(word("alice", "agent.scenario")),
        "workspace": draw(word("/repo/gait", "C:\\repo\\gait")),
        "risk_class": draw(word("low", "medium", "high", "critical", "custom")),
        "phase": draw(optional(word("plan", "apply", ""))),
        "session_id": draw(optional(word("s1", ""))),
        "agent_id": draw(optional(word("agent.1"))),
        "credential_source": draw(optional(word("env", "github_pat", ""))),
        "credential_access_type": draw(optional(word("jit", "standing"))),
        "credential_ttl_seconds": draw(optional(st.integers(0, 2**62))),
        "credential_scopes": draw(optional(st.lists(word("a", "b", " "), max_size=3))),
        "context_refs": draw(optional(st.lists(word("r1", "r2"), max_size=3))),
        "context_set_digest": draw(optional(st.sampled_from(["e" * 64, "E" * 64, ""]))),
        "context_evidence_mode": draw(optional(word("best_effort", "required"))),
        "auth_context": draw(
            optional(
                st.dictionaries(
                    st.sampled_from(["provider", "context_age_seconds", "claims"]),
                    JSON_VALUES,
                    max_size=3,
                )
            )
        ),
        "agent_identity": draw(optional(agent_identities())),
        "sandbox": draw(optional(sandboxes())),
    }
    return drop_none(context)


@st.composite
def delegations(draw: st.DrawFn) -> dict[str, Any]:
    people = draw(st.lists(word("root", "lead", "worker"), min_size=1, max_size=3))
    chain = [
        {
            "delegator_identity": "origin" if index == 0 else people[index - 1],
            "delegate_identity": who,
        }
        for index, who in enumerate(people)
    ]
    return drop_none(
        {
            "requester_identity": people[-1],
            "scope_class": draw(optional(word("write", ""))),
            "token_refs": draw(optional(st.lists(word("t1", "t2", ""), max_size=3))),
            "chain": chain if draw(st.booleans()) else None,
            "issued_at": draw(optional(st.just("2026-02-05T00:00:00Z"))),
            "expires_at": draw(optional(st.just("2026-02-06T00:00:00+02:00"))),
        }
    )


@st.composite
def steps(draw: st.DrawFn) -> dict[str, Any]:
    return drop_none(
        {
            "tool_name": draw(TOOL_NAMES),
            "args": draw(optional(ARGS)),
            "targets": draw(optional(st.lists(targets(), max_size=2))),
            "arg_provenance": draw(optional(st.lists(provenance(), max_size=2))),
        }
    )


@st.composite
def intents(draw: st.DrawFn) -> dict[str, Any]:
    intent = {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": draw(TIMES),
        "producer_version": "0.0.0-test",
        "tool_name": draw(TOOL_NAMES),
        "args": draw(optional(ARGS)),
        "targets": draw(optional(st.lists(targets(), max_size=3))),
        "arg_provenance": draw(optional(st.lists(provenance(), max_size=2))),
        "skill_provenance": draw(
            optional(
                st.fixed_dictionaries(
                    {
                        "skill_name": word("s"),
                        "source": word("git", "Registry"),
                        "publisher": word("Acme"),
                    }
                )
            )
        ),
        "delegation": draw(optional(delegations())),
        "script": draw(
            optional(st.fixed_dictionaries({"steps": st.lists(steps(), min_size=1, max_size=3)}))
        ),
        "relationship": draw(optional(st.fixed_dictionaries({"parent_record_id": word("r")}))),
        "context": draw(contexts()),
    }
    return drop_none(intent)


def normalize_or_skip(raw: Any) -> NormalizedIntent:
    try:
        return normalize_intent(raw)
    except IntentError:
        assume(False)
        raise


# ---- properties --------------------------------------------------------------------------------


@SETTINGS
@given(intents())
def test_normalizing_the_normalized_form_changes_nothing(raw: dict[str, Any]) -> None:
    first = normalize_or_skip(raw)
    payload = first.digest_payload()
    second = normalize_intent(json.loads(json.dumps(payload)))
    assert second.digest_payload() == payload
    assert second.canonical_bytes == first.canonical_bytes
    assert second.intent_digest == first.intent_digest
    assert second.args_digest == first.args_digest
    assert second.script_hash == first.script_hash
    # The canonical bytes through the byte parser as well (every number a float).
    third = normalize_intent(parse_intent_json(first.canonical_bytes))
    assert third.intent_digest == first.intent_digest


@SETTINGS
@given(intents())
def test_prepare_is_idempotent_and_strips_claims(raw: dict[str, Any]) -> None:
    prepared = prepare_for_evaluation(normalize_or_skip(raw))
    assert prepare_for_evaluation(prepared) is prepared
    context = prepared.context
    assert context.context_set_digest == ""
    assert context.context_evidence_mode == ""
    assert context.context_refs == ()
    assert not context.auth_context or "context_age_seconds" not in context.auth_context
    again = prepare_for_evaluation(normalize_intent(prepared.digest_payload()))
    assert again.intent_digest == prepared.intent_digest


@SETTINGS
@given(intents(), st.randoms(use_true_random=False))
def test_order_and_duplicates_do_not_change_the_digest(raw: dict[str, Any], rng: Any) -> None:
    first = normalize_or_skip(raw)
    shuffled = json.loads(json.dumps(raw))
    for key in ("targets", "arg_provenance"):
        items = shuffled.get(key)
        if items:
            items.append(dict(rng.choice(items)))
            rng.shuffle(items)
    shuffled = dict(reversed(list(shuffled.items())))
    assert normalize_intent(shuffled).intent_digest == first.intent_digest


def paths_of(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found.extend(paths_of(item, (*prefix, key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found.extend(paths_of(item, (*prefix, index)))
    return found


def replace_at(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {**value, head: replace_at(value[head], rest, new)}
    copy = list(value)
    copy[head] = replace_at(copy[head], rest, new)
    return copy


FIELD_NAMES = st.sampled_from(
    [
        "tool_name",
        "TOOL_NAME",
        "args",
        "targets",
        "Targets",
        "arg_provenance",
        "script",
        "steps",
        "context",
        "Context",
        "risk_class",
        "identity",
        "workspace",
        "kind",
        "value",
        "delegation",
        "chain",
        "sandbox",
        "agent_identity",
        "issued_at",
        "credential_ttl_seconds",
        "timeout_seconds",
        "auth_context",
        "relationship",
        "edges",
        "from",
    ]
)
ANY_JSON = st.recursive(
    JSON_SCALARS | st.floats() | st.integers(),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(FIELD_NAMES | WEIRD_TEXT, children, max_size=5)
    ),
    max_leaves=20,
)


def check_only_intent_errors(raw: Any) -> None:
    try:
        intent = normalize_intent(raw)
    except IntentError:
        pass
    else:
        assert len(intent.intent_digest) == 64
        assert len(intent.args_digest) == 64
        assert len(prepare_for_evaluation(intent).intent_digest) == 64
        intent.digest_payload()
    assert isinstance(raw_risk_class(raw), str)


@SETTINGS
@given(ANY_JSON)
def test_arbitrary_json_raises_only_intent_errors(raw: Any) -> None:
    check_only_intent_errors(raw)


@SETTINGS
@given(intents(), ANY_JSON, st.data())
def test_mutated_intents_raise_only_intent_errors(
    raw: dict[str, Any], replacement: Any, data: st.DataObject
) -> None:
    path = data.draw(st.sampled_from(paths_of(raw)))
    check_only_intent_errors(replace_at(raw, path, replacement))


@SETTINGS
@given(st.binary(max_size=200) | ANY_JSON.map(lambda value: json.dumps(value).encode("utf-8")))
def test_arbitrary_bytes_raise_only_intent_errors(data: bytes) -> None:
    try:
        raw = parse_intent_json(data)
    except IntentError:
        return
    check_only_intent_errors(raw)
