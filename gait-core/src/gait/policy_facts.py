"""Intent facts a policy's match criteria test, by index, with how each is read off an intent.

A match field declaration (`gait.policy_model.match_field`) names the fact it tests; the compiled
policy keeps (fact index, allowed values) set tests, and evaluation computes each fact lazily,
once per intent, with `FACT_BUILDERS[index](subject)`. A subject has `tool_name`, `context`,
`targets`, `provenance` and `skill` (`gait.evaluate_rules.Subject`). A new match field over an
existing fact needs no change here; a new fact is one index, one builder and its rank in
`INDEX_DIMENSIONS`, all here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from gait.gostrings import go_lower, go_trim_space

__all__ = [
    "FACT_BUILDERS",
    "FACT_COUNT",
    "FACT_DESTRUCTIVE_HINT",
    "FACT_DISCOVERY_METHOD",
    "FACT_ENDPOINT_CLASS",
    "FACT_IDEMPOTENT_HINT",
    "FACT_IDENTITY",
    "FACT_OPEN_WORLD_HINT",
    "FACT_OPERATION",
    "FACT_PROVENANCE_SOURCE",
    "FACT_READ_ONLY_HINT",
    "FACT_RISK_CLASS",
    "FACT_SENSITIVITY",
    "FACT_SKILL_PUBLISHER",
    "FACT_SKILL_SOURCE",
    "FACT_TARGET_KIND",
    "FACT_TARGET_VALUE",
    "FACT_TOOL_NAME",
    "FACT_WORKSPACE",
    "INDEX_DIMENSIONS",
]

FACT_TOOL_NAME: Final = 0
FACT_RISK_CLASS: Final = 1
FACT_IDENTITY: Final = 2
FACT_TARGET_KIND: Final = 3
FACT_TARGET_VALUE: Final = 4
FACT_ENDPOINT_CLASS: Final = 5
FACT_DISCOVERY_METHOD: Final = 6
FACT_SENSITIVITY: Final = 7
FACT_OPERATION: Final = 8
FACT_PROVENANCE_SOURCE: Final = 9
FACT_SKILL_PUBLISHER: Final = 10
FACT_SKILL_SOURCE: Final = 11
FACT_READ_ONLY_HINT: Final = 12
FACT_DESTRUCTIVE_HINT: Final = 13
FACT_IDEMPOTENT_HINT: Final = 14
FACT_OPEN_WORLD_HINT: Final = 15
FACT_WORKSPACE: Final = 16
FACT_COUNT: Final = 17


def _skill_fact(subject: Any, attribute: str) -> frozenset[str]:
    if subject.skill is None:
        return frozenset()
    return frozenset((go_lower(go_trim_space(getattr(subject.skill, attribute))),))


# In FACT_* order (checked below).
FACT_BUILDERS: Final[tuple[Callable[[Any], Any], ...]] = (
    lambda s: (s.tool_name,),  # FACT_TOOL_NAME
    lambda s: (s.context.risk_class,),  # FACT_RISK_CLASS
    lambda s: (s.context.identity,),  # FACT_IDENTITY
    lambda s: {t.kind for t in s.targets},  # FACT_TARGET_KIND
    lambda s: {t.value for t in s.targets},  # FACT_TARGET_VALUE
    lambda s: {t.endpoint_class for t in s.targets},  # FACT_ENDPOINT_CLASS
    lambda s: {t.discovery_method for t in s.targets},  # FACT_DISCOVERY_METHOD
    lambda s: {t.sensitivity for t in s.targets},  # FACT_SENSITIVITY
    lambda s: {t.operation for t in s.targets},  # FACT_OPERATION
    lambda s: {p.source for p in s.provenance},  # FACT_PROVENANCE_SOURCE
    lambda s: _skill_fact(s, "publisher"),  # FACT_SKILL_PUBLISHER
    lambda s: _skill_fact(s, "source"),  # FACT_SKILL_SOURCE
    lambda s: {t.read_only_hint for t in s.targets},  # FACT_READ_ONLY_HINT
    lambda s: {t.destructive_hint for t in s.targets},  # FACT_DESTRUCTIVE_HINT
    lambda s: {t.idempotent_hint for t in s.targets},  # FACT_IDEMPOTENT_HINT
    lambda s: {t.open_world_hint for t in s.targets},  # FACT_OPEN_WORLD_HINT
    lambda s: (s.context.workspace,),  # FACT_WORKSPACE
)
assert len(FACT_BUILDERS) == FACT_COUNT == FACT_WORKSPACE + 1

# Dimensions a rule can be indexed under, most selective first. A rule sits in the bucket of each
# allowed value of the first dimension it constrains (but see `_index_rank`); rules that
# constrain none are "residual".
# Every dimension but one is "some value of the intent is in the allowed set"; the workspace is
# "the intent's workspace starts with an allowed prefix", whose buckets are keyed by prefix.
# Either way, being found through a bucket proves that criterion, and it is dropped from the
# rule's remaining checks.
INDEX_DIMENSIONS: Final = (
    FACT_TOOL_NAME,
    FACT_IDENTITY,
    FACT_TARGET_VALUE,
    FACT_WORKSPACE,
    FACT_SKILL_PUBLISHER,
    FACT_OPERATION,
    FACT_ENDPOINT_CLASS,
    FACT_TARGET_KIND,
    FACT_SENSITIVITY,
    FACT_DISCOVERY_METHOD,
    FACT_PROVENANCE_SOURCE,
    FACT_SKILL_SOURCE,
    FACT_RISK_CLASS,
    FACT_READ_ONLY_HINT,
    FACT_DESTRUCTIVE_HINT,
    FACT_IDEMPOTENT_HINT,
    FACT_OPEN_WORLD_HINT,
)
assert sorted(INDEX_DIMENSIONS) == list(range(FACT_COUNT))  # every fact has a rank
