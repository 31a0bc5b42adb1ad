"""Token-mode authentication of `gait mcp serve` (docs/mcp.md "Authentication",
docs/security.md; the wire form is `gait.mcp.serviceauth`).

A request authenticates with either scheme: the reference's `Authorization: Bearer <token>`,
or our clients' HMAC headers (`X-Gait-Auth-Nonce`, `X-Gait-Auth-Time`, `X-Gait-Auth`), which
prove the token without sending it. When `X-Gait-Auth` is present, the HMAC scheme decides.
Every answer to a request that authenticated and carries a well-formed nonce gets
`X-Gait-Server-Auth`: the service's HMAC over the nonce, the request body, the status and the
exact body sent, which is what lets a client tell the service from a squatter on its port.

The HMAC covers the request body, so that scheme reads the body (bounded by
`--max-request-bytes`, 413 above it, and by the worker's budget for bodies read before
authentication, 503 above it) before it can answer 401; the header checks that need no body
(nonce and time well-formed, time within the allowed skew) answer 401 first. A request whose
HMAC is valid is recorded in the service's nonce ledger (`nonces`): the same nonce again,
within the time window, is a replay (401 `replayed request`).
"""

from __future__ import annotations

import hmac
import time
from typing import Final

import attrs

from gait.mcp import serviceauth
from gait_cli.mcp_serve import nonces
from gait_cli.mcp_serve.wire import RequestError, Scope

INVALID: Final = "invalid request authentication"
REPLAYED: Final = "replayed request"
LEDGER_FULL: Final = "too many recent requests to tell a replay (nonce ledger full)"
SERVER_AUTH: Final = serviceauth.RESPONSE_AUTH_HEADER.encode()
_NONCE: Final = serviceauth.NONCE_HEADER.encode()
_TIME: Final = serviceauth.TIME_HEADER.encode()
_CLAIMED: Final = serviceauth.REQUEST_AUTH_HEADER.encode()


@attrs.frozen
class Credentials:
    """What a request presented: `hmac` tells the scheme; `nonce` is "" unless well-formed."""

    hmac: bool
    nonce: str = ""
    unix_time: str = ""
    claimed: str = ""


def _headers(scope: Scope) -> tuple[str, str, str, str]:
    authorization = nonce = unix_time = claimed = ""
    for name, value in scope["headers"]:
        if name == b"authorization":
            authorization = bytes(value).decode("latin-1")
        elif name == _NONCE:
            nonce = bytes(value).decode("latin-1").strip()
        elif name == _TIME:
            unix_time = bytes(value).decode("latin-1").strip()
        elif name == _CLAIMED:
            claimed = bytes(value).decode("latin-1").strip()
    return authorization, nonce, unix_time, claimed


class ServiceAuth:
    def __init__(self, token: bytes, ledger: nonces.NonceLedger | None) -> None:
        self.token = token
        # None only where no replay can matter (tests of the checks alone).
        self.ledger = ledger

    def check_headers(self, scope: Scope) -> Credentials:
        """The checks that need no body, in the reference's wording for the bearer scheme;
        RequestError 401 when they fail."""
        if not self.token:
            raise RequestError(401, "auth token is not configured")
        authorization, nonce, unix_time, claimed = _headers(scope)
        well_formed = nonce if serviceauth.is_nonce(nonce) else ""
        if claimed:
            if not well_formed or not _time_ok(unix_time):
                raise RequestError(401, INVALID)
            return Credentials(True, nonce, unix_time, claimed)
        authorization = authorization.strip()
        if not authorization.startswith("Bearer "):
            raise RequestError(401, "missing bearer authorization")
        provided = authorization[len("Bearer ") :].strip().encode("utf-8", "surrogateescape")
        if not hmac.compare_digest(provided, self.token):
            raise RequestError(401, "invalid bearer authorization")
        return Credentials(False, well_formed)

    def check_body(self, credentials: Credentials, scope: Scope, body: bytes) -> None:
        """The HMAC scheme's check over the request body (bearer was checked already), then
        the nonce ledger's: a valid request is decided once."""
        if not credentials.hmac:
            return
        now = time.time()
        if not serviceauth.request_is_authentic(
            self.token,
            nonce=credentials.nonce,
            unix_time=credentials.unix_time,
            claimed=credentials.claimed,
            method=scope["method"],
            path=scope["path"],
            body=body,
            now=now,
        ):
            raise RequestError(401, INVALID)
        if self.ledger is not None:
            seen = self.ledger.record(credentials.nonce, nonces.expiry(credentials.unix_time), now)
            if seen == nonces.REPLAYED:
                raise RequestError(401, REPLAYED)
            if seen == nonces.FULL:
                raise RequestError(503, LEDGER_FULL)

    def authenticates(self, scope: Scope, body: bytes = b"") -> Credentials | None:
        """The request's credentials when they are valid (either scheme), else None."""
        try:
            credentials = self.check_headers(scope)
            self.check_body(credentials, scope, body)
        except RequestError:
            return None
        return credentials

    def signature(
        self, nonce: str, request_body: bytes, status: int, body: bytes
    ) -> tuple[bytes, bytes]:
        """The `X-Gait-Server-Auth` header of an answer."""
        value = serviceauth.response_auth(self.token, nonce, request_body, status, body)
        return SERVER_AUTH, value.encode("ascii")


def _time_ok(unix_time: str) -> bool:
    if not unix_time.isascii() or not unix_time.isdigit() or len(unix_time) > 12:
        return False
    return abs(int(unix_time) - time.time()) <= serviceauth.MAX_CLOCK_SKEW_SECONDS
