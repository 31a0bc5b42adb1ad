"""JSON, one HTTP/1.1 request to a local service (loopback TCP or a Unix socket) and the
service authentication of gait.mcp.serviceauth, from the C parts of the standard library.

`gait gastown hook --serve` runs once per tool call and must cost little more than starting
Python: the `json` package imports `re` and `enum`, `socket`/`http.client` import `selectors`,
`email` and `ssl`, and `hmac`/`hashlib` load OpenSSL, which together cost more than the whole
budget. The C modules behind them (`_json`, `_socket`, `_sha256`, `_operator`) are what those
packages call; where one is missing (another Python implementation), the public module serves
instead. The HMAC here is byte-identical to serviceauth's (a test proves it).
"""

from __future__ import annotations

import os
import stat as _stat  # loaded by os at start-up
import sys
import time

TYPE_CHECKING = False  # typing costs start-up time; mypy honours this name
if TYPE_CHECKING:
    from _socket import socket as _SocketLike
    from collections.abc import Callable
    from typing import Any

try:
    import _json
    import _socket
except ImportError:  # pragma: no cover - CPython always has both
    _json = None  # type: ignore[assignment]
    _socket = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from hashlib import sha256
    from hmac import compare_digest
else:
    try:
        from _operator import _compare_digest as compare_digest
    except ImportError:  # pragma: no cover - CPython has it built in
        from hmac import compare_digest
    try:
        from _sha256 import sha256  # CPython 3.11 (without OpenSSL, which costs milliseconds)
    except ImportError:  # pragma: no cover - depends on the Python
        try:
            from _sha2 import sha256  # CPython 3.12+
        except ImportError:
            from hashlib import sha256

MAX_RESPONSE_BYTES = 1 << 20
_WHITESPACE = " \t\n\r"
_LOOPBACK_NAMES = ("localhost",)


class WireError(Exception):
    """Input or a response that cannot be used; the hook denies with this message."""


# ---- JSON -----------------------------------------------------------------------------------


def _reject_constant(name: str) -> object:
    raise WireError(f"{name} is not valid JSON")


_INFINITY = float("inf")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (_INFINITY, -_INFINITY):
        raise WireError(f"not valid JSON: number {text} is out of range")
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if len(text) >= 309:  # float64's largest value has 309 digits: Go refuses longer ones
        try:
            float(value)
        except OverflowError:
            raise WireError("not valid JSON: an integer is out of range") from None
    return value


# gait.strictjson.SIMPLE_FOLDS and fold (a test keeps them equal): Go's simple case folding.
_SIMPLE_FOLDS = {
    "\u1e9e": "\u00df", "\u1f88": "\u1f80", "\u1f89": "\u1f81", "\u1f8a": "\u1f82",
    "\u1f8b": "\u1f83", "\u1f8c": "\u1f84", "\u1f8d": "\u1f85", "\u1f8e": "\u1f86",
    "\u1f8f": "\u1f87", "\u1f98": "\u1f90", "\u1f99": "\u1f91", "\u1f9a": "\u1f92",
    "\u1f9b": "\u1f93", "\u1f9c": "\u1f94", "\u1f9d": "\u1f95", "\u1f9e": "\u1f96",
    "\u1f9f": "\u1f97", "\u1fa8": "\u1fa0", "\u1fa9": "\u1fa1", "\u1faa": "\u1fa2",
    "\u1fab": "\u1fa3", "\u1fac": "\u1fa4", "\u1fad": "\u1fa5", "\u1fae": "\u1fa6",
    "\u1faf": "\u1fa7", "\u1fbc": "\u1fb3", "\u1fcc": "\u1fc3", "\u1fd3": "\u0390",
    "\u1fe3": "\u03b0", "\u1ffc": "\u1ff3", "\ufb06": "\ufb05",
}  # fmt: skip


def _fold(key: str) -> str:
    folded = key.casefold()
    if len(folded) == len(key):
        return folded
    return "".join(f if len(f := c.casefold()) == 1 else _SIMPLE_FOLDS.get(c, c) for c in key)


