"""The JSONL decision exports (integrations.md §2.2-§2.3): the two line shapes, the locked
append under many writers (threads and processes), and the selection of exporters by name."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import attrs
import pytest

from gait import jsonl_export
from gait.errors import DependencyMissingError, InvalidInputError, StateContentionError
from gait.exports import DecisionEvent, ExportRequest, check_export_path, open_exports
from gait.jsonl_export import append_line, log_line, otel_line
from gait.plugins import load_plugins
from gait.timefmt import GoTime

EVENT = DecisionEvent(
    source="mcp.proxy",
    created_at=GoTime.parse("1980-01-01T00:00:00Z"),
    observed_at=GoTime.parse("2026-03-01T10:00:00.123456789Z"),
    producer_version="0.1.0",
    run_id="run_mcp_0123456789ab",
    session_id="",
    trace_id="a" * 24,
    trace_path="trace__20260301T100000.123456789.json",
    tool_name="tool.write",
    verdict="block",
    reason_codes=(),
    policy_digest="b" * 64,
    intent_digest="c" * 64,
    decision_latency_ms=0,
)


def test_log_line_keeps_the_reference_key_order_and_omits_empty_optionals() -> None:
    bare = json.loads(log_line(EVENT))
    assert list(bare) == [
        "created_at",
        "producer_version",
        "run_id",
        "trace_id",
        "trace_path",
        "tool_name",
        "verdict",
        "policy_digest",
        "intent_digest",
    ]
    assert bare["created_at"] == "1980-01-01T00:00:00Z"
    full = attrs.evolve(
        EVENT,
        session_id="sess-1",
        reason_codes=("a", "b"),
        decision_latency_ms=3,
        delegation_ref="tok",
        delegation_depth=2,
    )
    line = log_line(full)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert list(json.loads(line)) == [
        "created_at",
        "producer_version",
        "run_id",
        "session_id",
        "trace_id",
        "trace_path",
        "tool_name",
        "verdict",
        "reason_codes",
        "policy_digest",
        "intent_digest",
        "decision_latency_ms",
        "delegation_ref",
        "delegation_depth",
    ]


def test_otel_line_is_flat_sorted_and_always_has_every_attribute() -> None:
    line = otel_line(EVENT)
    value = json.loads(line)
    assert list(value) == ["attributes", "body", "severity_text", "time_unix_nano", "trace_id"]
    assert value["time_unix_nano"] == 315532800000000000
    assert (value["body"], value["severity_text"], value["trace_id"]) == (
        "gait.mcp.proxy.decision",
        "INFO",
        "a" * 24,
    )
    attributes = value["attributes"]
    assert list(attributes) == sorted(attributes)
    assert attributes["gait.reason_codes"] is None
    assert attributes["gait.session_id"] == "" and attributes["gait.delegation_depth"] == 0
    assert "gait.producer_version" not in attributes
    gate = json.loads(otel_line(attrs.evolve(EVENT, source="gate.eval", reason_codes=("x",))))
    assert gate["body"] == "gait.gate.decision"
    assert gate["attributes"]["gait.reason_codes"] == ["x"]


def test_lines_escape_as_go_does() -> None:
    line = log_line(attrs.evolve(EVENT, tool_name="tool.<a&b>\u2028é"))
    assert b'"tool.\\u003ca\\u0026b\\u003e\\u2028\xc3\xa9"' in line


@pytest.mark.parametrize(
    ("path", "ok"),
    [
        ("out.jsonl", True),
        ("a/../b.jsonl", True),
        ("/tmp/x.jsonl", True),
        ("../x.jsonl", False),
        ("a/../../x.jsonl", False),
        (".", False),
        ("", False),
    ],
)
def test_export_paths_stay_local_or_are_absolute(path: str, ok: bool) -> None:
    if ok:
        assert check_export_path(path)
    else:
        with pytest.raises(InvalidInputError):
            check_export_path(path)


def _valid_lines(path: Path, count: int) -> list[dict[str, object]]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    lines = [json.loads(line) for line in data.splitlines()]
    assert len(lines) == count
    return lines


def test_200_threads_append_200_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "events.jsonl"
    start = threading.Barrier(200)

    def write(index: int) -> None:
        start.wait()
        append_line(path, log_line(attrs.evolve(EVENT, run_id=f"run_{index}")))

    threads = [threading.Thread(target=write, args=(i,)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = _valid_lines(path, 200)
    assert {line["run_id"] for line in lines} == {f"run_{i}" for i in range(200)}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o750
    assert not path.with_name("events.jsonl.lock").exists()


def _process_writer(path: str, index: int, go: multiprocessing.synchronize.Event) -> None:
    go.wait()
    append_line(Path(path), otel_line(attrs.evolve(EVENT, run_id=f"run_{index}")))


def test_200_processes_append_200_whole_lines(tmp_path: Path) -> None:
    """Processes share nothing but the file system: the `<file>.lock` protocol keeps them apart."""
    path = tmp_path / "otel.jsonl"
    context = multiprocessing.get_context("fork")
    go = context.Event()
    processes = [
        context.Process(target=_process_writer, args=(str(path), i, go)) for i in range(200)
    ]
    for process in processes:
        process.start()
    go.set()
    for process in processes:
        process.join(120)
        assert process.exitcode == 0
    lines = _valid_lines(path, 200)
    assert {line["attributes"]["gait.run_id"] for line in lines} == {  # type: ignore[index]
        f"run_{i}" for i in range(200)
    }


def test_a_held_lock_times_out_and_a_stale_one_is_taken_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.jsonl"
    lock = tmp_path / "events.jsonl.lock"
    lock.write_text("")
    monkeypatch.setattr(jsonl_export, "LOCK_TIMEOUT_SECONDS", 0.2)
    started = time.monotonic()
    with pytest.raises(StateContentionError, match="append lock timeout"):
        append_line(path, log_line(EVENT))
    assert time.monotonic() - started < 5
    assert not path.exists()
    old = time.time() - jsonl_export.STALE_LOCK_SECONDS - 5
    os.utime(lock, (old, old))
    append_line(path, log_line(EVENT))
    _valid_lines(path, 1)
    assert not lock.exists()


def test_a_write_failure_is_invalid_input(tmp_path: Path) -> None:
    (tmp_path / "events.jsonl").mkdir()
    with pytest.raises(InvalidInputError, match="append export"):
        append_line(tmp_path / "events.jsonl", log_line(EVENT))


def test_builtin_exporters_are_selected_by_their_flags(tmp_path: Path) -> None:
    request = ExportRequest.from_flags(str(tmp_path / "log.jsonl"), str(tmp_path / "o.jsonl"), ())
    exports = open_exports(load_plugins(), request, source="mcp.proxy", lifetime="command")
    assert exports is not None and exports.blocking
    fields = exports.emit(EVENT)
    assert fields == {
        "log_export": str(tmp_path / "log.jsonl"),
        "otel_export": str(tmp_path / "o.jsonl"),
    }
    assert exports.stats() == {
        "jsonl-log": {"dropped": 0, "exported": 1, "queued": 0},
        "jsonl-otel": {"dropped": 0, "exported": 1, "queued": 0},
    }
    exports.close(0)
    assert open_exports(load_plugins(), ExportRequest(), source="x", lifetime="command") is None


def test_an_exporter_that_is_not_installed_is_a_missing_dependency() -> None:
    request = ExportRequest.from_flags("", "", ("OTel",))
    with pytest.raises(DependencyMissingError) as raised:
        open_exports(load_plugins(), request, source="gate.eval", lifetime="command")
    assert raised.value.hint == "pip install gait-plugin-otel"
    assert "exporter 'otel' is not installed" in str(raised.value)


def test_builtin_file_exports_do_not_load_pluggy(tmp_path: Path) -> None:
    check = f"""
import sys
from gait.exports import ExportRequest, open_exports
from gait.plugins import load_plugins

exports = open_exports(load_plugins(allow=""), ExportRequest(log_out={str(tmp_path / "x")!r}),
                       source="gate.eval", lifetime="command")
assert exports is not None
assert "pluggy" not in sys.modules
"""
    subprocess.run([sys.executable, "-c", check], check=True)
