"""Gate policies: strict YAML loading, validation, normalization, digest and a compiled form.

This module is the public face; the layers live in `gait.policy_yaml` (YAML),
`gait.policy_decode` (typed decoding), `gait.policy_model` (records, match field declarations,
digest), `gait.policy_normalize` (validation, normalization), `gait.policy_facts` and
`gait.policy_index` (the compiled form).

`load_policy(data)` is the usual entry point: YAML bytes in, a `CompiledPolicy` out (or a
`PolicyError`, which is invalid input, CLI exit 6). The steps are public for the CLI's
`gait policy validate|fmt` and for tests:

- `parse_policy_document(data)`: YAML → plain Python values, with the semantics of Go's
  goccy/go-yaml rather than PyYAML's YAML 1.1 ones (`yes`/`no`/`on`/`off` stay strings, no
  sexagesimal numbers, no implicit timestamps), duplicate keys refused at every level, size,
  nesting and alias-expansion limits, strict UTF-8.
- `policy_from_document(doc)`: strict typed decoding (unknown keys refused, Go type coercions)
  plus validation and normalization (defaults, lowercasing, aliases, dedupe/sort, rules sorted by
  priority then name) into a frozen `Policy`.
- `Policy.digest`: the reference `PolicyDigest` (PascalCase payload, JCS, SHA-256).
- `compile_policy(policy)`: match criteria turned into set tests, and each rule indexed under
  its most selective criterion (tool name first, then identity, target value, workspace prefix,
  ..., tool annotation hints last), so a decision walks only the rules whose indexed criterion
  the intent meets, in (priority, name) order. Rules with no criterion at all are checked for
  every intent.

Features of the reference policy language that this implementation does not evaluate are
refused with a `PolicyError` naming them, never silently ignored (see `UNSUPPORTED_RULE_KEYS`).
"""

from __future__ import annotations

from typing import Any

from gait.policy_facts import (
    FACT_COUNT,
    FACT_DESTRUCTIVE_HINT,
    FACT_DISCOVERY_METHOD,
    FACT_ENDPOINT_CLASS,
    FACT_IDEMPOTENT_HINT,
    FACT_IDENTITY,
    FACT_OPEN_WORLD_HINT,
    FACT_OPERATION,
    FACT_PROVENANCE_SOURCE,
    FACT_READ_ONLY_HINT,
    FACT_RISK_CLASS,
    FACT_SENSITIVITY,
    FACT_SKILL_PUBLISHER,
    FACT_SKILL_SOURCE,
    FACT_TARGET_KIND,
    FACT_TARGET_VALUE,
    FACT_TOOL_NAME,
    FACT_WORKSPACE,
)
from gait.policy_index import (
    INDEX_DIMENSIONS,
    CompiledPolicy,
    CompiledRule,
    compile_policy,
    load_policy,
    load_policy_file,
    sanitize_rule_name,
)
from gait.policy_model import (
    ALLOWED_REQUIRED_FIELDS,
    ALLOWED_REQUIRED_HIGH_RISK_FIELDS,
    DEFAULT_VERDICT,
    MATCH_FIELDS,
    MAX_POLICY_DEPTH,
    POLICY_SCHEMA_ID,
    POLICY_SCHEMA_VERSION,
    UNSUPPORTED_MATCH_KEYS,
    UNSUPPORTED_RULE_KEYS,
    VERDICTS,
    Dataflow,
    Endpoint,
    FailClosed,
    Match,
    MatchField,
    MCPTrust,
    Policy,
    PolicyError,
    RateLimit,
    Rule,
    Scripts,
    ToolAnnotations,
    policy_digest,
)
from gait.policy_normalize import parse_policy, policy_from_document

__all__ = [
    "ALLOWED_REQUIRED_FIELDS",
    "ALLOWED_REQUIRED_HIGH_RISK_FIELDS",
    "DEFAULT_VERDICT",
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
    "MATCH_FIELDS",
    "MAX_POLICY_DEPTH",
    "POLICY_SCHEMA_ID",
    "POLICY_SCHEMA_VERSION",
    "UNSUPPORTED_MATCH_KEYS",
    "UNSUPPORTED_RULE_KEYS",
    "VERDICTS",
    "CompiledPolicy",
    "CompiledRule",
    "Dataflow",
    "Endpoint",
    "FailClosed",
    "MCPTrust",
    "Match",
    "MatchField",
    "Policy",
    "PolicyError",
    "RateLimit",
    "Rule",
    "Scripts",
    "ToolAnnotations",
    "compile_policy",
    "load_policy",
    "load_policy_file",
    "parse_policy",
    "parse_policy_document",
    "policy_digest",
    "policy_from_document",
    "sanitize_rule_name",
]


def parse_policy_document(data: bytes | str) -> Any:
    """YAML text → its one document as plain Python values (see `gait.policy_yaml`).

    `gait.policy_yaml` is imported on the first parse: a hook whose policy comes from the
    parsed-policy cache (`gait.policy_cache`) never parses YAML."""
    from gait import policy_yaml

    return policy_yaml.parse_policy_document(data)