def _strict_object(pairs: list[tuple[str, object]]) -> dict[str, object]:
    """gait.strictjson.strict_object (a test keeps them equal), without importing `json`:
    duplicate keys, or two keys that differ only in letter case, give two readings."""
    obj = dict(pairs)
    count = len(obj)
    if count != len(pairs):
        raise WireError("not valid JSON: duplicate key")
    if count > 1:
        keys = "".join(obj)
        if (not keys.isascii() or keys != keys.lower()) and len(set(map(_fold, obj))) != count:
            raise WireError("not valid JSON: keys that differ only in letter case")
    return obj


class _ScanContext:
    """What `_json.make_scanner` reads from a `json.JSONDecoder`: one reading of a document
    (no duplicate or case-variant keys, NaN, Infinity or numbers outside float64)."""

    strict = True
    object_hook = None
    object_pairs_hook = staticmethod(_strict_object)
    parse_float = staticmethod(_finite_float)
    parse_int = staticmethod(_bounded_int)
    parse_constant = staticmethod(_reject_constant)
    memo: dict[str, str] = {}  # noqa: RUF012 - the C scanner keeps its own memo


def loads(text: str) -> object:
    """One JSON value, with nothing but whitespace around it."""
    start = len(text) - len(text.lstrip(_WHITESPACE))
    try:
        if _json is None:  # pragma: no cover
            import json

            decoder = json.JSONDecoder(
                object_pairs_hook=_strict_object,
                parse_float=_finite_float,
                parse_int=_bounded_int,
                parse_constant=_reject_constant,
            )
            value, end = decoder.raw_decode(text, start)
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


def split_unix_url(url: str) -> str:
    """`unix:/run/gait/serve.sock` -> "/run/gait/serve.sock" (an absolute path: the hook runs
    in every worker's folder)."""
    path = url[len("unix:") :]
    if not path.startswith("/") or "\0" in path:
        raise WireError(f"--serve {url!r}: expected unix:/ABSOLUTE/PATH")
    return path


def post_json(
    address: tuple[str, int] | str,
    path: str,
    body: bytes,
    headers: dict[str, str],
    timeout: float,
    *,
    service_uid: int = -1,
) -> tuple[int, dict[str, str], bytes]:
    """POST `body` and return the status, headers (names in lower case) and body of the
    answer; at most `timeout` seconds in all, at most MAX_RESPONSE_BYTES read. `address` is
    (host, port), or the path of a Unix socket, whose server must run as `service_uid` (or
    root; checked before anything is sent)."""
    deadline = time.monotonic() + timeout
    for name, value in headers.items():
        if any(c in name + value for c in "\r\n\0"):
            raise WireError(f"header {name} holds a line break")
    if isinstance(address, str):
        host_header = "localhost"
        connection = _connect_unix(address, deadline, service_uid)
        try:
            check_peer_uid(connection, address, service_uid)
        except BaseException:
            connection.close()
            raise
    else:
        host_header = _host_header(*address)
        connection = _connect(*address, deadline)
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host_header}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n"
        + "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        + "\r\n"
    )
    try:
        connection.sendall(head.encode("latin-1") + body)
        raw = _read_all(connection, deadline)
    finally:
        connection.close()
    return _parse_response(raw)


_O_PATH = getattr(os, "O_PATH", 0)  # Linux
_MAX_SYMLINKS = 40  # as the kernel's own path walk


def _folder_ok(path: str, where: str, info: os.stat_result, expected: int) -> None:
    """A folder on the way to the service socket must belong to the service's uid or root,
    and nobody else may rename or replace what is in it: not writable by group or others,
    unless sticky (/tmp: there another user can add a name, never replace the service's)."""
    if not _stat.S_ISDIR(info.st_mode):
        raise WireError(f"the service socket {path}: {where} is not a folder")
    if info.st_uid not in (expected, 0):
        raise WireError(
            f"the service socket {path}: its folder {where} belongs to uid {info.st_uid}, not "
            f"the expected uid {expected} (--service-uid) or root; put the socket in a folder "
            "of the service's own, such as /run/gait"
        )
    if info.st_mode & 0o022 and not info.st_mode & _stat.S_ISVTX:
        raise WireError(
            f"the service socket {path}: its folder {where} is writable by others (mode "
            f"{info.st_mode & 0o7777:04o}) and not sticky, so they could replace the socket; "
            "make it 0755 or 0750, such as /run/gait"
        )


