"""Intent requests: parsing, normalization and digests (spec gate.md §1 and §2).

The Go reference decodes an intent with `encoding/json` into typed structs and then normalizes
it (`core/gate/intent.go`). This module reproduces both steps:

1. **Decode** (`gait.intent_decode`): the raw mapping is read the way `json.Unmarshal` fills a Go
   struct. Object keys match field names case-insensitively, unknown keys are ignored, a JSON
   `null` leaves a string/bool/number/time field untouched but clears a pointer, map or slice, a
   key that appears twice (in two spellings) is decoded *into* the first value, and any type
   mismatch is an error. Failures raise `IntentDecodeError`.
2. **Normalize** (`normalize_intent`): every rule of spec §2.2 and §2.3, in the order Go applies
   them, so that an input with several problems reports the same first error. Failures raise
   `IntentError` with Go's message.

`NormalizedIntent.digest_payload()` is the exact JSON object Go hashes for `intent_digest`,
including Go's `omitempty` rules and its zero-time quirk (§1). Digests are computed lazily and
cached on the instance.

The optional sections (script, skill provenance, delegation, the context's agent identity and
sandbox) live in `gait.intent_sections`, imported only for an intent that has one (start-up
budget); their types stay importable from here.

The layers: `gait.intent_text` (errors, shared string helpers), `gait.intent_url` (Go URL
host parsing), `gait.intent_targets` (the target and provenance types), `gait.intent_model`
(the intent's value types, JCS, digests), `gait.intent_decode` (JSON and Go struct decoding),
`gait.intent_values` (targets, provenance, args, credentials), `gait.intent_normalize`
(context, relationship, the request) and `gait.intent_sections`. This module re-exports their
public names.

String handling follows Go, not Python: `go_trim_space` is `strings.TrimSpace` (Unicode
`White_Space` minus the characters `str.strip` also removes) and `go_lower` is `strings.ToLower`
(per-rune simple lowercase mapping).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Final

from gait.gostrings import go_lower, go_trim_space
from gait.intent_decode import decode_json_prefix, parse_intent_json
from gait.intent_model import Context, NormalizedIntent
from gait.intent_normalize import normalize_intent, prepare_for_evaluation, raw_risk_class
from gait.intent_targets import ArgProvenance, Target
from gait.intent_text import (
    INTENT_SCHEMA_ID,
    INTENT_SCHEMA_VERSION,
    IntentDecodeError,
    IntentError,
)

if TYPE_CHECKING:
    from gait.intent_sections import (
        AgentIdentity,
        Delegation,
        DelegationLink,
        Sandbox,
        Script,
        ScriptStep,
        SkillProvenance,
    )

__all__ = [
    "INTENT_SCHEMA_ID",
    "INTENT_SCHEMA_VERSION",
    "AgentIdentity",
    "ArgProvenance",
    "Context",
    "Delegation",
    "DelegationLink",
    "IntentDecodeError",
    "IntentError",
    "NormalizedIntent",
    "Sandbox",
    "Script",
    "ScriptStep",
    "SkillProvenance",
    "Target",
    "decode_json_prefix",
    "go_lower",
    "go_trim_space",
    "normalize_intent",
    "parse_intent_json",
    "prepare_for_evaluation",
    "raw_risk_class",
]

_SECTION_TYPES: Final = frozenset(
    {
        "AgentIdentity",
        "Delegation",
        "DelegationLink",
        "Sandbox",
        "Script",
        "ScriptStep",
        "SkillProvenance",
    }
)


def __getattr__(name: str) -> Any:
    if name in _SECTION_TYPES:
        from gait import intent_sections

        return getattr(intent_sections, name)
    raise AttributeError(f"module 'gait.intent' has no attribute {name!r}")
