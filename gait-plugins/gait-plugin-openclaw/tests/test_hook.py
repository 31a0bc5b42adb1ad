"""The OpenClaw plugin's `before_tool_call` handler, run in a real Node 24 against a real
`gait mcp serve` (token auth, the openclaw adapter), a real `gait mcp proxy`, and a loopback
server that answers badly: only `allow` lets a call run, and every failure blocks it."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from gait.mcp import serviceauth
from gait.testing import RunGait
from tests.mcp_server import Server, free_port

from .conftest import HookRun, drive_hook, install, node_env, write_policy

TOKEN_ENV = "GAIT_TEST_SERVE_TOKEN"
TOKEN = "s3cret-token-for-tests"
CTX = {"agentId": "main", "sessionKey": "agent:main:main", "toolName": "x"}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    work = tmp_path_factory.mktemp("serve")
    policy = write_policy(work)
    server = Server(
        work,
        "--policy",
        str(policy),
        "--auth-mode",
        "token",
        "--auth-token-env",
        TOKEN_ENV,
        env={"GAIT_PLUGINS": "openclaw", TOKEN_ENV: TOKEN},
    )
    yield server
    server.stop()


def serve_plugin(gait: RunGait, tmp_path: Path, url: str, *extra: str) -> Path:
    target = tmp_path / "plugin"
    install(gait, target, "--serve-url", url, "--token-env", TOKEN_ENV, *extra, "--no-register")
    return target


def ask(
    node_bin: Path, plugin: Path, tool: str, params: dict[str, Any] | None = None, **kw: Any
) -> HookRun:
    env = {TOKEN_ENV: TOKEN, **kw.pop("env", {})}
    return drive_hook(
        node_bin, plugin, {"toolName": tool, "params": params or {}}, CTX, env=env, **kw
    )


def assert_fail_closed(run: HookRun, why: str) -> None:
    assert run.result is not None
    assert run.result["block"] is True
    assert run.result["blockReason"].startswith("Gait could not decide this tool call")
    assert why in run.result["blockReason"], run.result["blockReason"]
    assert run.warnings, "an operator sees why in OpenClaw's log"


# ---- verdicts ------------------------------------------------------------------------------


def test_the_plugin_registers_one_before_tool_call_handler_that_runs_first(
    gait: RunGait, tmp_path: Path, node_bin: Path, service: Server
) -> None:
    plugin = serve_plugin(
        gait, tmp_path, f"http://127.0.0.1:{service.port}", "--timeout-ms", "3000"
    )
    run = ask(node_bin, plugin, "session_status")
    assert run.hooks == [
        {"name": "before_tool_call", "opts": {"priority": 1000, "timeoutMs": 5000}}
    ]


def test_each_verdict_becomes_its_hook_result(
    gait: RunGait, tmp_path: Path, node_bin: Path, service: Server
) -> None:
    plugin = serve_plugin(gait, tmp_path, f"http://127.0.0.1:{service.port}")

    assert ask(node_bin, plugin, "session_status").result is None  # allow: no objection

    blocked = ask(node_bin, plugin, "sessions_list").result
    assert blocked is not None and blocked["block"] is True
    assert blocked["blockReason"].startswith("Gait blocked this tool call")
    assert "session_listing_blocked" in blocked["blockReason"]
    assert "trace " in blocked["blockReason"]

    approval = ask(node_bin, plugin, "exec", {"command": "make test"}).result
    assert approval is not None and "block" not in approval
    assert approval["requireApproval"]["allowedDecisions"] == ["allow-once", "deny"]
    assert approval["requireApproval"]["title"] == "Gait: approval required for exec"
    assert "needs_approval" in approval["requireApproval"]["description"]

    simulated = ask(node_bin, plugin, "write", {"path": "/tmp/x", "content": "y"}).result
    assert simulated is not None and simulated["block"] is True
    assert "dry_run" in simulated["blockReason"]
    assert "writes_are_simulated" in simulated["blockReason"]

    traces = list((service.cwd / "gait-out" / "mcp-serve" / "traces").glob("*.json"))
    assert len(traces) >= 4
    assert not any("make test" in t.read_text() for t in traces), "no raw argument in a trace"


def test_an_unloaded_adapter_or_a_wrong_token_blocks(
    gait: RunGait, tmp_path: Path, node_bin: Path, service: Server
) -> None:
    plugin = serve_plugin(gait, tmp_path, f"http://127.0.0.1:{service.port}")
    other = "not-the-token-but-as-long"
    wrong = ask(node_bin, plugin, "session_status", env={TOKEN_ENV: other})
    assert_fail_closed(wrong, "HTTP 401")
    assert TOKEN not in json.dumps(wrong.result) and other not in json.dumps(wrong.result)
    short = ask(node_bin, plugin, "session_status", env={TOKEN_ENV: "short-token"})
    assert_fail_closed(short, f"the token in {TOKEN_ENV} has 11 bytes; the service needs at least")
    unset = drive_hook(
        node_bin,
        plugin,
        {"toolName": "session_status", "params": {}},
        CTX,
        env={k: v for k, v in node_env(node_bin).items() if k != TOKEN_ENV},
    )
    assert_fail_closed(unset, f"the token variable {TOKEN_ENV} is not set")


def test_a_stopped_service_blocks(gait: RunGait, tmp_path: Path, node_bin: Path) -> None:
    plugin = serve_plugin(gait, tmp_path, f"http://127.0.0.1:{free_port()}")
    assert_fail_closed(ask(node_bin, plugin, "session_status"), "ECONNREFUSED")


# ---- answers that are not decisions ---------------------------------------------------------


class BadService:
    """A loopback HTTP server whose every answer comes from `answer(handler)`; it holds the
    token, so its answers carry the service's proof unless `reply(..., sign=False)`."""

    def __init__(self, answer: Callable[[BaseHTTPRequestHandler], None]) -> None:
        class Handler(BaseHTTPRequestHandler):
            request_body = b""

            def do_POST(self) -> None:
                self.request_body = self.rfile.read(int(self.headers.get("content-length", "0")))
                answer(self)

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def reply(
    status: int, body: bytes, headers: dict[str, str] | None = None, *, sign: bool = True
) -> Callable[..., None]:
    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        proof = {}
        nonce = handler.headers.get(serviceauth.NONCE_HEADER, "")
        if sign and nonce:
            request_body = getattr(handler, "request_body", b"")
            proof[serviceauth.RESPONSE_AUTH_HEADER] = serviceauth.response_auth(
                TOKEN.encode(), nonce, request_body, status, body
            )
        for name, value in {
            "content-type": "application/json",
            **proof,
            **(headers or {}),
        }.items():
            handler.send_header(name, value)
        handler.send_header("content-length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer


def decision(**fields: Any) -> bytes:
    return json.dumps({"ok": True, "executed": False, **fields}).encode()


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (
            reply(500, b'{"ok": false, "error": "policy does not load"}'),
            "HTTP 500: policy does not load",
        ),
        (reply(409, decision(verdict="require_approval", exit_code=4)), "HTTP 409"),
        (reply(200, b"<html>hello</html>"), "the answer is not JSON"),
        (reply(200, b"[1, 2]"), "not a JSON object"),
        (reply(200, b'{"ok": false, "error": "nope"}'), "ok=false: nope"),
        (reply(200, decision(verdict="maybe", exit_code=0)), "no known verdict"),
        (reply(200, decision(verdict="allow", exit_code=3)), "verdict allow came with exit code 3"),
        (reply(200, decision(verdict="allow")), "verdict allow came with exit code undefined"),
        (reply(302, b"", {"location": "http://127.0.0.1:1/v1/evaluate"}), "fetch failed"),
        (reply(200, b" " * (1024 * 1024 + 10) + decision(verdict="allow", exit_code=0)), "1 MiB"),
    ],
    ids=[
        "http-500",
        "strict-409",
        "not-json",
        "not-object",
        "ok-false",
        "unknown-verdict",
        "exit-code-mismatch",
        "no-exit-code",
        "redirect",
        "oversized",
    ],
)
def test_an_answer_that_is_not_a_sound_decision_blocks(
    gait: RunGait, tmp_path: Path, node_bin: Path, answer: Callable[..., None], why: str
) -> None:
    bad = BadService(answer)
    try:
        plugin = serve_plugin(gait, tmp_path, bad.url)
        assert_fail_closed(ask(node_bin, plugin, "session_status"), why)
    finally:
        bad.close()