def service_socket(path: str, expected: int) -> tuple[str, list[int]]:
    """Where to connect for the service socket `path`, checked: every folder on the way (see
    _folder_ok), every symbolic link on the way owned by uid `expected` or root, and `path`
    itself a socket (never a link) of uid `expected` or root with one name only (a hard link
    another user made to some other service's socket has two). On Linux the path is walked
    one name at a time with O_PATH | O_NOFOLLOW descriptors, and the answer is
    /proc/self/fd/N: the very socket checked, whatever is renamed meanwhile. Elsewhere (no
    O_PATH or no /proc) the same checks are made with lstat and the answer is the real path.
    Also returns the descriptors to close once connected."""
    use_fds = bool(_O_PATH) and os.path.isdir("/proc/self/fd")
    flags = _O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC
    opened: list[int] = []
    try:
        root_fd = os.open("/", flags | os.O_DIRECTORY) if use_fds else -1
        if use_fds:
            opened.append(root_fd)
        folder_fd, folder = root_fd, "/"
        _folder_ok(path, folder, os.fstat(root_fd) if use_fds else os.lstat("/"), expected)
        pending = [name for name in reversed(path.split("/")) if name not in ("", ".")]
        links = 0
        while pending:
            name = pending.pop()
            where = os.path.dirname(folder) if name == ".." else os.path.join(folder, name)
            if use_fds:
                fd = os.open(name, flags, dir_fd=folder_fd)
                opened.append(fd)
                info = os.fstat(fd)
            else:
                fd, info = -1, os.lstat(where)
            if _stat.S_ISLNK(info.st_mode):
                if not pending:
                    raise WireError(
                        f"the service socket {path} is a symbolic link (to "
                        f"{os.readlink(where)!r}): give the socket's own path"
                    )
                links += 1
                if links > _MAX_SYMLINKS:
                    raise WireError(f"the service socket {path}: too many symbolic links")
                if info.st_uid not in (expected, 0):
                    raise WireError(
                        f"the service socket {path}: the symbolic link {where} on its way "
                        f"belongs to uid {info.st_uid}, not the expected uid {expected} "
                        "(--service-uid) or root"
                    )
                target = os.readlink(name, dir_fd=folder_fd) if use_fds else os.readlink(where)
                pending.extend(n for n in reversed(target.split("/")) if n not in ("", "."))
                if target.startswith("/"):
                    folder_fd, folder = root_fd, "/"
                continue
            if pending:
                _folder_ok(path, where, info, expected)
                folder_fd, folder = fd, where
                continue
            if not _stat.S_ISSOCK(info.st_mode):
                raise WireError(f"the service socket {path} is not a socket ({where})")
            if info.st_uid not in (expected, 0):
                raise WireError(
                    f"the service socket {path} belongs to uid {info.st_uid}, not the "
                    f"expected uid {expected} (--service-uid) or root: nothing was sent"
                )
            if info.st_nlink != 1:
                raise WireError(
                    f"the service socket {path} has {info.st_nlink} names (a hard link made "
                    "elsewhere?): nothing was sent"
                )
            return (f"/proc/self/fd/{fd}" if use_fds else where), opened
        raise WireError(f"the service socket {path} names no file")
    except BaseException:
        for fd in opened:
            os.close(fd)
        raise


def _connect_unix(path: str, deadline: float, expected: int) -> _SocketLike:
    address, opened = service_socket(path, expected)
    try:
        if _socket is None:  # pragma: no cover
            import socket

            connection: _SocketLike = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        else:
            connection = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            connection.settimeout(_remaining(deadline))
            connection.connect(address)
        except BaseException:
            connection.close()
            raise
    finally:
        for fd in opened:
            os.close(fd)
    return connection


