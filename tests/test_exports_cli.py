"""Decision exports through the installed `gait`, with no plugin loaded: the reference's JSONL
files (`--export-log-out`, `--export-otel-out`) on `gait gate eval`, `gait mcp proxy|bridge` and
`gait mcp serve`, and `--export NAME` for an exporter that is not installed (exit 7)."""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import REPO, SHARED, RunGait
from tests.mcp_server import Server

QUICKSTART = REPO / "examples" / "quickstart"
BODY = json.loads((SHARED / "reference_fixtures/derived/serve_body_mcp_nosession.json").read_text())
OPENAI_CALL = {"type": "function", "function": {"name": "tool.search", "arguments": "{}"}}
HINT = "pip install gait-plugin-otel"


@pytest.fixture
def work(tmp_path: Path) -> Path:
    root = tmp_path / "work"
    shutil.copytree(QUICKSTART, root)
    (root / "openai_call.json").write_text(json.dumps(OPENAI_CALL))
    (root / "allow.yaml").write_text("default_verdict: allow\n")
    return root


def lines(path: Path) -> list[dict[str, object]]:
    data = path.read_bytes()
    assert data.endswith(b"\n")
    return [json.loads(line) for line in data.splitlines()]


@pytest.mark.parametrize(
    ("intent", "verdict", "code"),
    [("intent_read.json", "allow", 0), ("intent_write.json", "require_approval", 4)],
)
def test_gate_eval_appends_one_line_to_each_file(
    gait: RunGait, work: Path, intent: str, verdict: str, code: int
) -> None:
    args = ("--export-log-out", "out/log.jsonl", "--export-otel-out", "out/otel.jsonl")
    done = gait(
        "gate", "eval", "--policy", "policy.yaml", "--intent", intent, *args, "--json", cwd=work
    )
    assert done.code == code, done.stdout + done.stderr
    out = done.json
    assert (out["log_export"], out["otel_export"]) == ("out/log.jsonl", "out/otel.jsonl")
    (log,) = lines(work / "out/log.jsonl")
    (otel,) = lines(work / "out/otel.jsonl")
    assert log["verdict"] == verdict == otel["attributes"]["gait.verdict"]  # type: ignore[index]
    assert log["trace_id"] == out["trace_id"] == otel["trace_id"]
    assert log["trace_path"] == out["trace_path"]
    assert log["run_id"] == "run_gate_" + out["intent_digest"][:12]
    assert log["created_at"] == "2026-02-06T00:00:00Z"  # the intent's time
    assert otel["body"] == "gait.gate.decision"
    again = gait("gate", "eval", "--policy", "policy.yaml", "--intent", intent, *args, cwd=work)
    assert again.code == code
    assert len(lines(work / "out/log.jsonl")) == len(lines(work / "out/otel.jsonl")) == 2


@pytest.mark.parametrize("command", ["proxy", "bridge"])
def test_mcp_proxy_and_bridge_export(gait: RunGait, work: Path, command: str) -> None:
    done = gait(
        "mcp",
        command,
        "--policy",
        "allow.yaml",
        "--call",
        "openai_call.json",
        "--adapter",
        "openai",
        "--export-log-out",
        "log.jsonl",
        "--export-otel-out",
        "otel.jsonl",
        "--json",
        cwd=work,
    )
    assert done.code == 0, done.stdout + done.stderr
    out = done.json
    assert (out["log_export"], out["otel_export"]) == ("log.jsonl", "otel.jsonl")
    (log,) = lines(work / "log.jsonl")
    (otel,) = lines(work / "otel.jsonl")
    assert log["created_at"] == "1980-01-01T00:00:00Z"
    assert otel["time_unix_nano"] == 315532800000000000
    assert otel["body"] == "gait.mcp.proxy.decision"
    assert (log["run_id"], log["tool_name"]) == (out["run_id"], "tool.search")
    assert otel["attributes"]["gait.trace_path"] == out["trace_path"]  # type: ignore[index]


