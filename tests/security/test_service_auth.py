"""Issue 15 §2 and §5, the service's side: in token mode `gait mcp serve` accepts the
reference's bearer header or our HMAC headers, and signs every answer to an authenticated
request that carries a nonce (`X-Gait-Server-Auth`, over the exact bytes sent); a bad HMAC is
a 401 in the reference's order; a short token is refused at start; /healthz shows its detail
only to a client that authenticates."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gait.mcp import serviceauth
from tests.conftest import RunGait
from tests.mcp_server import Response, Server

HEAD = "schema_id: gait.gate.policy\nschema_version: 1.0.0\n"
TOKEN = "a-service-token-of-32-bytes-long"
KEY = TOKEN.encode()
CALL = {
    "name": "tool.write",
    "args": {"path": "/tmp/out.txt"},
    "targets": [{"kind": "path", "value": "/tmp/out.txt", "operation": "write"}],
    "context": {"identity": "alice", "workspace": "/repo", "risk_class": "low"},
}
AUTH = ("--auth-mode", "token", "--auth-token-env", "GAIT_TOKEN")


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("auth")
    (work / "policy.yaml").write_text(HEAD + "default_verdict: block\n")
    return work


@pytest.fixture(scope="module")
def server(work: Path) -> Iterator[Server]:
    started = Server(work, "--policy", "policy.yaml", *AUTH, env={"GAIT_TOKEN": TOKEN})
    yield started
    started.stop(signal.SIGKILL)


def _hmac_request(
    server: Server,
    path: str,
    body: bytes,
    *,
    method: str = "POST",
    key: bytes = KEY,
    unix_time: int | None = None,
    extra: dict[str, str] | None = None,
) -> tuple[Response, str]:
    nonce = serviceauth.new_nonce()
    headers = serviceauth.client_headers(
        key,
        method,
        path,
        body,
        nonce=nonce,
        unix_time=int(time.time()) if unix_time is None else unix_time,
    )
    headers.update(extra or {})
    return server.request(method, path, body if method == "POST" else None, headers=headers), nonce


def _verifies(response: Response, nonce: str, request_body: bytes) -> bool:
    return serviceauth.response_is_authentic(
        KEY,
        nonce=nonce,
        request_body=request_body,
        status=response.status,
        body=response.body,
        claimed=response.headers.get(serviceauth.RESPONSE_AUTH_HEADER, ""),
    )


@pytest.mark.parametrize("path", ["/v1/evaluate", "/v1/evaluate/sse", "/v1/evaluate/stream"])
def test_an_hmac_request_gets_a_signed_answer(server: Server, path: str) -> None:
    body = json.dumps({"call": CALL}).encode()
    response, nonce = _hmac_request(server, path, body)
    assert response.status == 200
    assert b'"verdict":"block"' in response.body
    assert _verifies(response, nonce, body)
    # Bound to this request: another nonce, body or status does not verify.
    assert not _verifies(response, serviceauth.new_nonce(), body)
    assert not _verifies(response, nonce, body + b" ")


def test_errors_after_authentication_are_signed_too(server: Server) -> None:
    body = b'{"adapter": "openai"}'
    response, nonce = _hmac_request(server, "/v1/evaluate", body)
    assert (response.status, response.json["error"]) == (400, "request.call is required")
    assert _verifies(response, nonce, body)
    wrong_type, nonce = _hmac_request(
        server, "/v1/evaluate", body, extra={"Content-Type": "text/plain"}
    )
    assert wrong_type.status == 415 and _verifies(wrong_type, nonce, body)


def test_a_bad_hmac_is_401_in_the_reference_order(server: Server) -> None:
    body = json.dumps({"call": CALL}).encode()
    wrong_key, _ = _hmac_request(
        server, "/v1/evaluate", body, key=b"another-token-of-32-bytes-long!!"
    )
    assert (wrong_key.status, wrong_key.json["error"]) == (401, "invalid request authentication")
    assert serviceauth.RESPONSE_AUTH_HEADER not in wrong_key.headers
    stale, _ = _hmac_request(server, "/v1/evaluate", body, unix_time=int(time.time()) - 3600)
    assert stale.status == 401
    # The HMAC covers the body: another body with these headers fails.
    nonce = serviceauth.new_nonce()
    headers = serviceauth.client_headers(
        KEY, "POST", "/v1/evaluate", body, nonce=nonce, unix_time=int(time.time())
    )
    swapped = server.request("POST", "/v1/evaluate", b'{"call": {"name": "x"}}', headers=headers)
    assert swapped.status == 401
    # ... and the path.
    moved = server.request("POST", "/v1/evaluate/sse", body, headers=headers)
    assert moved.status == 401
    # Method first (405), then authentication, before the content type (415).
    assert server.request("GET", "/v1/evaluate", headers=headers).status == 405
    bad_type = server.request(
        "POST", "/v1/evaluate", b"{}", headers={**headers, "Content-Type": "text/plain"}
    )
    assert bad_type.status == 401
    malformed = server.request(
        "POST", "/v1/evaluate", body, headers={**headers, serviceauth.NONCE_HEADER: "short"}
    )
    assert malformed.status == 401


def test_bearer_is_still_accepted_and_signed_when_it_brings_a_nonce(server: Server) -> None:
    body = json.dumps({"call": CALL}).encode()
    plain = server.request(
        "POST", "/v1/evaluate", body, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    assert plain.status == 200 and serviceauth.RESPONSE_AUTH_HEADER not in plain.headers
    nonce = serviceauth.new_nonce()
    signed = server.request(
        "POST",
        "/v1/evaluate",
        body,
        headers={"Authorization": f"Bearer {TOKEN}", serviceauth.NONCE_HEADER: nonce},
    )
    assert signed.status == 200 and _verifies(signed, nonce, body)


def test_healthz_shows_its_detail_only_with_the_token(server: Server, work: Path) -> None:
    policy = work / "policy.yaml"
    good = policy.read_text()
    policy.write_text(good + "rules: [unclosed\n")
    try:
        anonymous = server.request("GET", "/healthz")
        assert (anonymous.status, anonymous.json) == (
            200,
            {"ok": True, "service": "gait.mcp.serve"},
        )
        bearer = server.request("GET", "/healthz", headers={"Authorization": f"Bearer {TOKEN}"})
        assert bearer.json["policy"]["status"] == "stale"
        assert "policy.yaml is invalid" in bearer.json["policy"]["error"]
        signed, nonce = _hmac_request(server, "/healthz", b"", method="GET")
        assert signed.json["policy"]["status"] == "stale" and _verifies(signed, nonce, b"")
        wrong = server.request("GET", "/healthz", headers={"Authorization": "Bearer wrong"})
        assert wrong.json == {"ok": True, "service": "gait.mcp.serve"}
    finally:
        policy.write_text(good)


def test_a_short_token_is_refused_at_start(gait: RunGait, work: Path) -> None:
    run = gait(
        "mcp", "serve", "--policy", "policy.yaml", *AUTH, "--json",
        cwd=work, env={"GAIT_TOKEN": "fifteen-bytes!!"},
    )  # fmt: skip
    assert run.code == 6
    assert run.json["error"] == ("--auth-token-env GAIT_TOKEN: the token is shorter than 16 bytes")
    assert "fifteen-bytes!!" not in run.stdout + run.stderr


def test_the_token_never_reaches_the_output(work: Path) -> None:
    server = Server(work, "--policy", "policy.yaml", *AUTH, env={"GAIT_TOKEN": TOKEN})
    server.request("POST", "/v1/evaluate", b"{}", headers={"Authorization": "Bearer nope"})
    server.stop()
    assert TOKEN not in server.stdout + server.stderr
