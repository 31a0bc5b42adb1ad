"""`gait mcp serve` over real HTTP on loopback, against a real server process: the behaviours
the reference's tests pin down (integrations.md §1.10), and this version's own promises
(policy reload, fail-closed health, workers sharing state, graceful stop, no partial file)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol

import pytest

from benchmarks.loadgen import request_bytes, run_load
from gait.keys import SigningKey
from gait.mcp.journal import read_events
from tests.conftest import GAIT, REPO, SHARED, RunGait
from tests.mcp_server import Server, rss_kib

FIXTURES = SHARED / "reference_fixtures"
OPENAI_CALL = json.loads((FIXTURES / "examples/mcp/openai_function_call.json").read_text())
BODY_SESSION = json.loads((FIXTURES / "derived/serve_body_mcp.json").read_text())
BODY_NO_SESSION = json.loads((FIXTURES / "derived/serve_body_mcp_nosession.json").read_text())
HEAD = "schema_id: gait.gate.policy\nschema_version: 1.0.0\n"
TRACES = Path("gait-out/mcp-serve/traces")
SESSIONS = Path("gait-out/mcp-serve/sessions")
WRITE_CALL: dict[str, Any] = {
    "name": "tool.write",
    "args": {"path": "/tmp/out.txt"},
    "targets": [{"kind": "path", "value": "/tmp/out.txt", "operation": "write"}],
    "context": {"identity": "alice", "workspace": "/repo", "risk_class": "low"},
}


class StartServer(Protocol):
    """The `serve` fixture: `gait mcp serve ARGS` in the working folder, stopped after the test."""

    def __call__(self, *args: str, env: Mapping[str, str] | None = None) -> Server: ...


@pytest.fixture
def work(tmp_path: Path) -> Path:
    for name, verdict in (("allow", "allow"), ("block", "block"), ("approval", "require_approval")):
        (tmp_path / f"{name}.yaml").write_text(HEAD + f"default_verdict: {verdict}\n")
    return tmp_path


@pytest.fixture
def serve(work: Path) -> Iterator[StartServer]:
    started: list[Server] = []

    class Started(Server):
        def __init__(self, *args: str, **kw: object) -> None:
            super().__init__(work, *args, **kw)  # type: ignore[arg-type]
            started.append(self)

    yield Started
    for server in started:
        server.stop(signal.SIGKILL)


def traces(work: Path) -> list[Path]:
    return sorted((work / TRACES).glob("*.json"))


def test_healthz_and_openapi(serve: StartServer) -> None:
    server = serve("--policy", "allow.yaml")
    health = server.request("GET", "/healthz")
    assert (health.status, health.json) == (200, {"ok": True, "service": "gait.mcp.serve"})
    served = server.request("GET", "/openapi.json")
    assert served.status == 200
    kept = (REPO / "docs" / "mcp-serve.openapi.json").read_bytes()
    assert served.body == kept
    assert json.loads(kept)["components"]["schemas"]["EvaluateRequest"]["required"] == ["call"]


def test_openai_call_is_allowed_with_a_verifiable_trace(
    serve: StartServer, work: Path, gait: RunGait
) -> None:
    server = serve("--policy", "allow.yaml")
    response = server.evaluate({"adapter": "openai", "call": OPENAI_CALL})
    assert response.status == 200
    out = response.json
    assert out["ok"] is True and out["executed"] is False
    assert (out["verdict"], out["exit_code"], out["tool_name"]) == ("allow", 0, "tool.search")
    trace = work / out["trace_path"]
    assert trace.exists() and trace.name.startswith("trace__")
    home = {"GAIT_HOME": str(work / "home")}
    assert gait("trace", "verify", "--path", str(trace), "--json", cwd=work, env=home).code == 0


def test_compat_and_strict_verdict_statuses(serve: StartServer) -> None:
    compat = serve("--policy", "block.yaml")
    out = compat.evaluate({"call": WRITE_CALL})
    assert (out.status, out.json["verdict"], out.json["exit_code"]) == (200, "block", 3)
    compat.stop()
    strict = serve("--policy", "block.yaml", "--http-verdict-status", "strict")
    out = strict.evaluate({"call": WRITE_CALL})
    assert (out.status, out.json["executed"], out.json["verdict"]) == (403, False, "block")
    strict.stop()
    approval = serve("--policy", "approval.yaml", "--http-verdict-status", "strict")
    out = approval.evaluate({"call": WRITE_CALL})
    assert (out.status, out.json["exit_code"]) == (409, 4)


def test_processing_order_and_error_statuses(serve: StartServer, work: Path) -> None:
    server = serve("--policy", "allow.yaml", "--max-request-bytes", "256")
    assert server.request("GET", "/v1/evaluate").json == {"ok": False, "error": "expected POST"}
    assert server.request("GET", "/v1/evaluate").status == 405
    assert server.request("POST", "/healthz", {}).status == 405
    assert server.request("GET", "/nope").status == 404
    call = {"call": {"name": "tool.read"}}
    wrong = server.evaluate(call, headers={"Content-Type": "text/plain"})
    assert (wrong.status, wrong.json["error"]) == (415, "content-type must be application/json")
    bad = server.evaluate(call, headers={"Content-Type": "application/json; =x"})
    assert (bad.status, bad.json["error"]) == (415, "invalid content-type header")
    charset = server.evaluate(call, headers={"Content-Type": "application/json; charset=utf-8"})
    assert charset.status == 200
    big = server.evaluate({"call": {"name": "tool.read", "args": {"x": "y" * 300}}})
    assert (big.status, big.json["error"]) == (413, "request body exceeds max-request-bytes")
    for body, status, message in (
        (b"{", 400, "decode request: "),
        (b'{"call": {"name": "x"}} {}', 400, "request body must contain a single JSON object"),
        (
            b'{"call": {"name": "x"}, "extra": 1}',
            400,
            'decode request: json: unknown field "extra"',
        ),
        (b'{"adapter": "openai"}', 400, "request.call is required"),
        (b'{"call": {}}', 400, "request.call is required"),
        (b'{"call": {"name": 5}}', 400, "parse mcp tool call: name must be a string"),
        (b'{"adapter": "x", "call": {"name": "t"}}', 400, "unsupported adapter: x"),
        (b'{"call": {"name": "t"}, "checkpoint_interval": 1.5}', 400, "decode request: json"),
    ):
        response = server.request("POST", "/v1/evaluate", body)
        assert response.status == status, body
        assert response.json["ok"] is False and response.json["error"].startswith(message), body
    # A request without a Content-Type is accepted.
    assert server.request("POST", "/v1/evaluate", b'{"call": {"name": "t"}}', headers={}).status
    assert not any(p.name.startswith(".") for p in (work / TRACES).iterdir())


def test_sse_and_ndjson_framings(serve: StartServer) -> None:
    server = serve("--policy", "allow.yaml")
    sse = server.evaluate({"adapter": "openai", "call": OPENAI_CALL}, path="/v1/evaluate/sse")
    assert sse.status == 200 and sse.headers["content-type"] == "text/event-stream"
    assert sse.headers["cache-control"] == "no-cache"
    event, data, blank, end = sse.body.decode().split("\n")
    assert (event, blank, end) == ("event: evaluate", "", "")
    assert json.loads(data.removeprefix("data: "))["verdict"] == "allow"
    stream = server.evaluate({"call": WRITE_CALL}, path="/v1/evaluate/stream")
    assert stream.headers["content-type"] == "application/x-ndjson"
    lines = stream.body.decode().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["exit_code"] == 0
    error = server.evaluate({"adapter": "openai"}, path="/v1/evaluate/sse")
    assert error.status == 400 and error.json["error"] == "request.call is required"


def test_session_journal_appends_and_reports_its_sequence(serve: StartServer, work: Path) -> None:
    server = serve("--policy", "allow.yaml")
    for expected in (1, 2, 3):
        out = server.evaluate({**BODY_SESSION, "checkpoint_interval": 2}).json
        assert (
            f"session_journal={SESSIONS}/sess-1.journal.jsonl sequence={expected}"
            in out["warnings"]
        )
        assert out["session_id"] == "sess-1"
        checkpoint = [w for w in out["warnings"] if w.startswith("session_checkpoint=")]
        assert len(checkpoint) == (1 if expected == 2 else 0)
    events = read_events(work / SESSIONS / "sess-1.journal.jsonl")
    assert [e["sequence"] for e in events] == [1, 2, 3]
    assert {e["session_id"] for e in events} == {"sess-1"}
    # The request's session id wins over the call's; another run of a session gets its own file.
    out = server.evaluate({"call": WRITE_CALL, "session_id": "sess-1"}).json
    assert "sess-1_run_mcp_" in " ".join(out["warnings"])


def test_client_artifact_paths_need_the_flag(serve: StartServer, work: Path) -> None:
    server = serve("--policy", "allow.yaml")
    for field in ("trace_path", "runpack_out", "pack_out"):
        out = server.evaluate({"call": WRITE_CALL, field: "mine"})
        assert out.status == 400
        assert out.json["error"] == f"request.{field} is not allowed by server configuration"
    out = server.evaluate({"call": WRITE_CALL, "session_id": "s", "session_journal": "j.jsonl"})
    assert out.json["error"] == "request.session_journal is not allowed by server configuration"
    out = server.evaluate({"call": WRITE_CALL, "emit_pack": True})
    assert out.json["error"] == "request.emit_pack requires server --pack-dir"
    server.stop()
    allowed = serve("--policy", "allow.yaml", "--allow-client-artifact-paths")
    answer = allowed.evaluate(
        {"call": WRITE_CALL, "trace_path": "mine/trace.json", "runpack_out": "mine/run.zip"}
    ).json
    assert answer["trace_path"] == "mine/trace.json" and (work / "mine/trace.json").exists()
    assert answer["runpack_path"] == "mine/run.zip" and (work / "mine/run.zip").exists()
    out = allowed.evaluate({"call": WRITE_CALL, "trace_path": "../escape.json"})
    assert out.status == 400


def test_emit_runpack_writes_into_the_runpack_dir(
    serve: StartServer, work: Path, gait: RunGait
) -> None:
    server = serve("--policy", "allow.yaml", "--runpack-dir", "runpacks")
    out = server.evaluate({"call": WRITE_CALL, "emit_runpack": True, "run_id": "my run"}).json
    assert out["run_id"] == "run_my_run"
    runpack = work / out["runpack_path"]
    assert runpack.parent.name == "runpacks" and runpack.name.startswith("runpack_run_my_run_")
    assert gait("verify", str(runpack), "--json", cwd=work).code == 0


def test_context_envelope_path_in_a_call_is_refused(serve: StartServer) -> None:
    server = serve("--policy", "allow.yaml")
    call = {**WRITE_CALL, "context": {**WRITE_CALL["context"], "context_envelope_path": "e.json"}}
    out = server.evaluate({"call": call})
    assert out.status == 400
    assert out.json["error"] == (
        "call.context.context_envelope_path is not supported; use --context-envelope at the "
        "boundary"
    )


def test_oss_prod_checks(serve: StartServer, work: Path) -> None:
    key = {"GAIT_TEST_KEY": SigningKey.generate().encode()}
    prod = ("--profile", "oss-prod", "--key-mode", "prod", "--private-key-env", "GAIT_TEST_KEY")
    server = serve("--policy", "allow.yaml", *prod, env=key)
    out = server.evaluate({"call": WRITE_CALL})
    assert out.status == 400
    assert out.json["error"] == (
        "oss-prod profile rejects policy default_verdict=allow; use default_verdict: block or "
        "require_approval"
    )
    assert traces(work) == []
    server.stop()
    server = serve("--policy", "block.yaml", *prod, env=key)
    strict_context = {**WRITE_CALL, "context": {**WRITE_CALL["context"], "session_id": "s1"}}
    oauth = {**strict_context["context"], "auth_mode": "oauth_dcr"}
    out = server.evaluate({"call": {**WRITE_CALL, "context": oauth}})
    assert (out.status, out.json["error"]) == (
        400,
        "oss-prod with OAuth auth mode requires context.oauth_evidence",
    )
    out = server.evaluate({"call": WRITE_CALL})
    assert out.json["error"] == "context.session_id is required in strict profile"
    out = server.evaluate({"call": strict_context})
    assert (out.status, out.json["verdict"]) == (200, "block")


def test_bearer_token_auth(serve: StartServer, work: Path) -> None:
    token = "s3cret-token-value"
    auth = ("--auth-mode", "token", "--auth-token-env", "GAIT_TOKEN")
    server = serve("--policy", "allow.yaml", *auth, env={"GAIT_TOKEN": token})
    assert server.request("GET", "/healthz").status == 200
    missing = server.evaluate({"call": WRITE_CALL})
    assert (missing.status, missing.json["error"]) == (401, "missing bearer authorization")
    wrong = server.evaluate({"call": WRITE_CALL}, headers={"Authorization": "Bearer nope"})
    assert (wrong.status, wrong.json["error"]) == (401, "invalid bearer authorization")
    lower = server.evaluate({"call": WRITE_CALL}, headers={"Authorization": f"bearer {token}"})
    assert lower.status == 401
    good = server.evaluate({"call": WRITE_CALL}, headers={"Authorization": f"Bearer {token}"})
    assert good.status == 200
    # The order of checks: method before auth, auth before content type.
    assert server.request("GET", "/v1/evaluate").status == 405
    assert server.evaluate({}, headers={"Content-Type": "text/plain"}).status == 401
    server.stop()
    assert token not in server.stdout + server.stderr


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (("--listen", "0.0.0.0:0"), {}, "non-loopback --listen requires --auth-mode token"),
        (("--listen", "bad-listen"), {}, "invalid --listen address: address bad-listen"),
        (("--listen", ""), {}, "listen address is required"),
        (("--auth-mode", "token"), {}, "--auth-mode token requires --auth-token-env"),
        (
            ("--auth-mode", "token", "--auth-token-env", "NOPE_UNSET"),
            {},
            "--auth-token-env did not resolve to a non-empty value",
        ),
        (("--auth-mode", "basic"), {}, "unsupported --auth-mode value (expected off or token)"),
        (("--max-request-bytes", "0"), {}, "--max-request-bytes must be > 0"),
        (("--http-verdict-status", "x"), {}, "unsupported --http-verdict-status value"),
        (("--trace-max-age", "-1h"), {}, "parse --trace-max-age: duration must be >= 0"),
        (("--trace-max-count", "-1"), {}, "retention max-count values must be >= 0"),
        (("--profile", "x"), {}, 'unsupported --profile value "x"'),
        (("--adapter", "x"), {}, "unsupported adapter: x"),
        (("--pack-dir", "p"), {}, "--pack-dir is not supported in this version"),
    ],
)
def test_startup_validation_exits_6(
    gait: RunGait, work: Path, args: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    run = gait("mcp", "serve", "--policy", "allow.yaml", *args, "--json", cwd=work, env=env)
    assert run.code == 6, run.stdout + run.stderr
    assert run.json["ok"] is False and run.json["error"].startswith(message)


def test_listen_is_loopback_table() -> None:
    from gait.errors import InvalidInputError
    from gait_cli.mcp_serve.config import is_loopback_listen

    for address, loopback in (
        ("localhost:8787", True),
        ("LOCALHOST:1", True),
        ("127.0.0.1:8787", True),
        ("127.3.2.1:8787", True),
        ("[::1]:8787", True),
        ("0.0.0.0:8787", False),
        ("example.com:8787", False),
        (":8787", False),
    ):
        assert is_loopback_listen(address) is loopback, address
    for bad in ("", "bad-listen"):
        with pytest.raises(InvalidInputError):
            is_loopback_listen(bad)


def _poll(condition: object, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_trace_retention_by_count_and_age(serve: StartServer, work: Path) -> None:
    server = serve("--policy", "allow.yaml", "--trace-max-count", "1")
    for _ in range(2):
        assert server.evaluate({"call": WRITE_CALL}).status == 200
    assert _poll(lambda: len(traces(work)) == 1)
    server.stop()
    old = work / TRACES / "trace_old.json"
    old.write_text("{}")
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    other = work / TRACES / "keep.txt"
    other.write_text("not a trace")
    os.utime(other, (time.time() - 7200, time.time() - 7200))
    server = serve("--policy", "allow.yaml", "--trace-max-age", "1h")
    assert server.evaluate({"call": WRITE_CALL}).status == 200
    assert _poll(lambda: not old.exists())
    assert other.exists() and len(traces(work)) == 2


def test_a_policy_edit_changes_the_next_decision_and_a_broken_one_keeps_the_last_good(
    serve: StartServer, work: Path
) -> None:
    policy = work / "live.yaml"
    policy.write_text(HEAD + "default_verdict: allow\n")
    server = serve("--policy", "live.yaml")
    assert server.evaluate({"call": WRITE_CALL}).json["verdict"] == "allow"
    policy.write_text(HEAD + "default_verdict: block\n")
    assert server.evaluate({"call": WRITE_CALL}).json["verdict"] == "block"
    # An edit that does not load never decides: the last good policy stays in force, and
    # /healthz says the policy in force is stale, and why (issue 15 §4).
    policy.write_text(HEAD + "default_verdict: allow\nrules: [unclosed\n")
    kept = server.evaluate({"call": WRITE_CALL})
    assert (kept.status, kept.json["verdict"]) == (200, "block")
    health = server.request("GET", "/healthz")
    assert health.status == 200 and health.json["policy"]["status"] == "stale"
    assert "live.yaml is invalid" in health.json["policy"]["error"]
    policy.unlink()
    assert server.evaluate({"call": WRITE_CALL}).json["verdict"] == "block"
    assert server.request("GET", "/healthz").json["policy"]["status"] == "stale"
    policy.write_text(HEAD + "default_verdict: require_approval\n")
    assert server.evaluate({"call": WRITE_CALL}).json["verdict"] == "require_approval"
    health = server.request("GET", "/healthz")
    assert (health.status, health.json) == (200, {"ok": True, "service": "gait.mcp.serve"})


RATE_LIMITED = (
    HEAD
    + """default_verdict: block
