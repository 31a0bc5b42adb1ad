"""`--export otel` through the installed `gait`, into a real OTLP/HTTP receiver on loopback
whose requests are decoded with `opentelemetry-proto`: every contract attribute with its value,
the standard OTEL_* settings, and export on or off changing no artifact and no verdict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gait_plugin_otel.contract import ATTRIBUTES, EVENT_NAME

from gait.timefmt import GoTime
from tests.otlp_receiver import Receiver

from .conftest import SECRET, Work, without_wall_clock


def unix_nanos(text: str) -> int:
    value = GoTime.parse(text)
    return int(value.moment.timestamp()) * 1_000_000_000 + value.nanos


def test_gate_eval_sends_every_contract_attribute(
    otel: Any, work: Work, receiver: Receiver
) -> None:
    done = otel(
        "gate", "eval", "--policy", "policy.yaml", "--intent", "intent_secret.json",
        "--export", "otel", "--json", endpoint=receiver.endpoint,
    )  # fmt: skip
    assert done.code == 0, done.stdout + done.stderr
    out = done.json
    (record,) = receiver.wait_for(1)
    trace = json.loads(work.path(out["trace_path"]).read_text())
    assert set(record.attributes) == set(ATTRIBUTES)
    assert record.attributes == {
        "gait.source": "gate.eval",
        "gait.run_id": "run_gate_" + out["intent_digest"][:12],
        "gait.session_id": "sess-gate",
        "gait.trace_id": out["trace_id"],
        "gait.trace_path": out["trace_path"],
        "gait.tool_name": "tool.read",
        "gait.verdict": "allow",
        "gait.reason_codes": ["safe_read_allowed"],
        "gait.policy_digest": out["policy_digest"],
        "gait.intent_digest": out["intent_digest"],
        "gait.decision_latency_ms": record.attributes["gait.decision_latency_ms"],
    }
    assert isinstance(record.attributes["gait.decision_latency_ms"], int)
    assert 0 <= record.attributes["gait.decision_latency_ms"] < 10_000
    assert (record.event_name, record.body) == (EVENT_NAME, EVENT_NAME)
    assert (record.severity_text, record.severity_number) == ("INFO", 9)
    assert record.time_unix_nano == unix_nanos(trace["observed_at"])
    assert (record.scope, record.scope_version) == ("gait", trace["producer_version"])
    assert record.resource["service.name"] == "gait"
    assert record.resource["service.version"] == trace["producer_version"]
    assert receiver.paths == ["/v1/logs"]
    assert receiver.headers[0]["content-type"] == "application/x-protobuf"
    assert all(SECRET.encode() not in body for body in receiver.bodies)


def test_mcp_proxy_sends_a_blocked_decision_as_a_warning(
    otel: Any, work: Work, receiver: Receiver
) -> None:
    done = otel(
        "mcp", "proxy", "--policy", "mcp_policy.yaml", "--call", "write_call.json",
        "--export", "otel", "--json", endpoint=receiver.endpoint,
    )  # fmt: skip
    assert done.code == 3, done.stdout + done.stderr
    out = done.json
    (record,) = receiver.wait_for(1)
    assert record.attributes == {
        "gait.source": "mcp.proxy",
        "gait.run_id": "run_otel_case",
        "gait.session_id": "sess-otel",
        "gait.trace_id": out["trace_id"],
        "gait.trace_path": out["trace_path"],
        "gait.tool_name": "tool.write",
        "gait.verdict": "block",
        "gait.reason_codes": out["reason_codes"],
        "gait.policy_digest": out["policy_digest"],
        "gait.intent_digest": out["intent_digest"],
        "gait.decision_latency_ms": out.get("decision_latency_ms", 0),
    }
    assert "write_blocked_in_test" in out["reason_codes"]
    assert (record.severity_text, record.severity_number) == ("WARN", 13)
    assert all(SECRET.encode() not in body for body in receiver.bodies)


def test_the_standard_otel_settings_are_honoured(otel: Any, receiver: Receiver) -> None:
    done = otel(
        "gate", "eval", "--policy", "policy.yaml", "--intent", "intent_read.json",
        "--export", "otel",
        env={
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": f"{receiver.endpoint}/custom/logs",
            "OTEL_EXPORTER_OTLP_HEADERS": "x-tenant=team-a,authorization=Bearer%20t0ken",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_SERVICE_NAME": "agent-gateway",
            "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=test",
        },
    )  # fmt: skip
    assert done.code == 0, done.stdout + done.stderr
    (record,) = receiver.wait_for(1)
    assert receiver.paths == ["/custom/logs"]
    assert receiver.headers[0]["x-tenant"] == "team-a"
    assert receiver.headers[0]["authorization"] == "Bearer t0ken"
    assert record.resource["service.name"] == "agent-gateway"
    assert record.resource["deployment.environment"] == "test"
    assert "t0ken" not in done.stdout + done.stderr


@pytest.mark.parametrize(
    ("protocol", "code", "message"),
    [
        ("http/json", 6, "unsupported OTLP protocol 'http/json'"),
        ("grpc", 7, "pip install opentelemetry-exporter-otlp-proto-grpc"),
    ],
)
def test_a_protocol_that_cannot_work_is_refused_before_deciding(
    otel: Any, work: Work, protocol: str, code: int, message: str
) -> None:
    done = otel(
        "gate", "eval", "--policy", "policy.yaml", "--intent", "intent_read.json",
        "--export", "otel", "--json", env={"OTEL_EXPORTER_OTLP_PROTOCOL": protocol},
    )  # fmt: skip
    assert done.code == code, done.stdout + done.stderr
    assert message in done.json["error"]
    assert not list(work.root.glob("trace_*.json"))


def _decide(otel: Any, work: Work, receiver: Receiver, extra: tuple[str, ...]) -> list[Any]:
    """The same two decisions (a gate eval, an MCP proxy call with a runpack), same names."""
    gate = otel(
        "gate", "eval", "--policy", "policy.yaml", "--intent", "intent_write.json",
        *work.key_args(), "--trace-out", "gate.json", *extra, "--json",
        endpoint=receiver.endpoint,
    )  # fmt: skip
    proxy = otel(
        "mcp", "proxy", "--policy", "mcp_policy.yaml", "--call", "openai_call.json",
        "--adapter", "openai", *work.key_args(), "--trace-out", "proxy.json",
        "--runpack-out", "proxy.zip", *extra, "--json", endpoint=receiver.endpoint,
    )  # fmt: skip
    return [gate, proxy]


ARTIFACTS = ("gate.json", "proxy.json", "proxy.zip")


def test_export_on_or_off_changes_no_artifact_and_no_verdict(
    otel: Any, work: Work, receiver: Receiver
) -> None:
    """Traces differ only in the wall-clock time of signing (and what covers it); runpacks,
    outputs and exit codes not at all."""
    off = _decide(otel, work, receiver, ())
    for name in ARTIFACTS:
        work.path(name).rename(work.path(f"off_{name}"))
    on = _decide(otel, work, receiver, ("--export", "otel", "--export-log-out", "log.jsonl"))
    receiver.wait_for(2)
    assert [run.code for run in off] == [run.code for run in on] == [4, 0]
    for without, with_export in zip(off, on, strict=True):
        changing = {"trace_path", "decision_latency_ms", "log_export"}
        assert {k: v for k, v in without.json.items() if k not in changing} == {
            k: v for k, v in with_export.json.items() if k not in changing
        }
    for name in ("gate.json", "proxy.json"):
        before = work.path(f"off_{name}").read_bytes()
        assert without_wall_clock(before) == without_wall_clock(work.path(name).read_bytes())
        checked = otel("trace", "verify", "--path", name, "--public-key", "keys/gait_public.key")
        assert checked.code == 0, checked.stdout + checked.stderr
    assert work.path("off_proxy.zip").read_bytes() == work.path("proxy.zip").read_bytes()
    assert otel("verify", "proxy.zip", "--public-key", "keys/gait_public.key").code == 0


def test_export_events_and_files_carry_the_same_decision(
    otel: Any, work: Work, receiver: Receiver
) -> None:
    done = otel(
        "mcp", "proxy", "--policy", "mcp_policy.yaml", "--call", "write_call.json",
        "--export", "otel", "--export-log-out", "log.jsonl", "--export-otel-out", "otel.jsonl",
        "--json", endpoint=receiver.endpoint,
    )  # fmt: skip
    assert done.code == 3
    (record,) = receiver.wait_for(1)
    log = json.loads(work.path("log.jsonl").read_text())
    line = json.loads(work.path("otel.jsonl").read_text())
    for key in ("run_id", "session_id", "trace_id", "tool_name", "verdict", "reason_codes"):
        assert record.attributes[f"gait.{key}"] == log[key]
    for key in ("run_id", "trace_path", "policy_digest", "intent_digest"):
        assert record.attributes[f"gait.{key}"] == line["attributes"][f"gait.{key}"]
    assert Path(done.json["otel_export"]) == Path("otel.jsonl")
