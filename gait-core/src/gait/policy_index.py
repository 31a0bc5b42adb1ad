"""The compiled form of a policy: match criteria as set tests over intent facts, and an index.

Each rule is indexed under its most selective criterion (tool name first, then identity, target
value, workspace prefix, ..., tool annotation hints last), so a decision walks only the rules
whose indexed criterion the intent meets, in (priority, name) order. Rules with no criterion at
all are checked for every intent. The criteria come from the match field declarations
(`MATCH_FIELDS`), the facts from `gait.policy_facts`.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from gait import limits
from gait.errors import InvalidInputError
from gait.gostrings import go_lower
from gait.policy_facts import (
    FACT_DESTRUCTIVE_HINT,
    FACT_IDEMPOTENT_HINT,
    FACT_OPEN_WORLD_HINT,
    FACT_READ_ONLY_HINT,
    FACT_TOOL_NAME,
    FACT_WORKSPACE,
    INDEX_DIMENSIONS,
)
from gait.policy_model import MATCH_FIELDS, Policy, PolicyError, Rule
from gait.policy_normalize import parse_policy

__all__ = [
    "INDEX_DIMENSIONS",
    "CompiledPolicy",
    "CompiledRule",
    "compile_policy",
    "load_policy",
    "load_policy_file",
    "sanitize_rule_name",
]

# --------------------------------------------------------------------------------------------
# Rule names in reason codes
# --------------------------------------------------------------------------------------------

_GO_JSON_ESCAPES: Final = {
    '"': '\\"',
    "\\": "\\\\",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\b": "\\b",
    "\f": "\\f",
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}
# What Go's HTML-safe json.Marshal escapes. Compiled (by `re`) on first use: most rule names are
# printable ASCII without any of `_ESCAPED_ASCII`, which needs no escaping (start-up budget).
_GO_JSON_NEEDS_ESCAPE: Final = '["\\\\<>&\\x00-\\x1f\u2028\u2029\ud800-\udfff]'
_ESCAPED_ASCII: Final = frozenset('"\\<>&')


def _go_json_escape_char(match: re.Match[str]) -> str:
    char = match.group()
    escaped = _GO_JSON_ESCAPES.get(char)
    if escaped is not None:
        return escaped
    if "\ud800" <= char <= "\udfff":
        return "\\ufffd"
    return f"\\u{ord(char):04x}"


def sanitize_rule_name(name: str) -> str:
    """The suffix of `matched_rule_<name>`.

    Go: json.Marshal (HTML-safe escaping), outer quotes trimmed, spaces and `-` → `_`, lowercase.
    """
    if name == "":
        return "rule"
    if name.isascii() and name.isprintable() and _ESCAPED_ASCII.isdisjoint(name):
        escaped = name
    else:
        escaped = re.sub(_GO_JSON_NEEDS_ESCAPE, _go_json_escape_char, name)
    encoded = '"' + escaped + '"'
    clean = encoded.strip('"').replace(" ", "_").replace("-", "_")
    return go_lower(clean)


_INDEX_RANK: Final = {fact: rank for rank, fact in enumerate(INDEX_DIMENSIONS)}
_HINT_FACTS: Final = frozenset(
    {FACT_READ_ONLY_HINT, FACT_DESTRUCTIVE_HINT, FACT_IDEMPOTENT_HINT, FACT_OPEN_WORLD_HINT}
)
_MAX_CACHED_CANDIDATE_LISTS: Final = 4096


def _index_rank(criterion: tuple[int, frozenset[Any]]) -> tuple[bool, int]:
    """How selective a criterion is as an index key (lower is more selective).

    Targets rarely carry a hint, so a hint that must be false selects almost every intent: such
    a criterion comes after all others.
    """
    fact, allowed = criterion
    return fact in _HINT_FACTS and True not in allowed, _INDEX_RANK[fact]


@attrs.frozen
class CompiledRule:
    """A rule with its match criteria as (fact index, allowed values) set tests.

    `checks` are the criteria left to test once the rule was found through its index bucket
    (`index_fact`, or None for a residual rule, which keeps all its checks).
    """

    rule: Rule
    position: int
    checks: tuple[tuple[int, frozenset[Any]], ...]
    workspace_prefixes: tuple[str, ...]
    reasons: tuple[str, ...]
    has_constraints: bool
    index_fact: int | None
    index_values: frozenset[Any]


def _rule_checks(rule: Rule) -> list[tuple[int, frozenset[Any]]]:
    """The rule's set tests, one per constrained match field (`MATCH_FIELDS`), prefix ones aside."""
    match = rule.match
    checks: list[tuple[int, frozenset[Any]]] = []
    for spec in MATCH_FIELDS:
        value = getattr(match, spec.name)
        if spec.struct is not None:
            for sub in spec.fields:
                hint = getattr(value, sub.name)
                if hint is not None and sub.fact is not None:
                    checks.append((sub.fact, frozenset((hint,))))
        elif value and spec.fact is not None and not spec.prefix:
            checks.append((spec.fact, frozenset(value)))
    return checks