def peer_uid(connection: _SocketLike) -> int:
    """The uid of the process that serves the Unix socket `connection` is connected to: the
    kernel's record (SO_PEERCRED on Linux: struct ucred {pid, uid, gid}; LOCAL_PEERCRED on
    macOS and the BSDs: struct xucred {version, uid, ...}), never anything the peer says."""
    module: Any = _socket
    if module is None:  # pragma: no cover
        import socket as module
    option = getattr(module, "SO_PEERCRED", None)
    if option is not None and sys.platform.startswith("linux"):
        data = connection.getsockopt(module.SOL_SOCKET, option, 12)
        if len(data) != 12:
            raise WireError("SO_PEERCRED gave no struct ucred")
        return int.from_bytes(data[4:8], sys.byteorder)
    option = getattr(module, "LOCAL_PEERCRED", None)
    if option is not None:
        data = connection.getsockopt(getattr(module, "SOL_LOCAL", 0), option, 76)
        if len(data) < 8 or int.from_bytes(data[:4], sys.byteorder) != 0:  # XUCRED_VERSION
            raise WireError("LOCAL_PEERCRED gave no struct xucred")
        return int.from_bytes(data[4:8], sys.byteorder)
    raise WireError(
        f"cannot check who serves a Unix socket on {sys.platform}: this Python exposes neither "
        "SO_PEERCRED nor LOCAL_PEERCRED; use http://127.0.0.1:PORT with --auth-token-env"
    )


def check_peer_uid(connection: _SocketLike, path: str, expected: int) -> None:
    """Refuse a socket served by anyone but uid `expected` or root."""
    found = peer_uid(connection)
    if found not in (expected, 0):
        raise WireError(
            f"the service socket {path} is served by uid {found}, not the expected uid "
            f"{expected} (--service-uid) or root: nothing was sent"
        )


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


def _parse_response(raw: bytes) -> tuple[int, dict[str, str], bytes]:
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
    return int(status_line[1]), headers, body


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


# ---- service authentication (gait.mcp.serviceauth, version 1) -------------------------------

_BLOCK = 64  # SHA-256's block size
_INNER = bytes(x ^ 0x36 for x in range(256))
_OUTER = bytes(x ^ 0x5C for x in range(256))
MIN_TOKEN_BYTES = 16  # serviceauth.MIN_TOKEN_BYTES (a test keeps them equal)
NONCE_HEADER = "X-Gait-Auth-Nonce"
TIME_HEADER = "X-Gait-Auth-Time"
REQUEST_AUTH_HEADER = "X-Gait-Auth"
RESPONSE_AUTH_HEADER = "x-gait-server-auth"  # as _parse_response keys it


def hmac_sha256_hex(key: bytes, message: bytes) -> str:
    """HMAC-SHA256 (RFC 2104), as `hmac.new(key, message, hashlib.sha256).hexdigest()`."""
    if len(key) > _BLOCK:
        key = sha256(key).digest()
    key = key.ljust(_BLOCK, b"\0")
    inner = sha256(key.translate(_INNER) + message).digest()
    return sha256(key.translate(_OUTER) + inner).hexdigest()


def _mac(key: bytes, *parts: str) -> str:
    return "v1=" + hmac_sha256_hex(key, "\n".join(parts).encode("utf-8"))


def request_auth(
    key: bytes, nonce: str, unix_time: int, method: str, path: str, body: bytes
) -> str:
    """serviceauth.request_auth: the value of `X-Gait-Auth`."""
    return _mac(
        key,
        "gait-request-v1",
        nonce,
        str(unix_time),
        method.upper(),
        path,
        sha256(body).hexdigest(),
    )


def response_auth(key: bytes, nonce: str, request_body: bytes, status: int, body: bytes) -> str:
    """serviceauth.response_auth: the value of `X-Gait-Server-Auth`."""
    return _mac(
        key,
        "gait-response-v1",
        nonce,
        sha256(request_body).hexdigest(),
        str(status),
        sha256(body).hexdigest(),
    )


def client_headers(key: bytes, method: str, path: str, body: bytes) -> tuple[str, dict[str, str]]:
    """A fresh nonce and the headers that prove the client holds `key` (serviceauth's
    client_headers), sent instead of the token."""
    nonce = os.urandom(32).hex()
    unix_time = int(time.time())
    mac = request_auth(key, nonce, unix_time, method, path, body)
    return nonce, {NONCE_HEADER: nonce, TIME_HEADER: str(unix_time), REQUEST_AUTH_HEADER: mac}


def response_is_authentic(
    key: bytes, *, nonce: str, request_body: bytes, status: int, body: bytes, claimed: str
) -> bool:
    """serviceauth.response_is_authentic: only then may the hook honour the answer."""
    if not key or not claimed:
        return False
    expected = response_auth(key, nonce, request_body, status, body)
    return compare_digest(expected.encode("ascii"), claimed.encode("utf-8", "replace"))
