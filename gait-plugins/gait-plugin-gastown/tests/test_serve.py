"""`gait gastown hook --serve`: the decision of a real `gait mcp serve` process (with this plugin
loaded, for the `gastown` adapter), its token auth, and a deny whenever it cannot decide."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from gait.testing import Run
from tests.mcp_server import Server, free_port

from .conftest import POLECAT, HookRunner, claude_event

TOKEN = "gastown-test-token-0123456789"


@pytest.fixture
def service(tmp_path: Path, policy: Path) -> Iterator[Server]:
    work = tmp_path / "service"
    work.mkdir()
    server = Server(
        work,
        "--policy", str(policy), "--auth-mode", "token", "--auth-token-env", "GAIT_TEST_TOKEN",
        env={"GAIT_PLUGINS": "gastown", "GAIT_TEST_TOKEN": TOKEN},
    )  # fmt: skip
    try:
        yield server
    finally:
        server.stop()


def ask(
    hook: HookRunner, server: Server, command: str, *extra: str, env: dict[str, str] | None = None
) -> Run:
    return hook(
        "--serve", f"http://127.0.0.1:{server.port}", "--auth-token-env", "GAIT_TOKEN", *extra,
        event=claude_event(command),
        env={**POLECAT, "GAIT_TOKEN": TOKEN, **(env or {})},
    )  # fmt: skip


def test_the_service_decides_allow_and_block(
    hook: HookRunner, service: Server, policy: Path, tmp_path: Path
) -> None:
    allowed = ask(hook, service, "ls -la")
    assert (allowed.code, allowed.stdout, allowed.stderr) == (0, "", "")
    blocked = ask(hook, service, "touch blocked.marker")
    assert blocked.code == 2 and blocked.stdout == ""
    assert blocked.stderr.startswith("gait blocked this call (verdict block; reason_codes ")
    assert "gastown_test_blocked" in blocked.stderr
    # the service wrote the traces; the hook wrote nothing where it ran
    traces = sorted((service.cwd / "gait-out" / "mcp-serve" / "traces").glob("trace_*.json"))
    assert [json.loads(t.read_text())["verdict"] for t in traces] == ["allow", "block"]
    assert not (tmp_path / "gait-out").exists()
    # and decided as the hook does in process: same digests, so the same trace id
    local = hook(
        "--policy", str(policy), "--trace-out", "local/trace_x.json",
        event=claude_event("touch blocked.marker"), env=POLECAT,
    )  # fmt: skip
    assert local.code == 2
    trace = json.loads((tmp_path / "local" / "trace_x.json").read_text())
    served = json.loads(traces[1].read_text())
    for key in ("intent_digest", "policy_digest", "verdict", "trace_id"):
        assert served[key] == trace[key], key
    assert local.stderr == blocked.stderr


def test_require_approval_through_the_service_asks(hook: HookRunner, service: Server) -> None:
    run = ask(hook, service, "touch approval.marker")
    assert run.code == 0
    assert json.loads(run.stdout)["hookSpecificOutput"]["permissionDecision"] == "ask"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"GAIT_TOKEN": "wrong-but-16-bytes-long"}, "HTTP 401"),
        ({"GAIT_TOKEN": "short"}, "holds a token of 5 bytes; the service needs at least 16"),
        ({"GAIT_TOKEN": ""}, "--auth-token-env GAIT_TOKEN is not set"),
    ],
)
def test_a_refused_token_is_a_deny(
    hook: HookRunner, service: Server, env: dict[str, str], message: str
) -> None:
    run = ask(hook, service, "ls", env=env)
    assert run.code == 2
    assert message in run.stderr and TOKEN not in run.stderr


def test_plain_bearer_is_the_references_exchange(hook: HookRunner, service: Server) -> None:
    """--plain-bearer (off by default): the token as a bearer, for the reference's service."""
    run = ask(hook, service, "touch blocked.marker", "--plain-bearer")
    assert run.code == 2 and "gastown_test_blocked" in run.stderr


@pytest.mark.parametrize(
    "bad", ["\n", "\r", "\r\nX-Injected: 1", "\x01", "\x7f", " ", "\t", "\u00e9"],
    ids=["lf", "cr", "crlf-header", "soh", "del", "space", "tab", "non-ascii"],
)  # fmt: skip
def test_plain_bearer_refuses_a_token_that_cannot_go_in_a_header(
    hook: HookRunner, service: Server, bad: str
) -> None:
    """Review L2: the token goes in the Authorization header with --plain-bearer; one holding
    a control or non-visible-ASCII character is refused, and no message quotes it."""
    token = f"{TOKEN[:12]}{bad}{TOKEN[12:]}"
    run = ask(hook, service, "ls", "--plain-bearer", env={"GAIT_TOKEN": token})
    assert run.code == 2
    assert "--auth-token-env GAIT_TOKEN holds a space, a control character" in run.stderr
    assert TOKEN[:12] not in run.stderr and TOKEN[12:] not in run.stderr


def test_a_service_that_is_down_is_a_deny(hook: HookRunner, service: Server) -> None:
    service.stop()
    run = ask(hook, service, "ls")
    assert run.code == 2
    assert (
        "gait blocked this call: the gate failed closed: no answer from the service" in run.stderr
    )
    nothing = hook(
        "--serve", f"http://localhost:{free_port()}", "--plain-bearer", event=claude_event("ls")
    )
    assert nothing.code == 2 and "no answer from the service" in nothing.stderr
    socket = hook("--serve", f"unix:{service.cwd}/none.sock", event=claude_event("ls"))
    assert socket.code == 2 and "no answer from the service" in socket.stderr


def test_a_service_without_the_plugin_is_a_deny(
    hook: HookRunner, tmp_path: Path, policy: Path
) -> None:
    server = Server(tmp_path, "--policy", str(policy))  # GAIT_PLUGINS= : no gastown adapter
    try:
        run = hook(
            "--serve", f"http://127.0.0.1:{server.port}", "--plain-bearer",
            event=claude_event("ls"),
        )  # fmt: skip
    finally:
        server.stop()
    assert run.code == 2
    assert "the service refused the call (HTTP 400): unsupported adapter: gastown" in run.stderr


def test_strict_verdict_status_is_read_too(hook: HookRunner, tmp_path: Path, policy: Path) -> None:
    server = Server(
        tmp_path, "--policy", str(policy), "--http-verdict-status", "strict",
        env={"GAIT_PLUGINS": "gastown"},
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{server.port}"  # no token: the reference's exchange
        blocked = hook("--serve", url, "--plain-bearer", event=claude_event("touch blocked.marker"))
        approval = hook(
            "--serve", url, "--plain-bearer", event=claude_event("touch approval.marker")
        )
        allowed = hook("--serve", url, "--plain-bearer", event=claude_event("ls"))
    finally:
        server.stop()
    assert blocked.code == 2 and "gastown_test_blocked" in blocked.stderr  # HTTP 403
    assert approval.code == 0 and '"permissionDecision":"ask"' in approval.stdout  # HTTP 409
    assert allowed.code == 0