def test_a_path_outside_the_working_directory_is_refused_before_deciding(
    gait: RunGait, work: Path
) -> None:
    done = gait(
        "gate", "eval", "--policy", "policy.yaml", "--intent", "intent_read.json",
        "--export-log-out", "../escape.jsonl", "--json", cwd=work,
    )  # fmt: skip
    assert done.code == 6
    assert not list(work.glob("trace_*.json"))


def test_a_failed_append_fails_the_command_after_the_trace(gait: RunGait, work: Path) -> None:
    (work / "log.jsonl").mkdir()
    done = gait(
        "mcp", "proxy", "--policy", "allow.yaml", "--call", "openai_call.json",
        "--adapter", "openai", "--export-log-out", "log.jsonl", "--trace-out", "t.json", "--json",
        cwd=work,
    )  # fmt: skip
    assert done.code == 6
    assert done.json["ok"] is False and "append export" in done.json["error"]
    assert (work / "t.json").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ("gate", "eval", "--policy", "policy.yaml", "--intent", "intent_read.json"),
        (
            "mcp",
            "proxy",
            "--policy",
            "allow.yaml",
            "--call",
            "openai_call.json",
            "--adapter",
            "openai",
        ),
    ],
    ids=["gate-eval", "mcp-proxy"],
)
def test_an_exporter_that_is_not_loaded_exits_7_with_the_pip_hint(
    gait: RunGait, work: Path, argv: tuple[str, ...]
) -> None:
    done = gait(*argv, "--export", "otel", "--json", cwd=work)
    assert done.code == 7, done.stdout + done.stderr
    assert done.json["hint"] == HINT and HINT in done.json["error"]
    assert done.json["error_code"] == "dependency_missing"
    assert not list(work.glob("trace_*.json"))
    text = gait(*argv, "--export", "otel", cwd=work)
    assert text.code == 7 and HINT in text.stdout + text.stderr


def test_help_lists_the_export_flags(gait: RunGait) -> None:
    for argv in (("gate", "eval"), ("mcp", "proxy"), ("mcp", "serve")):
        done = gait(*argv, "--help")
        assert done.code == 0
        for flag in ("--export-log-out", "--export-otel-out", "--export "):
            assert flag in done.stdout, (argv, flag)
        assert "7  missing dependency" in done.stdout


@pytest.fixture
def servers(work: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        server.stop(signal.SIGKILL)


def test_serve_exports_200_concurrent_decisions_from_two_workers(
    work: Path, servers: list[Server]
) -> None:
    server = Server(
        work,
        "--policy", "allow.yaml", "--workers", "2",
        "--export-log-out", "exports/log.jsonl", "--export-otel-out", "exports/otel.jsonl",
    )  # fmt: skip
    servers.append(server)
    with ThreadPoolExecutor(max_workers=32) as pool:
        answers = list(pool.map(lambda _: server.evaluate(BODY), range(200)))
    assert {answer.status for answer in answers} == {200}
    first = answers[0].json
    assert (first["log_export"], first["otel_export"]) == (
        "exports/log.jsonl",
        "exports/otel.jsonl",
    )
    health = server.request("GET", "/healthz").json
    assert health["ok"] is True and set(health["exports"]) == {"jsonl-log", "jsonl-otel"}
    assert server.stop() == 0
    log = lines(work / "exports/log.jsonl")
    otel = lines(work / "exports/otel.jsonl")
    assert len(log) == len(otel) == 200
    paths = {answer.json["trace_path"] for answer in answers}
    assert {line["trace_path"] for line in log} == paths
    assert {line["attributes"]["gait.trace_path"] for line in otel} == paths  # type: ignore[index]


def test_serve_refuses_an_exporter_that_is_not_loaded_at_start(work: Path) -> None:
    with pytest.raises(RuntimeError) as raised:
        Server(work, "--policy", "allow.yaml", "--export", "otel")
    assert "exited 7" in str(raised.value) and HINT in str(raised.value)