ALLOW = decision(verdict="allow", exit_code=0)


@pytest.mark.parametrize(
    "answer",
    [
        reply(200, ALLOW, sign=False),
        reply(200, ALLOW, {serviceauth.RESPONSE_AUTH_HEADER: "v1=" + "0" * 64}, sign=False),
        # a proof, but of another answer
        reply(200, ALLOW, {serviceauth.RESPONSE_AUTH_HEADER: "v1=" + "0" * 64}),
    ],
    ids=["no-proof", "forged-proof", "proof-replaced"],
)
def test_an_allow_the_service_cannot_prove_blocks(
    gait: RunGait, tmp_path: Path, node_bin: Path, answer: Callable[..., None]
) -> None:
    seen: list[dict[str, str]] = []

    def record(handler: BaseHTTPRequestHandler) -> None:
        seen.append(dict(handler.headers.items()))
        answer(handler)

    bad = BadService(record)
    try:
        plugin = serve_plugin(gait, tmp_path, bad.url)
        run = ask(node_bin, plugin, "session_status")
    finally:
        bad.close()
    assert_fail_closed(run, "the service could not prove it holds the token (HTTP 200")
    assert seen and not any(TOKEN in json.dumps(headers) for headers in seen)
    assert not any("authorization" in {k.lower() for k in headers} for headers in seen)


