"""The intent record written beside each hook decision's trace.

The adapter-parity contract (integrations.md §6.1) keeps an `intent_<name>.json` next to
`trace_<name>.json`, with the intent's targets, context and auth_context. A worker's tool
arguments can hold secrets (a Bash command line, a file's content), so the record keeps what a
reviewer needs to attribute the decision and digests of the rest: `args_digest` for the
arguments and `value_digest` in place of each target's value. The intent digest covers the
full intent, as in the trace.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gait.canonical import sha256_hex
from gait.fsutil import write_atomic

if TYPE_CHECKING:
    from gait.intent import NormalizedIntent

SCHEMA_ID = "gait.gastown.intent_record"
SCHEMA_VERSION = "1.0.0"
FRAMEWORK = "gastown"
_DECISION_FIELDS = (
    "verdict",
    "reason_codes",
    "violations",
    "policy_digest",
    "policy_id",
    "policy_version",
    "matched_rule_ids",
    "trace_id",
    "trace_path",
    "run_id",
    "runpack_path",
)


def intent_record_path(trace_path: Path) -> Path:
    """`.../trace_<x>.json` -> `.../intent_<x>.json`; any other name gets `.intent.json`."""
    name = trace_path.name
    if name.startswith("trace"):
        return trace_path.with_name("intent" + name[len("trace") :])
    return trace_path.with_name(trace_path.stem + ".intent.json")


def intent_record(intent: NormalizedIntent, output: dict[str, Any]) -> dict[str, Any]:
    targets = []
    for target in intent.targets:
        entry = target.to_json()
        entry["value_digest"] = sha256_hex(entry.pop("value").encode("utf-8"))
        targets.append(entry)
    record = {
        "schema_id": SCHEMA_ID,
        "schema_version": SCHEMA_VERSION,
        "framework": FRAMEWORK,
        "tool_name": intent.tool_name,
        "args_digest": intent.args_digest,
        "intent_digest": intent.intent_digest,
        "targets": targets,
        "context": intent.context.to_json(),
    }
    record.update({name: output[name] for name in _DECISION_FIELDS if name in output})
    return record


def write_intent_record(path: Path, intent: NormalizedIntent, output: dict[str, Any]) -> None:
    data = json.dumps(intent_record(intent, output), indent=2, sort_keys=True) + "\n"
    write_atomic(path, data.encode("utf-8"))
