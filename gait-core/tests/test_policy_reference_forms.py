"""Policies as the reference writes them: zero-valued keys of refused features, and integers past
float64's exact range, which the reference digests as float64."""

from __future__ import annotations

import pytest

from gait.canonical import canonical_json
from gait.policy import PolicyError, parse_policy

ZERO_VALUED = """
default_verdict: allow
default_action: ""
mcp_trust: {enabled: false, snapshot: "", publisher_allowlist: []}
rules:
  - name: r
    effect: block
    require_broker_credential: false
    broker_scopes: []
    max_credential_ttl_seconds: 0
    freeze_window: {enabled: false, windows: []}
    match: {tool_names: [tool.x], require_delegation: false, delegation_scopes: []}
"""


def test_zero_valued_refused_keys_are_absent() -> None:
    plain = "default_verdict: allow\nrules:\n  - name: r\n    effect: block\n"
    plain += "    match: {tool_names: [tool.x]}\n"
    assert parse_policy(ZERO_VALUED).digest == parse_policy(plain).digest


@pytest.mark.parametrize(
    "line",
    [
        "    require_broker_credential: true",
        "    broker_scopes: [write]",
        "    freeze_window: {enabled: false, windows: [{start: x, end: y}]}",
        "    match: {max_delegation_depth: 0}",
    ],
)
def test_a_set_refused_key_still_refuses(line: str) -> None:
    text = f"default_verdict: allow\nrules:\n  - name: r\n    effect: block\n{line}\n"
    with pytest.raises(PolicyError, match="unsupported feature"):
        parse_policy(text)


def test_integers_beyond_float64_precision_digest_like_the_reference() -> None:
    assert canonical_json({"p": 2**53 + 1}) == b'{"p":9007199254740992}'
    template = "default_verdict: allow\nrules:\n  - name: r\n    priority: {}\n    effect: block\n"
    assert (
        parse_policy(template.format(2**53 + 1)).digest
        == parse_policy(template.format(2**53)).digest
    )