def _rule_prefixes(rule: Rule) -> tuple[str, ...]:
    """The rule's prefix criteria (only `workspace_prefixes` is one, on FACT_WORKSPACE)."""
    return tuple(prefix for spec in _PREFIX_FIELDS for prefix in getattr(rule.match, spec.name))


_PREFIX_FIELDS: Final = tuple(spec for spec in MATCH_FIELDS if spec.prefix)
assert all(spec.fact == FACT_WORKSPACE for spec in _PREFIX_FIELDS)


def _compile_rule(rule: Rule, position: int, *, indexed: bool) -> CompiledRule:
    checks = _rule_checks(rule)
    prefixes = _rule_prefixes(rule)
    index_fact: int | None = None
    index_values: frozenset[Any] = frozenset()
    criteria = [*checks, (FACT_WORKSPACE, frozenset(prefixes))] if prefixes else checks
    if indexed and criteria:
        index_fact, index_values = min(criteria, key=_index_rank)
        if index_fact == FACT_WORKSPACE:
            prefixes = ()
        else:
            checks.remove((index_fact, index_values))
    reasons = rule.reason_codes or ("matched_rule_" + sanitize_rule_name(rule.name),)
    return CompiledRule(
        rule=rule,
        position=position,
        checks=tuple(checks),
        workspace_prefixes=prefixes,
        reasons=reasons,
        has_constraints=rule.dataflow.enabled or rule.endpoint.enabled,
        index_fact=index_fact,
        index_values=index_values,
    )


def _position(compiled: CompiledRule) -> int:
    return compiled.position