def test_plain_bearer_is_the_references_exchange(
    gait: RunGait, tmp_path: Path, node_bin: Path
) -> None:
    """`--plain-bearer` (off by default): the token as a bearer, an answer taken as it is."""
    seen: list[dict[str, str]] = []

    def record(handler: BaseHTTPRequestHandler) -> None:
        seen.append({k.lower(): v for k, v in handler.headers.items()})
        reply(200, ALLOW, sign=False)(handler)

    bad = BadService(record)
    try:
        plugin = serve_plugin(gait, tmp_path, bad.url, "--plain-bearer")
        run = ask(node_bin, plugin, "session_status")
    finally:
        bad.close()
    assert run.result is None
    assert seen[0]["authorization"] == f"Bearer {TOKEN}"
    assert serviceauth.NONCE_HEADER not in seen[0]


@pytest.mark.parametrize(
    "bad", ["\n", "\r", "\r\nX-Injected: 1", "\x01", "\x7f", " ", "\t", "\u00e9"],
    ids=["lf", "cr", "crlf-header", "soh", "del", "space", "tab", "non-ascii"],
)  # fmt: skip
def test_plain_bearer_refuses_a_token_that_cannot_go_in_a_header(
    gait: RunGait, tmp_path: Path, node_bin: Path, bad: str
) -> None:
    """Review L2: with plainBearer a token holding a line break made fetch() throw with
    "Bearer <token>" in its message, which went to the log and to the model (blockReason)."""
    seen: list[dict[str, str]] = []

    def record(handler: BaseHTTPRequestHandler) -> None:
        seen.append(dict(handler.headers.items()))
        reply(200, ALLOW, sign=False)(handler)

    token = f"{TOKEN[:10]}{bad}{TOKEN[10:]}"
    bad_service = BadService(record)
    try:
        plugin = serve_plugin(gait, tmp_path, bad_service.url, "--plain-bearer")
        run = ask(node_bin, plugin, "session_status", env={TOKEN_ENV: token})
    finally:
        bad_service.close()
    assert_fail_closed(run, f"the token in {TOKEN_ENV} holds a space, a control character")
    said = json.dumps([run.result, run.warnings])
    assert TOKEN[:10] not in said and TOKEN[10:] not in said
    assert seen == []


