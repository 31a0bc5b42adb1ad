"""`gait policy fmt`: a normalized `Policy` written back as YAML.

`format_policy(policy)` is a pure function of the normalized policy, so two files that load to
the same policy format to the same text. The output:

- uses the YAML key names, never the aliases (`tool_name` and `endpoint_class` are folded into
  `tool_names` and `endpoint_classes`, `action` into `effect`, `default_action` into
  `default_verdict`), in a fixed key order;
- lists rules in evaluation order (priority, then name) and every list sorted, deduplicated,
  trimmed and lowercased the way loading does;
- spells out what normalization filled in: `schema_id`, `schema_version`, `default_verdict`,
  `priority`, the default fail-closed risk classes, rate-limit window and scope, the dataflow and
  endpoint actions, reason codes and violations, `require_distinct_approvers` when
  `min_approvals` is above 1, and the `mcp_trust` action and risk classes;
- leaves out everything else that is empty, false or zero, including whole `fail_closed`,
  `scripts`, `match`, `endpoint`, `dataflow`, `rate_limit`, `destructive_budget` and
  `mcp_trust` blocks that would hold nothing or are off, and comments (they are not part of
  the policy; `leading_comments` gives the CLI a file's header comment to keep);
- is 2-space indented block YAML with lists of strings in flow style (`[a, b]`), strings plain
  where that cannot be read as anything else and double-quoted otherwise.

Loading the output gives the same `policy_digest` and formatting it again gives the same text;
the tests hold both over every conformance policy. The reference formats with Go's YAML
marshaller instead, which writes every field of its structs, empty ones and the aliases
included; that output names features this implementation refuses, so it is not reproduced.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any, Final

from gait.policy_model import (
    MATCH_FIELDS,
    Dataflow,
    Endpoint,
    Match,
    MCPTrust,
    Policy,
    RateLimit,
    Rule,
)

__all__ = ["format_policy", "leading_comments", "policy_document"]

_INDENT: Final = "  "

# Strings written without quotes: ASCII words, paths and dotted names. Anything else (a leading
# digit, sign or dot, a YAML indicator, a colon, a hash, non-ASCII text) is double-quoted, which
# every YAML 1.1 and 1.2 reader reads back as the same string.
_PLAIN_STRING: Final = re.compile(r"[A-Za-z_/][A-Za-z0-9_./@*+~ -]*\Z")
# Version strings such as 1.0.0: no YAML reader takes two dots for a number.
_PLAIN_VERSION: Final = re.compile(r"[0-9]+(?:\.[0-9]+){2,}\Z")
# Words that some YAML reader resolves to null or a boolean (YAML 1.1 included), so never plain.
_RESERVED_WORDS: Final = frozenset({"null", "true", "false", "yes", "no", "on", "off", "y", "n"})
_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}
# Characters escaped inside double quotes: quotes and backslashes, C0 and C1 controls, DEL,
# YAML's extra line breaks (NEL, LS, PS), the BOM, lone surrogates and the two non-characters
# YAML forbids, plus no-break space and the other invisible spaces Go's TrimSpace knows.
_NEEDS_ESCAPE: Final = re.compile(
    '["\\\\\\x00-\\x1f\\x7f-\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000'
    "\\ufeff\\ud800-\\udfff\\ufffe\\uffff]"
)

# Line breaks of YAML 1.1 (and so of PyYAML) besides \n: a lone \r, NEL, LS and PS.
_OTHER_LINE_BREAKS: Final = re.compile("[\r\x85\u2028\u2029]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _ESCAPES.get(char) or f"\\u{ord(char):04x}"


def _string(text: str) -> str:
    if (
        _PLAIN_STRING.match(text) and not text.endswith(" ") and text.lower() not in _RESERVED_WORDS
    ) or _PLAIN_VERSION.match(text):
        return text
    return '"' + _NEEDS_ESCAPE.sub(_escape, text) + '"'


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # Shortest digits that read back as the same float; YAML 1.1 readers want a dot in
        # `1.0e-05`.
        text = repr(value)
        if "e" in text and "." not in text:
            mantissa, exponent = text.split("e")
            text = f"{mantissa}.0e{exponent}"
        return text
    if isinstance(value, str):
        return _string(value)
    raise TypeError(f"cannot format {type(value).__name__} in a policy")


def _is_string_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _mapping_lines(mapping: dict[str, Any], depth: int) -> Iterator[str]:
    indent = _INDENT * depth
    for key, value in mapping.items():
        if isinstance(value, dict):
            yield f"{indent}{key}:"
            yield from _mapping_lines(value, depth + 1)
        elif _is_string_list(value):
            yield f"{indent}{key}: [{', '.join(_string(item) for item in value)}]"
        elif isinstance(value, list):
            # A list of mappings (rules): each item's first key follows its "- ".
            yield f"{indent}{key}:"
            item_indent = _INDENT * (depth + 1)
            for item in value:
                lines = list(_mapping_lines(item, depth + 2))
                first = lines[0].removeprefix(_INDENT * (depth + 2))
                yield f"{item_indent}- {first}"
                yield from lines[1:]
        else:
            yield f"{indent}{key}: {_scalar(value)}"


def _put(document: dict[str, Any], key: str, value: Any) -> None:
    """Set `key` unless `value` is empty, false or zero (what must always show is set directly)."""
    if value:
        document[key] = list(value) if isinstance(value, tuple) else value


def _match_document(match: Match) -> dict[str, Any]:
    # Keys and order from the match field declarations (`Match`'s field order).
    document: dict[str, Any] = {}
    for spec in MATCH_FIELDS:
        value = getattr(match, spec.name)
        if spec.struct is not None:
            value = {
                sub.key: item
                for sub in spec.fields
                if (item := getattr(value, sub.name)) is not None
            }
        _put(document, spec.key, value)
    return document


def _endpoint_document(endpoint: Endpoint) -> dict[str, Any]:
    # A disabled endpoint block does nothing and is not part of the digest: left out whole.
    if not endpoint.enabled:
        return {}
    document: dict[str, Any] = {"enabled": True}
    _put(document, "path_allowlist", endpoint.path_allowlist)
    _put(document, "path_denylist", endpoint.path_denylist)
    _put(document, "domain_allowlist", endpoint.domain_allowlist)
    _put(document, "domain_denylist", endpoint.domain_denylist)
    _put(document, "egress_classes", endpoint.egress_classes)
    _put(document, "action", endpoint.action)
    _put(document, "destructive_action", endpoint.destructive_action)
    _put(document, "reason_code", endpoint.reason_code)
    _put(document, "violation", endpoint.violation)
    return document


def _dataflow_document(dataflow: Dataflow) -> dict[str, Any]:
    if not dataflow.enabled:
        return {}
    document: dict[str, Any] = {"enabled": True}
    _put(document, "tainted_sources", dataflow.tainted_sources)
    _put(document, "destination_kinds", dataflow.destination_kinds)
    _put(document, "destination_values", dataflow.destination_values)
    _put(document, "destination_operations", dataflow.destination_operations)
    _put(document, "action", dataflow.action)
    _put(document, "reason_code", dataflow.reason_code)
    _put(document, "violation", dataflow.violation)
    return document


def _rate_limit_document(limit: RateLimit) -> dict[str, Any]:
    # With no requests the limit is off (and out of the digest); its window and scope mean nothing.
    if limit.requests <= 0:
        return {}
    return {"requests": limit.requests, "window": limit.window, "scope": limit.scope}


def _mcp_trust_document(trust: MCPTrust) -> dict[str, Any]:
    # Off, the block is not part of the digest and does nothing: left out whole.
    if not trust.enabled:
        return {}
    document: dict[str, Any] = {"enabled": True, "snapshot": trust.snapshot, "action": trust.action}
    _put(document, "required_risk_classes", trust.required_risk_classes)
    _put(document, "min_score", trust.min_score)
    _put(document, "max_age", trust.max_age)
    _put(document, "publisher_allowlist", trust.publisher_allowlist)
    _put(document, "require_registry", trust.require_registry)
    return document


def _rule_document(rule: Rule) -> dict[str, Any]:
    # The order of the shipped templates: what the rule is, what it matches, its constraints,
    # then what it reports.
    document: dict[str, Any] = {"name": rule.name, "priority": rule.priority, "effect": rule.effect}
    _put(document, "min_approvals", rule.min_approvals)
    _put(document, "require_distinct_approvers", rule.require_distinct_approvers)
    _put(document, "match", _match_document(rule.match))
    _put(document, "endpoint", _endpoint_document(rule.endpoint))
    _put(document, "dataflow", _dataflow_document(rule.dataflow))
    _put(document, "rate_limit", _rate_limit_document(rule.rate_limit))
    _put(document, "destructive_budget", _rate_limit_document(rule.destructive_budget))
    _put(document, "reason_codes", rule.reason_codes)
    _put(document, "violations", rule.violations)
    return document


def policy_document(policy: Policy) -> dict[str, Any]:
    """The policy as the YAML document `format_policy` writes (plain dicts, lists and scalars)."""
    document: dict[str, Any] = {
        "schema_id": policy.schema_id,
        "schema_version": policy.schema_version,
        "default_verdict": policy.default_verdict,
    }
    scripts = policy.scripts
    scripts_document: dict[str, Any] = {}
    _put(scripts_document, "max_steps", scripts.max_steps)
    _put(scripts_document, "require_approval_above", scripts.require_approval_above)
    _put(scripts_document, "block_mixed_risk", scripts.block_mixed_risk)
    _put(document, "scripts", scripts_document)
    fail_closed = policy.fail_closed
    # The digest carries the fail-closed lists even when the block is disabled, so they stay.
    fail_closed_lists: dict[str, Any] = {}
    _put(fail_closed_lists, "risk_classes", fail_closed.risk_classes)
    _put(fail_closed_lists, "required_fields", fail_closed.required_fields)
    _put(fail_closed_lists, "required_high_risk_fields", fail_closed.required_high_risk_fields)
    if fail_closed.enabled or fail_closed_lists:
        document["fail_closed"] = {"enabled": fail_closed.enabled, **fail_closed_lists}
    _put(document, "mcp_trust", _mcp_trust_document(policy.mcp_trust))
    _put(document, "rules", [_rule_document(rule) for rule in policy.rules])
    return document


def format_policy(policy: Policy) -> str:
    """The normalized policy as YAML text, ending with one newline (see the module docstring)."""
    lines: Sequence[str] = list(_mapping_lines(policy_document(policy), 0))
    return "\n".join(lines) + "\n"


def leading_comments(text: str) -> str:
    """The comment lines at the top of a policy file (blank lines among them kept, trailing
    spaces and blank lines dropped), each ending with a newline; "" when it starts otherwise.

    `gait policy fmt` keeps this header: it is where a policy says what it is for, and losing it
    on every `--write` would teach people not to run the formatter.
    """
    header: list[str] = []
    for line in text.removeprefix("\ufeff").split("\n"):
        stripped = line.strip(" \t\r")
        if stripped and not stripped.startswith("#"):
            break
        if _OTHER_LINE_BREAKS.search(stripped):
            # A break some YAML readers honour would end the comment early: keep no more.
            break
        header.append(stripped)
    while header and not header[-1]:
        header.pop()
    while header and not header[0]:
        header.pop(0)
    return "".join(line + "\n" for line in header)
