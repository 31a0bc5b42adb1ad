"""The service/client HMAC exchange (gait.mcp.serviceauth): both sides agree, and nothing else
verifies."""

from __future__ import annotations

import time

from gait.mcp import serviceauth as sa

KEY = b"0123456789abcdef-service-token"


def test_request_round_trip_and_tamper() -> None:
    nonce = sa.new_nonce()
    now = int(time.time())
    headers = sa.client_headers(KEY, "post", "/v1/evaluate", b"{}", nonce=nonce, unix_time=now)
    assert sa.is_nonce(headers[sa.NONCE_HEADER])
    ok = {
        "nonce": nonce,
        "unix_time": str(now),
        "claimed": headers[sa.REQUEST_AUTH_HEADER],
        "method": "POST",
        "path": "/v1/evaluate",
        "body": b"{}",
        "now": now,
    }
    assert sa.request_is_authentic(KEY, **ok)  # type: ignore[arg-type]
    for field, value in [
        ("body", b"{ }"),
        ("path", "/v1/evaluate/sse"),
        ("nonce", sa.new_nonce()),
        ("unix_time", str(now + 1)),
        ("now", now + sa.MAX_CLOCK_SKEW_SECONDS + 1),
        ("claimed", "v1=" + "0" * 64),
        ("unix_time", "-1"),
    ]:
        assert not sa.request_is_authentic(KEY, **{**ok, field: value})  # type: ignore[arg-type]
    assert not sa.request_is_authentic(b"another-token-of-16b", **ok)  # type: ignore[arg-type]


def test_response_is_bound_to_its_request() -> None:
    nonce = sa.new_nonce()
    claimed = sa.response_auth(KEY, nonce, b"request", 200, b"answer")
    args = {"nonce": nonce, "request_body": b"request", "status": 200, "body": b"answer"}
    assert sa.response_is_authentic(KEY, claimed=claimed, **args)  # type: ignore[arg-type]
    for field, value in [
        ("nonce", sa.new_nonce()),
        ("request_body", b"other request"),
        ("status", 403),
        ("body", b"answer2"),
    ]:
        changed = {**args, field: value}
        assert not sa.response_is_authentic(KEY, claimed=claimed, **changed)  # type: ignore[arg-type]
    assert not sa.response_is_authentic(KEY, claimed="", **args)  # type: ignore[arg-type]
    assert not sa.response_is_authentic(b"", claimed=claimed, **args)  # type: ignore[arg-type]