def test_a_fetch_error_is_reported_by_its_class_and_code_only(
    gait: RunGait, tmp_path: Path, node_bin: Path
) -> None:
    """Whatever fetch() throws (undici quotes an invalid header's value), neither the log nor
    the model reads more than the error's class and code."""
    plugin = serve_plugin(gait, tmp_path, "http://127.0.0.1:1", "--plain-bearer")
    script = tmp_path / "throwing_fetch.mjs"
    script.write_text(
        """
import { pathToFileURL } from "node:url";
const [dir] = process.argv.slice(2);
globalThis.fetch = async (url, init) => {
  const error = new TypeError(`Headers.append: "${init.headers.authorization}" is invalid.`);
  error.cause = { code: "ERR_INVALID_CHAR", message: init.headers.authorization };
  throw error;
};
const verdict = await import(pathToFileURL(`${dir}/gait-verdict.js`).href);
const warnings = [];
const settings = verdict.loadSettings(dir, {});
const result = await verdict.decide(
  settings, { toolName: "exec", params: {} }, {}, (m) => warnings.push(m));
process.stdout.write(JSON.stringify({ result, warnings }));
"""
    )
    done = subprocess.run(
        [str(node_bin / "node"), str(script), str(plugin)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**node_env(node_bin), TOKEN_ENV: TOKEN},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = json.loads(done.stdout)
    assert out["result"]["block"] is True
    assert "the request failed (TypeError, ERR_INVALID_CHAR)" in out["result"]["blockReason"]
    assert TOKEN not in done.stdout and "Bearer" not in done.stdout
    assert out["warnings"] and all(TOKEN not in warning for warning in out["warnings"])


def test_no_answer_in_time_blocks_within_the_timeout(
    gait: RunGait, tmp_path: Path, node_bin: Path
) -> None:
    def hang(handler: BaseHTTPRequestHandler) -> None:
        time.sleep(5)
        reply(200, decision(verdict="allow", exit_code=0))(handler)

    slow = BadService(hang)
    try:
        plugin = serve_plugin(gait, tmp_path, slow.url, "--timeout-ms", "500")
        run = ask(node_bin, plugin, "session_status")
        assert_fail_closed(run, "no verdict within 500 ms")
        assert run.ms < 2500
    finally:
        slow.close()


# ---- proxy mode ----------------------------------------------------------------------------


def proxy_plugin(gait: RunGait, tmp_path: Path, *extra: str) -> Path:
    target = tmp_path / "plugin"
    policy = write_policy(tmp_path)
    install(gait, target, "--mode", "proxy", "--policy", str(policy), *extra, "--no-register")
    return target


def test_proxy_mode_runs_gait_mcp_proxy_per_call(
    gait: RunGait, tmp_path: Path, node_bin: Path
) -> None:
    plugin = proxy_plugin(gait, tmp_path)
    env = {"OPENCLAW_STATE_DIR": str(tmp_path / "state")}
    assert ask(node_bin, plugin, "session_status", env=env).result is None
    blocked = ask(node_bin, plugin, "sessions_list", env=env).result
    assert blocked is not None and "session_listing_blocked" in blocked["blockReason"]
    approval = ask(node_bin, plugin, "exec", {"command": "ls"}, env=env).result
    assert approval is not None and "requireApproval" in approval
    traces = sorted((tmp_path / "state" / "gait" / "proxy").glob("trace_*.json"))
    assert len(traces) == 3


def test_proxy_mode_fails_closed(gait: RunGait, tmp_path: Path, node_bin: Path) -> None:
    plugin = proxy_plugin(gait, tmp_path)
    state = {"OPENCLAW_STATE_DIR": str(tmp_path / "state")}
    no_adapter = ask(node_bin, plugin, "session_status", env={**state, "GAIT_PLUGINS": ""})
    assert_fail_closed(no_adapter, "unsupported adapter: openclaw")

    missing = ask(
        node_bin,
        plugin,
        "session_status",
        env=state,
        plugin_config={"gaitBin": str(tmp_path / "no-such-gait")},
    )
    assert_fail_closed(missing, "was not found")

    hanging = tmp_path / "hanging-gait"
    hanging.write_text("#!/bin/sh\nexec sleep 30\n")
    hanging.chmod(0o755)
    started = time.monotonic()
    slow = ask(
        node_bin,
        plugin,
        "session_status",
        env=state,
        plugin_config={"gaitBin": str(hanging), "timeoutMs": 500},
    )
    assert_fail_closed(slow, "no verdict within 500 ms")
    assert time.monotonic() - started < 10, "the child was killed, not waited for"


# ---- configuration -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("plugin_config", "why"),
    [
        ({"serveUrll": "http://127.0.0.1:1"}, "unknown key serveUrll"),
        ({"timeoutMs": 5}, "timeoutMs must be an integer from 100 to 60000"),
        ({"mode": "maybe"}, "mode must be serve or proxy"),
        ({"serveUrl": "file:///etc/passwd"}, "serveUrl must be an http or https URL"),
        ({"serveUrl": "http://me:pw@127.0.0.1:1"}, "serveUrl must not carry credentials"),
        ({"tokenEnv": "A-B"}, "tokenEnv must name an environment variable"),
        ({"tokenEnv": ""}, "serve mode needs tokenEnv"),
        ({"serveUrl": "http://10.0.0.1:8787"}, "plain http only to loopback"),
        ({"serveUrl": "http://127.0.0.1.example.com:8787"}, "plain http only to loopback"),
        ({"mode": "proxy"}, "proxy mode needs a policy"),
    ],
)
def test_a_bad_setting_blocks_every_call(
    gait: RunGait,
    tmp_path: Path,
    node_bin: Path,
    service: Server,
    plugin_config: dict[str, Any],
    why: str,
) -> None:
    plugin = serve_plugin(gait, tmp_path, f"http://127.0.0.1:{service.port}")
    run = ask(node_bin, plugin, "session_status", plugin_config=plugin_config)
    assert run.result is not None and run.result["block"] is True
    assert run.result["blockReason"].startswith("the Gait plugin is misconfigured")
    assert why in run.result["blockReason"]


