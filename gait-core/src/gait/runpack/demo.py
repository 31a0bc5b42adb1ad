"""The fixed run `gait demo` records: the reference's demo content, so the same producer version
gives the same runpack members and manifest digest as the reference's demo."""

from __future__ import annotations

from typing import Any

from gait.canonical import digest, sha256_hex
from gait.contracts.runpack import (
    IntentRecord,
    Receipt,
    RefsRecord,
    ResultRecord,
    RunEnv,
    RunRecord,
    TimelineEvent,
)
from gait.runpack.record import RecordInput
from gait.timefmt import GoTime

DEMO_RUN_ID = "run_demo"
DEMO_CREATED_AT = GoTime.parse("2026-02-05T00:00:00Z")
_TOOLS = (
    ("tool.search", {"query": "gait demo: offline verification"}),
    ("tool.fetch", {"url": "https://example.local/demo"}),
    ("tool.summarize", {"input_ref": "ref_1"}),
)


def demo_record_input(producer_version: str) -> RecordInput:
    """Three intents with ok results and one receipt each, at a fixed time."""
    common: dict[str, Any] = {
        "created_at": DEMO_CREATED_AT,
        "producer_version": producer_version,
        "run_id": DEMO_RUN_ID,
    }
    intents = []
    results = []
    receipts = []
    for number, (tool, args) in enumerate(_TOOLS, 1):
        intent_id = f"intent_{number}"
        result = {"ok": True, "message": f"demo result {number}"}
        intents.append(
            IntentRecord(
                **common, intent_id=intent_id, tool_name=tool, args_digest=digest(args), args=args
            )
        )
        results.append(
            ResultRecord(
                **common,
                intent_id=intent_id,
                status="ok",
                result_digest=digest(result),
                result=result,
            )
        )
        receipts.append(
            Receipt(
                ref_id=f"ref_{number}",
                source_type="demo",
                source_locator=tool,
                query_digest=sha256_hex(f"query-{number}".encode()),
                content_digest=sha256_hex(f"content-{number}".encode()),
                retrieved_at=DEMO_CREATED_AT,
                redaction_mode="reference",
            )
        )
    return RecordInput(
        run=RunRecord(
            **common,
            env=RunEnv(os="demo", arch="demo", runtime="go"),
            timeline=(
                TimelineEvent(event="start", ts=DEMO_CREATED_AT),
                TimelineEvent(event="finish", ts=DEMO_CREATED_AT.add_nanos(2_000_000_000)),
            ),
        ),
        intents=tuple(intents),
        results=tuple(results),
        refs=RefsRecord(**common, receipts=tuple(receipts)),
        capture_mode="reference",
    )
