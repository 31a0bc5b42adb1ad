"""The exporter in-process, with the real SDK and a real receiver: closing is bounded by its
timeout whatever the collector does, the queue is bounded, drops reach the ledger; and the
attribute contract is the one docs/otel_contract.md documents."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from gait_plugin_otel import ledger
from gait_plugin_otel.contract import ATTRIBUTES
from gait_plugin_otel.exporter import OtelExporter

from gait.exports import DecisionEvent
from gait.timefmt import GoTime
from tests.otlp_receiver import Receiver

from .conftest import REPO

EVENT = DecisionEvent(
    source="mcp.serve",
    created_at=GoTime.parse("1980-01-01T00:00:00Z"),
    observed_at=GoTime.parse("2026-03-01T10:00:00.5Z"),
    producer_version="0.1.0",
    run_id="run_x",
    session_id="",
    trace_id="a" * 24,
    trace_path="t.json",
    tool_name="tool.read",
    verdict="allow",
    reason_codes=(),
    policy_digest="b" * 64,
    intent_digest="c" * 64,
    decision_latency_ms=2,
)


@pytest.fixture(autouse=True)
def _home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GAIT_HOME", str(tmp_path / "home"))
    for name in ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        monkeypatch.delenv(name, raising=False)


def exporter_for(receiver: Receiver, monkeypatch: pytest.MonkeyPatch, **env: str) -> OtelExporter:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return OtelExporter({"source": "mcp.serve", "lifetime": "service"})


def test_close_sends_what_is_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    receiver = Receiver()
    try:
        exporter = exporter_for(receiver, monkeypatch)
        for _ in range(3):
            exporter.export(EVENT)
        exporter.close(10)
        assert receiver.count == 3
        assert exporter.stats().to_json() == {"dropped": 0, "exported": 3, "queued": 0}
        (record, *_) = receiver.records
        assert record.attributes["gait.reason_codes"] == []
        assert record.time_unix_nano == 1772359200_500000000
    finally:
        receiver.close()
    assert ledger.read()["dropped"] == 0


def test_close_is_bounded_by_its_timeout_and_counts_what_is_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow = Receiver(mode="slow", delay=3.0)
    try:
        exporter = exporter_for(slow, monkeypatch)
        exporter.export(EVENT)
        exporter.export(EVENT)
        exporter.close(0.2)
        assert slow.count == 0  # closed while the collector still held the request
        assert exporter.stats().to_json() == {"dropped": 2, "exported": 0, "queued": 0}
        exporter.export(EVENT)  # after close: dropped, never raised
        assert exporter.stats().dropped == 3
    finally:
        slow.close()
    recorded = ledger.read()
    assert recorded["dropped"] == 2
    assert "not delivered within 0.2 s" in recorded["last_error"]


def test_the_queue_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    slow = Receiver(mode="slow", delay=3.0)
    try:
        exporter = exporter_for(
            slow,
            monkeypatch,
            OTEL_BLRP_MAX_QUEUE_SIZE="5",
            OTEL_BLRP_MAX_EXPORT_BATCH_SIZE="1",
            OTEL_BLRP_SCHEDULE_DELAY="1",
        )
        for _ in range(100):
            exporter.export(EVENT)
        stats = exporter.stats()
        assert stats.queued <= 5 + 1  # the queue and one batch in flight
        assert stats.dropped >= 100 - 6
        assert stats.dropped + stats.queued == 100
        exporter.close(0)
    finally:
        slow.close()


def test_the_documented_contract_is_the_code() -> None:
    text = (REPO / "docs" / "otel_contract.md").read_text()
    documented = re.findall(r"^\| `(gait\.[a-z_]+)` \| ([a-z\[\]]+) \|", text, re.M)
    assert documented == list(ATTRIBUTES.items())
