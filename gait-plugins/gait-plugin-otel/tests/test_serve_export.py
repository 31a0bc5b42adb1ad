"""`gait mcp serve --export otel`: a real server process and a real OTLP/HTTP receiver. Every
decision reaches the receiver with the contract attributes; a collector that is down, refuses
or is slow costs dropped records (counted in /healthz and the drop ledger), never a verdict."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.mcp_server import Server
from tests.otlp_receiver import Receiver

from .conftest import SECRET, SERVE_BODY, WRITE_CALL, Work, down_endpoint, without_wall_clock

StartServer = Callable[..., Server]


@pytest.fixture
def serve(work: Work) -> Iterator[StartServer]:
    started: list[Server] = []

    def start(
        endpoint: str, *args: str, env: dict[str, str] | None = None, export: bool = True
    ) -> Server:
        server = Server(
            work.root,
            "--policy", "mcp_policy.yaml", *(("--export", "otel") if export else ()), *args,
            env={
                "GAIT_PLUGINS": "otel",
                "GAIT_HOME": str(work.home),
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                **(env or {}),
            },
        )  # fmt: skip
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop(signal.SIGKILL)


def otel_health(server: Server) -> dict[str, int]:
    health = server.request("GET", "/healthz")
    assert health.status == 200
    counts: dict[str, int] = health.json["exports"]["otel"]
    return counts


def wait_health(server: Server, done: Callable[[dict[str, int]], bool]) -> dict[str, int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        counts = otel_health(server)
        if done(counts):
            return counts
        time.sleep(0.1)
    raise AssertionError(f"health never got there: {otel_health(server)}")


def ledger_count(otel: Any) -> str:
    doctor = otel("doctor", "--json")
    (check,) = [c for c in doctor.json["checks"] if c["name"] == "export.otel"]
    return f"{check['status']}: {check['detail']}"


def test_every_decision_reaches_the_receiver_with_the_contract(
    serve: StartServer, receiver: Receiver
) -> None:
    server = serve(receiver.endpoint)
    blocked = server.evaluate({"call": WRITE_CALL, "session_id": "sess-request"})
    allowed = server.evaluate(SERVE_BODY)
    assert (blocked.status, allowed.status) == (200, 200)
    answers = {a.json["verdict"]: a.json for a in (blocked, allowed)}
    records = {r.attributes["gait.verdict"]: r for r in receiver.wait_for(2)}
    assert set(records) == set(answers) == {"block", "allow"}
    for verdict, answer in answers.items():
        record = records[verdict]
        assert record.attributes == {
            "gait.source": "mcp.serve",
            "gait.run_id": answer["run_id"],
            # The call's session, as the JSONL exports have it (before the journal's).
            "gait.session_id": "sess-otel" if verdict == "block" else "sess-1",
            "gait.trace_id": answer["trace_id"],
            "gait.trace_path": answer["trace_path"],
            "gait.tool_name": answer["tool_name"],
            "gait.verdict": verdict,
            "gait.reason_codes": answer["reason_codes"],
            "gait.policy_digest": answer["policy_digest"],
            "gait.intent_digest": answer["intent_digest"],
            "gait.decision_latency_ms": answer.get("decision_latency_ms", 0),
        }
        assert record.severity_text == ("WARN" if verdict == "block" else "INFO")
    assert wait_health(server, lambda c: c["exported"] == 2) == {
        "dropped": 0,
        "exported": 2,
        "queued": 0,
    }
    assert all(SECRET.encode() not in body for body in receiver.bodies)
    assert server.stop() == 0


def test_export_on_or_off_changes_no_trace_no_runpack_and_no_answer(
    serve: StartServer, receiver: Receiver, work: Work
) -> None:
    """Traces differ only in the wall-clock time of signing (and what covers it)."""
    args = ("--key-mode", "prod", "--private-key", "keys/gait_private.key")
    results = {}
    for export in (False, True):
        folder = "on" if export else "off"
        server = serve(
            receiver.endpoint,
            *args, "--trace-dir", f"{folder}/traces", "--runpack-dir", f"{folder}/runpacks",
            "--session-dir", f"{folder}/sessions",
            export=export,
        )  # fmt: skip
        answers = [
            server.evaluate({"call": WRITE_CALL, "emit_runpack": True, "run_id": "r1"}).json,
            server.evaluate({**SERVE_BODY, "emit_runpack": True, "run_id": "r2"}).json,
        ]
        assert server.stop() == 0
        traces = [without_wall_clock(work.path(a["trace_path"]).read_bytes()) for a in answers]
        runpacks = [work.path(a["runpack_path"]).read_bytes() for a in answers]
        changing = {"trace_path", "runpack_path", "decision_latency_ms"}
        outputs = [{k: v for k, v in a.items() if k not in changing} for a in answers]
        for output in outputs:  # the session journal's folder is the run's own
            output["warnings"] = [w.replace(f"{folder}/", "") for w in output["warnings"]]
        results[folder] = (traces, runpacks, outputs)
    assert results["on"] == results["off"]
    assert [o["verdict"] for o in results["on"][2]] == ["block", "allow"]
    receiver.wait_for(2)


def test_a_collector_that_is_down_costs_dropped_records_not_verdicts(
    serve: StartServer, otel: Any
) -> None:
    server = serve(down_endpoint(), env={"OTEL_EXPORTER_OTLP_TIMEOUT": "1"})
    verdicts = [server.evaluate({"call": WRITE_CALL}).json["verdict"] for _ in range(10)]
    verdicts += [server.evaluate(SERVE_BODY).json["verdict"] for _ in range(10)]
    assert verdicts == ["block"] * 10 + ["allow"] * 10
    counts = wait_health(server, lambda c: c["dropped"] == 20 and c["queued"] == 0)
    assert counts["exported"] == 0
    deadline = time.monotonic() + 30
    while "20 decision(s) not delivered" not in ledger_count(otel):
        assert time.monotonic() < deadline, ledger_count(otel)
        time.sleep(0.2)
    assert ledger_count(otel).startswith("warn: ")
    assert server.stop() == 0


def test_a_refusing_collector_is_counted(serve: StartServer, otel: Any) -> None:
    refusing = Receiver(mode="refuse")
    try:
        server = serve(refusing.endpoint)
        for _ in range(3):
            assert server.evaluate(SERVE_BODY).json["verdict"] == "allow"
        wait_health(server, lambda c: c["dropped"] == 3)
        assert server.stop() == 0
    finally:
        refusing.close()
    assert "3 decision(s) not delivered" in ledger_count(otel)
    assert "400" in ledger_count(otel)


def test_a_slow_collector_never_holds_a_verdict_and_the_queue_stays_bounded(
    serve: StartServer,
) -> None:
    slow = Receiver(mode="slow", delay=10.0)
    try:
        server = serve(
            slow.endpoint,
            env={
                "OTEL_BLRP_MAX_QUEUE_SIZE": "4",
                "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE": "2",
                "OTEL_BLRP_SCHEDULE_DELAY": "50",
            },
        )
        answers = [server.evaluate(SERVE_BODY) for _ in range(30)]
        # Every verdict was answered while the collector still held its first request.
        assert slow.count == 0
        assert [a.json["verdict"] for a in answers] == ["allow"] * 30
        counts = otel_health(server)
        assert counts["queued"] <= 4 + 2  # the queue and one batch in flight
        assert counts["dropped"] >= 30 - 6
        assert counts["dropped"] + counts["queued"] + counts["exported"] == 30
        assert server.stop() == 0
    finally:
        slow.close()


def test_health_without_exports_is_unchanged(work: Work) -> None:
    server = Server(work.root, "--policy", "mcp_policy.yaml")
    try:
        assert json.loads(server.request("GET", "/healthz").body) == {
            "ok": True,
            "service": "gait.mcp.serve",
        }
    finally:
        server.stop(signal.SIGKILL)