def test_every_setting_of_the_config_schema_is_understood(
    gait: RunGait, tmp_path: Path, node_bin: Path, service: Server
) -> None:
    plugin = serve_plugin(gait, tmp_path, f"http://127.0.0.1:{service.port}")
    schema = json.loads((plugin / "openclaw.plugin.json").read_text())["configSchema"]
    examples = {"string": "", "integer": 5000, "boolean": False}
    config = {key: examples[spec["type"]] for key, spec in schema["properties"].items()}
    config.update(
        mode="serve",
        serveUrl=f"http://127.0.0.1:{service.port}",
        tokenEnv=TOKEN_ENV,
        gaitBin="gait",
        workspace="/srv/agent",
    )
    assert ask(node_bin, plugin, "session_status", plugin_config=config).result is None


# ---- the skill's check ---------------------------------------------------------------------


def test_gait_check_answers_as_the_hook_would(
    gait: RunGait, tmp_path: Path, node_bin: Path, service: Server
) -> None:
    plugin = serve_plugin(gait, tmp_path, f"http://127.0.0.1:{service.port}")
    check = plugin / "skills" / "gait-gate" / "gait-check.mjs"
    env = {**node_env(node_bin), TOKEN_ENV: TOKEN}

    def run(*args: str) -> tuple[int, dict[str, Any]]:
        done = subprocess.run(
            [str(check), *args], capture_output=True, text=True, env=env, timeout=60, check=False
        )
        return done.returncode, json.loads(done.stdout)

    assert run("session_status") == (0, {"outcome": "allow", "tool": "session_status"})
    code, blocked = run("sessions_list")
    assert (code, blocked["outcome"]) == (3, "block")
    assert "session_listing_blocked" in blocked["reason"]
    code, approval = run("exec", '{"command": "make"}')
    assert (code, approval["outcome"]) == (4, "require_approval")
    assert run("exec", "not json")[0] == 6
    assert run()[0] == 6
    assert os.access(check, os.X_OK)
