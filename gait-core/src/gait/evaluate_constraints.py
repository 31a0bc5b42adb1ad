"""The per-rule constraints (spec §5.3) a matched rule may carry: dataflow (tainted input
flowing to a destination) and endpoint (path and domain allow/deny lists, egress classes,
destructive operations). Pure functions of a rule's constraint and the targets it is checked
against; `gait.evaluate_rules` applies them to each matched rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Final

from gait.evaluate_result import stricter
from gait.globmatch import BadPatternError, path_match
from gait.gostrings import go_lower, go_trim_space
from gait.intent_targets import ArgProvenance, Target
from gait.policy_model import Dataflow, Endpoint

_DEFAULT_EGRESS_KINDS: Final = frozenset({"host", "url", "bucket", "queue", "topic"})


def dataflow_matches(
    dataflow: Dataflow, targets: Sequence[Target], provenance: Sequence[ArgProvenance]
) -> bool:
    """Whether tainted input (by provenance source) flows to a destination the rule names
    (by default: any egress kind)."""
    tainted = dataflow.tainted_sources
    if not any(entry.source in tainted for entry in provenance):
        return False
    if not targets:
        return False
    kinds, values, operations = (
        dataflow.destination_kinds,
        dataflow.destination_values,
        dataflow.destination_operations,
    )
    if not kinds and not values and not operations:
        return any(target.kind in _DEFAULT_EGRESS_KINDS for target in targets)
    for target in targets:
        if kinds and target.kind not in kinds:
            continue
        if values and target.value not in values:
            continue
        if operations and target.operation not in operations:
            continue
        return True
    return False


def _path_matches(value: str, pattern: str) -> bool:
    if not pattern:
        return False
    value = go_trim_space(value)
    pattern = go_trim_space(pattern)
    if pattern == value:
        return True
    if pattern.endswith("/**"):
        prefix = pattern[:-3]
        if value == prefix or value.startswith(prefix + "/"):
            return True
    try:
        return path_match(pattern, value)
    except BadPatternError:
        return False


def _domain_matches(value: str, patterns: Iterable[str]) -> bool:
    value = go_lower(go_trim_space(value))
    for raw_pattern in patterns:
        pattern = go_lower(go_trim_space(raw_pattern))
        if not pattern:
            continue
        if value == pattern:
            return True
        if pattern.startswith("*.") and value.endswith(pattern[1:]):
            return True
        try:
            if path_match(pattern, value):
                return True
        except BadPatternError:
            continue
    return False


def endpoint_outcome(
    endpoint: Endpoint, targets: Sequence[Target], destructive: bool
) -> tuple[str, list[str], list[str]] | None:
    """(effect, reasons, violations) of the endpoint constraint, or None when nothing in it
    applies."""
    reasons: list[str] = []
    violations: list[str] = []

    def flag(code: str) -> None:
        reasons.append(code)
        violations.append(code)

    for target in targets:
        if target.kind == "path":
            path = go_trim_space(target.value)
            if endpoint.path_denylist and any(
                _path_matches(path, pattern) for pattern in endpoint.path_denylist
            ):
                flag("endpoint_path_denied")
            if endpoint.path_allowlist and not any(
                _path_matches(path, pattern) for pattern in endpoint.path_allowlist
            ):
                flag("endpoint_path_not_allowlisted")
        domain = go_lower(go_trim_space(target.endpoint_domain))
        if domain:
            if endpoint.domain_denylist and _domain_matches(domain, endpoint.domain_denylist):
                flag("endpoint_domain_denied")
            if endpoint.domain_allowlist and not _domain_matches(domain, endpoint.domain_allowlist):
                flag("endpoint_domain_not_allowlisted")
        endpoint_class = target.endpoint_class
        if (
            endpoint.egress_classes
            and endpoint_class.startswith("net.")
            and endpoint_class not in endpoint.egress_classes
        ):
            flag("endpoint_egress_class_not_allowed")
    effect = endpoint.action or "block"
    if endpoint.destructive_action and destructive:
        effect = stricter(effect, endpoint.destructive_action)
        reasons.append("endpoint_destructive_operation")
        violations.append("destructive_operation")
    if not reasons:
        return None
    if endpoint.reason_code:
        reasons.append(endpoint.reason_code)
    if endpoint.violation:
        violations.append(endpoint.violation)
    return effect, reasons, violations
