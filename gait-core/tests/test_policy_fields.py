"""Match fields are declared once (`gait.policy_model.match_field`); everything else derives."""

from __future__ import annotations

import attrs

from gait.policy import FACT_COUNT, INDEX_DIMENSIONS, MATCH_FIELDS, Match, parse_policy
from gait.policy_decode import _MATCH_SCHEMA
from gait.policy_format import format_policy
from gait.policy_index import compile_policy
from gait.policy_model import MatchField, match_digest_payload


def _leaves() -> list[MatchField]:
    return [sub for spec in MATCH_FIELDS for sub in (spec.fields or (spec,))]


def test_every_match_attribute_is_declared_and_every_declaration_is_consistent() -> None:
    assert [spec.name for spec in MATCH_FIELDS] == [field.name for field in attrs.fields(Match)]
    keys = [spec.key for spec in MATCH_FIELDS]
    gos = [spec.go for spec in _leaves()]
    assert len(set(keys)) == len(keys) and len(set(gos)) == len(gos)
    for spec in _leaves():
        assert spec.fact is not None and 0 <= spec.fact < FACT_COUNT
        assert spec.fact in INDEX_DIMENSIONS
    for spec in MATCH_FIELDS:
        assert spec.key in _MATCH_SCHEMA
        for alias, _ in spec.aliases:
            assert alias in _MATCH_SCHEMA


def test_a_policy_setting_every_match_field_round_trips_through_all_derived_forms() -> None:
    lines = []
    for spec in MATCH_FIELDS:
        if spec.struct is not None:
            hints = ", ".join(f"{sub.key}: true" for sub in spec.fields)
            lines.append(f"      {spec.key}: {{{hints}}}")
        elif spec.allowed is not None:
            lines.append(f"      {spec.key}: [{sorted(spec.allowed)[0]}]")
        else:
            lines.append(f"      {spec.key}: [Value-{spec.name}]")
    text = (
        "schema_id: gait.gate.policy\nschema_version: 1.0.0\nrules:\n  - name: r\n"
        "    effect: block\n    match:\n" + "\n".join(lines) + "\n"
    )
    policy = parse_policy(text)
    match = policy.rules[0].match
    payload = match_digest_payload(match)
    for spec in MATCH_FIELDS:
        value = getattr(match, spec.name)
        assert value not in ((), None), spec.name
        assert spec.go in payload
        if spec.struct is None and spec.allowed is None:
            expected = f"Value-{spec.name}"
            assert value == ((expected.lower(),) if spec.lower else (expected,))
    # Formatting and reading back gives the same policy (and digest).
    assert parse_policy(format_policy(policy)) == policy
    # Every constrained field becomes one criterion of the compiled rule (prefixes aside).
    compiled = compile_policy(policy, indexed=False).rules[0]
    expected_checks = sum(
        len(spec.fields) if spec.struct is not None else (not spec.prefix) for spec in MATCH_FIELDS
    )
    assert len(compiled.checks) == expected_checks
    assert compiled.workspace_prefixes == match.workspace_prefixes
