"""Stub replay: what a run would do again, from its recorded results; no tool ever runs."""

from __future__ import annotations

import hashlib
from typing import Any

from gait.contracts.runpack import ResultRecord
from gait.errors import InvalidInputError
from gait.runpack.read import Runpack

# Substrings of a tool name that pick a stub, checked in this order (the reference's table).
_STUB_TYPES = (
    ("http", ("http", "fetch", "url")),
    ("file", ("file", "path", "fs", "write")),
    ("db", ("db", "sql", "query", "table")),
    ("queue", ("queue", "topic", "publish", "kafka")),
)


def stub_type(tool_name: str) -> str:
    name = tool_name.strip().lower()
    for kind, needles in _STUB_TYPES:
        if any(needle in name for needle in needles):
            return kind
    return ""


def stub_digest(run_id: str, intent_id: str, tool_name: str, args_digest: str, kind: str) -> str:
    text = f"{run_id}:{intent_id}:{tool_name.strip().lower()}:{args_digest.strip().lower()}:{kind}"
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def replay_stub(rp: Runpack) -> dict[str, Any]:
    """Per intent in file order: the recorded result, a deterministic stub for tools of a known
    kind, or `missing_result`. InvalidInputError for duplicate intents or results.

    Returns `{run_id, mode: "stub", steps, missing_results}`; the caller exits 2 when
    `missing_results` is not empty.
    """
    seen: set[str] = set()
    for intent in rp.intents:
        if intent.intent_id in seen:
            raise InvalidInputError(f"duplicate intent_id: {intent.intent_id}")
        seen.add(intent.intent_id)
    recorded: dict[str, ResultRecord] = {}
    for result in rp.results:
        if result.intent_id in recorded:
            raise InvalidInputError(f"duplicate result for intent_id: {result.intent_id}")
        recorded[result.intent_id] = result
    run_id = rp.run.run_id
    steps = []
    missing: list[str] = []
    for intent in rp.intents:
        step: dict[str, Any] = {"intent_id": intent.intent_id, "tool_name": intent.tool_name}
        recorded_result = recorded.get(intent.intent_id)
        kind = stub_type(intent.tool_name)
        if recorded_result is not None:
            step.update(status=recorded_result.status, execution="recorded")
            if recorded_result.result_digest:
                step["result_digest"] = recorded_result.result_digest
        elif kind:
            step.update(
                status="stubbed",
                execution="stubbed",
                stub_type=kind,
                result_digest=stub_digest(
                    run_id, intent.intent_id, intent.tool_name, intent.args_digest, kind
                ),
            )
        else:
            step.update(status="missing_result", execution="missing")
            missing.append(intent.intent_id)
        steps.append(step)
    return {"run_id": run_id, "mode": "stub", "steps": steps, "missing_results": sorted(missing)}