rules:
  - name: allow-writes-limited
    effect: allow
    match:
      tool_names: [tool.write]
    rate_limit:
      requests: 7
      window: hour
      scope: tool
"""
)


def test_workers_share_rate_limits_and_session_journals(serve: StartServer, work: Path) -> None:
    (work / "limited.yaml").write_text(RATE_LIMITED)
    server = serve("--policy", "limited.yaml", "--workers", "2")
    assert len(server.worker_pids()) == 2
    body = {"call": {**WRITE_CALL, "context": {**WRITE_CALL["context"], "session_id": "shared"}}}
    with ThreadPoolExecutor(8) as pool:
        outs = list(pool.map(lambda _: server.evaluate(body).json, range(40)))
    assert sum(out["verdict"] == "allow" for out in outs) == 7
    assert {out["verdict"] for out in outs} == {"allow", "block"}
    events = read_events(work / SESSIONS / "shared.journal.jsonl")
    assert sorted(e["sequence"] for e in events) == list(range(1, 41))
    assert server.stop() == 0


def test_sigterm_finishes_requests_in_flight_and_exits_0(serve: StartServer, work: Path) -> None:
    server = serve("--policy", "allow.yaml", "--workers", "2")
    with ThreadPoolExecutor(16) as pool:
        futures = [pool.submit(server.evaluate, {"call": WRITE_CALL}) for _ in range(64)]
        time.sleep(0.05)
        server.process.send_signal(signal.SIGTERM)
        answered = [f.result() for f in futures if f.exception() is None]
    assert server.stop() == 0
    assert answered and all(r.status == 200 for r in answered)
    names = {Path(r.json["trace_path"]).name for r in answered}
    assert names <= {p.name for p in traces(work)}
    assert [p for p in (work / TRACES).iterdir() if p.name.startswith(".")] == []
    for path in traces(work):
        json.loads(path.read_bytes())


def test_sigkill_under_load_leaves_no_partial_trace(serve: StartServer, work: Path) -> None:
    server = serve("--policy", "allow.yaml", "--workers", "2")
    pids = server.worker_pids()
    load = subprocess.Popen(
        [
            str(GAIT.parent / "python"),
            "-c",
            "import sys, json; from benchmarks.loadgen import run_load, request_bytes;"
            f"r = run_load({server.port}, [request_bytes('/v1/evaluate', sys.argv[1].encode())],"
            " connections=16, seconds=4)",
            json.dumps({"call": WRITE_CALL}),
        ],
        cwd=REPO,
    )
    time.sleep(1.5)
    for pid in [*pids, server.process.pid]:
        os.kill(pid, signal.SIGKILL)
    load.wait(30)
    server.stop()
    written = traces(work)
    assert written
    for path in written:
        record = json.loads(path.read_bytes())
        assert record["signature"]["sig"]
    # The temporaries of killed writers are removed at the next start.
    serve("--policy", "allow.yaml")
    assert [p for p in (work / TRACES).iterdir() if p.name.startswith(".")] == []


def test_bounded_load_no_errors_and_no_memory_growth(serve: StartServer) -> None:
    server = serve("--policy", "allow.yaml", "--workers", "2")
    requests = [request_bytes("/v1/evaluate", json.dumps(BODY_NO_SESSION).encode())]
    warm = run_load(server.port, requests, connections=32, seconds=1.0)
    assert warm.errors == () and set(warm.statuses) == {200}
    before = {pid: rss_kib(pid) for pid in server.worker_pids()}
    result = run_load(server.port, requests, connections=32, seconds=5.0)
    after = {pid: rss_kib(pid) for pid in before}
    assert result.errors == () and set(result.statuses) == {200}, result.statuses
    assert result.count > 1000
    for pid, rss in before.items():
        assert after[pid] <= rss * 1.2, (before, after)
