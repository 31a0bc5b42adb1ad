"""Mutual authentication between `gait mcp serve` and its clients over TCP (docs/security.md).

The reference authenticates clients with `Authorization: Bearer <token>` and clients trust
whatever answers on the port. A process that binds the port first (the service restarting,
crashed, not yet started) would receive every token and could answer `allow`. So our clients
never send the token: they prove they hold it with an HMAC over a fresh nonce and the request,
and they honour an answer only if it carries the service's HMAC over the same nonce, the request
and the answer. A squatter learns nothing reusable, and cannot forge or swap an answer.

Wire form (version 1; K = the token's UTF-8 bytes, hex = lowercase hex, sha = SHA-256 hex):

    request headers
      X-Gait-Auth-Nonce: 64 hex characters (32 random bytes), fresh per request
      X-Gait-Auth-Time:  unix seconds, decimal
      X-Gait-Auth:       v1=hex(HMAC-SHA256(K, "gait-request-v1\\n" nonce "\\n" time "\\n"
                                             METHOD "\\n" path "\\n" sha(request body)))
    response header (only on a request that authenticated, by either scheme, with a nonce)
      X-Gait-Server-Auth: v1=hex(HMAC-SHA256(K, "gait-response-v1\\n" nonce "\\n"
                                   sha(request body) "\\n" status "\\n" sha(response body)))

The service still accepts the reference's bearer header. Standard library only (`hmac`,
`hashlib`, `os`), so clients that must start fast can import it.
"""

from __future__ import annotations

import hashlib
import hmac
import os

NONCE_HEADER = "x-gait-auth-nonce"
TIME_HEADER = "x-gait-auth-time"
REQUEST_AUTH_HEADER = "x-gait-auth"
RESPONSE_AUTH_HEADER = "x-gait-server-auth"
SCHEME = "v1="
# How far a request's time may be from the service's clock, either way. A request that proves the
# token is recorded by its nonce for as long as its time passes this check (the service refuses
# the same nonce again), so the window also sizes the service's nonce ledger.
MAX_CLOCK_SKEW_SECONDS = 60
# Shorter tokens are refused by the service at start-up (and by our clients).
MIN_TOKEN_BYTES = 16
NONCE_HEX_LENGTH = 64


def new_nonce() -> str:
    return os.urandom(NONCE_HEX_LENGTH // 2).hex()


def is_nonce(value: str) -> bool:
    return len(value) == NONCE_HEX_LENGTH and all(c in "0123456789abcdef" for c in value)


def _mac(key: bytes, *parts: str) -> str:
    return SCHEME + hmac.new(key, "\n".join(parts).encode("utf-8"), hashlib.sha256).hexdigest()


def request_auth(
    key: bytes, nonce: str, unix_time: int, method: str, path: str, body: bytes
) -> str:
    """The value of `X-Gait-Auth` for one request."""
    return _mac(
        key,
        "gait-request-v1",
        nonce,
        str(unix_time),
        method.upper(),
        path,
        hashlib.sha256(body).hexdigest(),
    )


def response_auth(key: bytes, nonce: str, request_body: bytes, status: int, body: bytes) -> str:
    """The value of `X-Gait-Server-Auth`: binds the answer to the request it answers."""
    return _mac(
        key,
        "gait-response-v1",
        nonce,
        hashlib.sha256(request_body).hexdigest(),
        str(status),
        hashlib.sha256(body).hexdigest(),
    )


def client_headers(
    key: bytes, method: str, path: str, body: bytes, *, nonce: str, unix_time: int
) -> dict[str, str]:
    """The three request headers a client sends instead of a bearer token."""
    return {
        NONCE_HEADER: nonce,
        TIME_HEADER: str(unix_time),
        REQUEST_AUTH_HEADER: request_auth(key, nonce, unix_time, method, path, body),
    }


def request_is_authentic(
    key: bytes,
    *,
    nonce: str,
    unix_time: str,
    claimed: str,
    method: str,
    path: str,
    body: bytes,
    now: float,
) -> bool:
    """The service's check of a request's `X-Gait-Auth` (constant time, bounded clock skew)."""
    if not key or not is_nonce(nonce) or not unix_time.isascii() or not unix_time.isdigit():
        return False
    if len(unix_time) > 12 or abs(int(unix_time) - now) > MAX_CLOCK_SKEW_SECONDS:
        return False
    expected = request_auth(key, nonce, int(unix_time), method, path, body)
    return hmac.compare_digest(expected.encode("ascii"), claimed.encode("utf-8", "replace"))


def response_is_authentic(
    key: bytes, *, nonce: str, request_body: bytes, status: int, body: bytes, claimed: str
) -> bool:
    """A client's check of the service's answer: only then may it honour the verdict."""
    if not key or not claimed:
        return False
    expected = response_auth(key, nonce, request_body, status, body)
    return hmac.compare_digest(expected.encode("ascii"), claimed.encode("utf-8", "replace"))