@attrs.frozen
class CompiledPolicy:
    """A policy ready for evaluating many intents.

    Each rule sits in index buckets keyed by (dimension, value) (see INDEX_DIMENSIONS), or in
    `residual`. `candidates(fact)` returns, in the policy's (priority, name) order, exactly the
    rules whose indexed criterion the intent satisfies plus the residual ones, so a decision only
    walks rules that can match. `fact(dimension)` gives the intent's values for a dimension.
    Merged lists are cached per combination of bucket keys the intent hits.
    `prefix_lengths` are the lengths of the workspace prefixes that key buckets: a workspace
    reaches the buckets of its own prefixes of those lengths.
    """

    policy: Policy
    digest: str
    rules: tuple[CompiledRule, ...]
    residual: tuple[CompiledRule, ...]
    index: Mapping[int, Mapping[Any, tuple[CompiledRule, ...]]]
    dimensions: tuple[int, ...]
    prefix_lengths: tuple[int, ...]
    _cache: dict[Any, tuple[CompiledRule, ...]] = attrs.field(factory=dict, eq=False, repr=False)

    def candidates(self, fact: Callable[[int], Iterable[Any]]) -> tuple[CompiledRule, ...]:
        dimensions = self.dimensions
        if not dimensions:
            return self.residual
        if len(dimensions) == 1 and dimensions[0] == FACT_TOOL_NAME:
            # The common shape: only tool names are indexed; the key is the tool name.
            (tool_name,) = fact(FACT_TOOL_NAME)
            key: Any = tool_name if tool_name in self.index[FACT_TOOL_NAME] else None
        else:
            key = tuple(self._bucket_keys(dimension, fact) for dimension in dimensions)
        cached = self._cache.get(key)
        if cached is not None:
            return cached
        merged = self._merge(fact)
        if len(self._cache) >= _MAX_CACHED_CANDIDATE_LISTS:
            self._cache.clear()
        self._cache[key] = merged
        return merged

    def _bucket_keys(self, dimension: int, fact: Callable[[int], Iterable[Any]]) -> frozenset[Any]:
        """The keys of the buckets of `dimension` that the intent reaches."""
        buckets = self.index[dimension]
        if dimension == FACT_WORKSPACE:
            return frozenset(
                prefix
                for workspace in fact(dimension)
                for length in self.prefix_lengths
                if (prefix := workspace[:length]) in buckets
            )
        return frozenset(value for value in fact(dimension) if value in buckets)

    def _merge(self, fact: Callable[[int], Iterable[Any]]) -> tuple[CompiledRule, ...]:
        lists: list[tuple[CompiledRule, ...]] = [self.residual]
        for dimension in self.dimensions:
            buckets = self.index[dimension]
            lists.extend(buckets[key] for key in self._bucket_keys(dimension, fact))
        if len(lists) == 1:
            return self.residual
        merged: list[CompiledRule] = []
        last = -1
        for compiled in heapq.merge(*lists, key=_position):
            if compiled.position != last:  # a rule may sit in several buckets of one dimension
                merged.append(compiled)
                last = compiled.position
        return tuple(merged)


def compile_policy(policy: Policy, *, indexed: bool = True) -> CompiledPolicy:
    """Index a normalized policy for fast evaluation.

    `indexed=False` keeps every rule residual, so each decision scans all rules in order: the
    plain reference semantics, kept for tests that prove the index changes no decision.
    """
    compiled: list[CompiledRule] = []
    residual: list[CompiledRule] = []
    index: dict[int, dict[Any, list[CompiledRule]]] = {}
    for position, rule in enumerate(policy.rules):
        entry = _compile_rule(rule, position, indexed=indexed)
        compiled.append(entry)
        if entry.index_fact is None:
            residual.append(entry)
            continue
        buckets = index.setdefault(entry.index_fact, {})
        for value in entry.index_values:
            buckets.setdefault(value, []).append(entry)
    return CompiledPolicy(
        policy=policy,
        digest=policy.digest,
        rules=tuple(compiled),
        residual=tuple(residual),
        index={
            fact: {value: tuple(entries) for value, entries in buckets.items()}
            for fact, buckets in index.items()
        },
        dimensions=tuple(fact for fact in INDEX_DIMENSIONS if fact in index),
        prefix_lengths=tuple(sorted({len(prefix) for prefix in index.get(FACT_WORKSPACE, ())})),
    )


def load_policy(data: bytes | str) -> CompiledPolicy:
    """Policy YAML → a compiled policy (PolicyError when it cannot be used)."""
    return compile_policy(parse_policy(data))


def load_policy_file(path: str | Path) -> CompiledPolicy:
    """Read, parse and compile a policy file (a regular file of at most MAX_POLICY_BYTES)."""
    from gait.fsutil import read_regular_file

    try:
        data = read_regular_file(path, limits.MAX_POLICY_BYTES, what="policy")
    except InvalidInputError as exc:
        raise PolicyError(f"read policy: {exc}") from exc
    return load_policy(data)
