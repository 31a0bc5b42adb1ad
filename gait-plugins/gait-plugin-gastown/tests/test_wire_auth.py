"""The hook's own HMAC (wire.py: `_sha256` and `_operator`, no OpenSSL on the start-up path) is
serviceauth's, byte for byte; and the kernel's word on who serves a Unix socket."""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import sys
import threading
import time
from pathlib import Path

import pytest
from gait_plugin_gastown import wire
from hypothesis import given, settings
from hypothesis import strategies as st

from gait.mcp import serviceauth

NONCES = st.binary(min_size=32, max_size=32).map(bytes.hex)
# keys around SHA-256's block size (64): shorter ones are padded, longer ones hashed first
KEYS = st.binary(min_size=0, max_size=200)


@settings(max_examples=300, deadline=None)
@given(key=KEYS, message=st.binary(max_size=300))
def test_hmac_is_the_standard_librarys(key: bytes, message: bytes) -> None:
    expected = hmac.new(key, message, hashlib.sha256).hexdigest()
    assert wire.hmac_sha256_hex(key, message) == expected


@settings(max_examples=200, deadline=None)
@given(
    key=KEYS,
    nonce=NONCES,
    unix_time=st.integers(min_value=0, max_value=2**40),
    method=st.sampled_from(["POST", "post", "GET"]),
    path=st.text(max_size=40),
    body=st.binary(max_size=200),
    answer=st.binary(max_size=200),
    status=st.sampled_from([200, 401, 403, 409, 500]),
)
def test_request_and_response_macs_are_serviceauths(
    key: bytes,
    nonce: str,
    unix_time: int,
    method: str,
    path: str,
    body: bytes,
    answer: bytes,
    status: int,
) -> None:
    assert wire.request_auth(key, nonce, unix_time, method, path, body) == (
        serviceauth.request_auth(key, nonce, unix_time, method, path, body)
    )
    mac = serviceauth.response_auth(key, nonce, body, status, answer)
    assert wire.response_auth(key, nonce, body, status, answer) == mac
    args = {"nonce": nonce, "request_body": body, "status": status, "body": answer}
    assert wire.response_is_authentic(key, claimed=mac, **args) == bool(key)  # type: ignore[arg-type]
    assert not wire.response_is_authentic(key, claimed=mac[:-1] + "x", **args)  # type: ignore[arg-type]
    assert not wire.response_is_authentic(key, claimed="", **args)  # type: ignore[arg-type]


def test_client_headers_authenticate_with_the_service() -> None:
    key = b"0123456789abcdef-token"
    nonce, headers = wire.client_headers(key, "POST", "/v1/evaluate", b"{}")
    assert serviceauth.is_nonce(nonce) and headers[wire.NONCE_HEADER] == nonce
    assert {name.lower() for name in headers} == {
        serviceauth.NONCE_HEADER,
        serviceauth.TIME_HEADER,
        serviceauth.REQUEST_AUTH_HEADER,
    }
    assert serviceauth.request_is_authentic(
        key,
        nonce=nonce,
        unix_time=headers[wire.TIME_HEADER],
        claimed=headers[wire.REQUEST_AUTH_HEADER],
        method="POST",
        path="/v1/evaluate",
        body=b"{}",
        now=float(headers[wire.TIME_HEADER]),
    )
    assert wire.client_headers(key, "POST", "/v1/evaluate", b"{}")[0] != nonce
    assert wire.MIN_TOKEN_BYTES == serviceauth.MIN_TOKEN_BYTES
    assert wire.RESPONSE_AUTH_HEADER == serviceauth.RESPONSE_AUTH_HEADER


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="SO_PEERCRED is Linux's")
def test_peer_uid_is_the_servers(tmp_path: Path) -> None:
    path = str(tmp_path / "s.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    accepted: list[socket.socket] = []
    thread = threading.Thread(target=lambda: accepted.append(server.accept()[0]))
    thread.start()
    try:
        client = wire._connect_unix(path, time.monotonic() + 5, os.getuid())
        try:
            assert wire.peer_uid(client) == os.getuid()
            wire.check_peer_uid(client, path, os.getuid())
            if os.getuid() != 0:
                with pytest.raises(wire.WireError, match=f"served by uid {os.getuid()}"):
                    wire.check_peer_uid(client, path, os.getuid() + 1)
            else:  # root serves: always accepted
                wire.check_peer_uid(client, path, 12345)
        finally:
            client.close()
    finally:
        thread.join(5)
        for connection in accepted:
            connection.close()
        server.close()


def test_unix_urls() -> None:
    assert wire.split_unix_url("unix:/run/gait/serve.sock") == "/run/gait/serve.sock"
    for bad in ("unix:relative.sock", "unix:", "unix:/a\0b"):
        with pytest.raises(wire.WireError, match="unix:/ABSOLUTE/PATH"):
            wire.split_unix_url(bad)
