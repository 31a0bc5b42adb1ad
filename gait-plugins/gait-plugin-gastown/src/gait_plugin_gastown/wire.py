"""JSON and one HTTP/1.1 request to a loopback service, from the C parts of the standard library.

`gait gastown hook --serve` runs once per tool call and must cost little more than starting
Python: the `json` package imports `re` and `enum`, and `socket`/`http.client` import `selectors`,
`email` and `ssl`, which together cost more than the whole budget. The C modules behind them
(`_json`, `_socket`) are what those packages call; where one is missing (another Python
implementation), the public module serves instead.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False  # typing costs start-up time; mypy honours this name
if TYPE_CHECKING:
    from _socket import socket as _SocketLike
    from collections.abc import Callable

try:
    import _json
    import _socket
except ImportError:  # pragma: no cover - CPython always has both
    _json = None  # type: ignore[assignment]
    _socket = None  # type: ignore[assignment]

MAX_RESPONSE_BYTES = 1 << 20
_WHITESPACE = " \t\n\r"
_LOOPBACK_NAMES = ("localhost",)


class WireError(Exception):
    """Input or a response that cannot be used; the hook denies with this message."""


# ---- JSON -----------------------------------------------------------------------------------


def _reject_constant(name: str) -> object:
    raise WireError(f"{name} is not valid JSON")


class _ScanContext:
    """What `_json.make_scanner` reads from a `json.JSONDecoder`."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_reject_constant)
    memo: dict[str, str] = {}  # noqa: RUF012 - the C scanner keeps its own memo


def loads(text: str) -> object:
    """One JSON value, with nothing but whitespace around it."""
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        if _json is None:  # pragma: no cover
            import json

            value, end = json.JSONDecoder().raw_decode(text, start)
        else:
            # typeshed types the context as a JSONDecoder; the scanner reads only these attributes
            scan = _json.make_scanner(_ScanContext())  # type: ignore[arg-type]
            value, end = scan(text, start)
    except WireError:
        raise
    except StopIteration:
        raise WireError("not valid JSON: no value at the start") from None
    except (ValueError, RecursionError) as exc:
        raise WireError(f"not valid JSON: {exc}") from None
    if text[end:].strip(_WHITESPACE):
        raise WireError("not valid JSON: extra data after the value")
    return value


def _not_json(value: object) -> object:
    raise WireError(f"cannot encode a {type(value).__name__} as JSON")


def dumps(value: object) -> str:
    """Compact JSON, ASCII only (non-ASCII characters escaped)."""
    if _json is None:  # pragma: no cover
        import json

        return json.dumps(value, separators=(",", ":"), allow_nan=False)
    encode: Callable[[object, int], list[str]] = _json.make_encoder(
        None, _not_json, _json.encode_basestring_ascii, None, ":", ",", False, False, False
    )
    try:
        return "".join(encode(value, 0))
    except ValueError as exc:  # NaN or infinity
        raise WireError(str(exc)) from None


# ---- HTTP -----------------------------------------------------------------------------------


def split_service_url(url: str) -> tuple[str, int]:
    """`http://127.0.0.1:8787` -> ("127.0.0.1", 8787). Only plain HTTP to a loopback host: the
    bearer token would cross the network in clear text otherwise."""
    if not url.startswith("http://"):
        raise WireError(f"--serve {url!r}: expected http://HOST:PORT on loopback")
    authority = url[len("http://") :].rstrip("/")
    if "/" in authority or "@" in authority or "?" in authority or "#" in authority:
        raise WireError(f"--serve {url!r}: give the service's address only (http://HOST:PORT)")
    if authority.startswith("["):
        host, _, rest = authority[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = authority.rpartition(":")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise WireError(f"--serve {url!r}: a port is required (http://127.0.0.1:8787)")
    if not is_loopback(host):
        raise WireError(f"--serve {url!r}: the service must be on loopback (127.0.0.1, ::1)")
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES or host == "::1":
        return True
    parts = host.split(".")
    return (
        len(parts) == 4
        and parts[0] == "127"
        and all(part.isdigit() and int(part) < 256 for part in parts)
    )


def post_json(
    host: str, port: int, path: str, body: bytes, headers: dict[str, str], timeout: float
) -> tuple[int, bytes]:
    """POST `body` and return the status and body of the answer; at most `timeout` seconds in
    all, at most MAX_RESPONSE_BYTES read."""
    deadline = time.monotonic() + timeout
    for name, value in headers.items():
        if any(c in name + value for c in "\r\n\0"):
            raise WireError(f"header {name} holds a line break")
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {_host_header(host, port)}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        + "\r\n"
    )
    connection = _connect(host, port, deadline)
    try:
        connection.sendall(head.encode("latin-1") + body)
        raw = _read_all(connection, deadline)
    finally:
        connection.close()
    return _parse_response(raw)


def _host_header(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _remaining(deadline: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the service did not answer in time")
    return left


def _connect(host: str, port: int, deadline: float) -> _SocketLike:
    if _socket is None:  # pragma: no cover
        import socket

        return socket.create_connection((host, port), timeout=_remaining(deadline))
    if host.lower() in _LOOPBACK_NAMES:
        addresses = [
            (family, address[:2])
            for family, _, _, _, address in _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM)
        ]
    else:
        family = _socket.AF_INET6 if ":" in host else _socket.AF_INET
        addresses = [(family, (host, port))]
    error: OSError = OSError(f"cannot resolve {host}")
    for family, address in addresses:
        connection = _socket.socket(family, _socket.SOCK_STREAM)
        try:
            connection.settimeout(_remaining(deadline))
            connection.connect(address)
        except OSError as exc:
            connection.close()
            error = exc
            continue
        return connection
    raise error


def _read_all(connection: _SocketLike, deadline: float) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        connection.settimeout(_remaining(deadline))
        chunk = connection.recv(65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise WireError(f"the service's answer exceeds {MAX_RESPONSE_BYTES} bytes")
        chunks.append(chunk)


def _parse_response(raw: bytes) -> tuple[int, bytes]:
    head, separator, body = raw.partition(b"\r\n\r\n")
    if not separator:
        raise WireError("the service closed the connection before a whole answer")
    lines = head.decode("latin-1").split("\r\n")
    status_line = lines[0].split(" ", 2)
    if (
        len(status_line) < 2
        or not status_line[0].startswith("HTTP/1.")
        or not (status_line[1].isdigit())
    ):
        raise WireError("the service's answer is not HTTP/1.1")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _unchunk(body)
    elif headers.get("content-length", "").isdigit():
        length = int(headers["content-length"])
        if len(body) < length:
            raise WireError("the service's answer was cut short")
        body = body[:length]
    return int(status_line[1]), body


def _unchunk(data: bytes) -> bytes:
    out: list[bytes] = []
    while True:
        size_line, separator, data = data.partition(b"\r\n")
        try:
            size = int(size_line.split(b";")[0], 16)
        except ValueError:
            raise WireError("the service's chunked answer is malformed") from None
        if not separator or len(data) < size:
            raise WireError("the service's answer was cut short")
        if size == 0:
            return b"".join(out)
        out.append(data[:size])
        data = data[size + 2 :]
