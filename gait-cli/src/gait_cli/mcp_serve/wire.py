"""The wire of `gait mcp serve` (integrations.md §1.9.4-§1.9.5): the request object read as the
reference's strict decoder reads it, the Content-Type check, error bodies, and responses."""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any, Final

from gait.intent import IntentDecodeError, decode_json_prefix

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_JSON = (b"content-type", b"application/json")
_TOKEN = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+"
_MEDIA_TYPE = re.compile(rf"^\s*({_TOKEN})/({_TOKEN})\s*$")
_PARAMETER = re.compile(rf'^\s*{_TOKEN}\s*=\s*(?:{_TOKEN}|"(?:[^"\\]|\\.)*")\s*$')

# The request object (§1.9.4): field -> (Python type, Go type for messages).
_FIELDS: Final[dict[str, tuple[type, str]]] = {
    "adapter": (str, "string"),
    "call": (dict, "map[string]interface {}"),
    "run_id": (str, "string"),
    "session_id": (str, "string"),
    "session_journal": (str, "string"),
    "checkpoint_interval": (int, "int"),
    "trace_path": (str, "string"),
    "runpack_out": (str, "string"),
    "emit_runpack": (bool, "bool"),
    "pack_out": (str, "string"),
    "emit_pack": (bool, "bool"),
}


class RequestError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else "null"


def media_type_error(value: str) -> str:
    """Go's mime.ParseMediaType check of a Content-Type header: "" when it is JSON."""
    media, *parameters = value.split(";")
    match = _MEDIA_TYPE.match(media)
    if match is None or not all(_PARAMETER.match(p) for p in parameters if p.strip()):
        return "invalid content-type header"
    if f"{match.group(1)}/{match.group(2)}".lower() != "application/json":
        return "content-type must be application/json"
    return ""


def decode_request(body: bytes) -> dict[str, Any]:
    """The request object, read as the reference's strict decoder reads it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise RequestError(400, "decode request: invalid UTF-8 in request body") from None
    if not text.strip(" \t\r\n"):
        raise RequestError(400, "decode request: EOF")
    try:
        value, end = decode_json_prefix(text, what="request")
    except IntentDecodeError as exc:
        raise RequestError(400, f"decode request: {exc}") from None
    if text[end:].strip(" \t\r\n"):
        raise RequestError(400, "request body must contain a single JSON object")
    if type(value) is not dict:
        raise RequestError(
            400,
            f"decode request: json: cannot unmarshal {_kind(value)} into Go value of type "
            "main.mcpServeEvaluateRequest",
        )
    out: dict[str, Any] = {}
    for key, raw in value.items():
        if key not in _FIELDS:
            raise RequestError(400, f'decode request: json: unknown field "{key}"')
        if raw is None:
            continue
        expected, go_type = _FIELDS[key]
        item = raw
        if expected is int:
            ok = type(raw) is float and raw.is_integer() and abs(raw) < 2**63
            item = int(raw) if ok else raw
        else:
            ok = type(raw) is expected
        if not ok:
            raise RequestError(
                400,
                f"decode request: json: cannot unmarshal {_kind(item)} into Go struct field "
                f"mcpServeEvaluateRequest.{key} of type {go_type}",
            )
        out[key] = item
    return out


def encode(payload: Mapping[str, Any]) -> bytes:
    return (json.dumps(payload, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def error_body(message: str) -> bytes:
    return encode({"ok": False, "error": message})


def header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return ""


async def respond(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = _JSON[1],
    allow: bytes = b"",
    close: bool = False,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if allow:
        headers.append((b"allow", allow))
    if close:
        headers.append((b"connection", b"close"))
    headers.extend(extra or ())
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
