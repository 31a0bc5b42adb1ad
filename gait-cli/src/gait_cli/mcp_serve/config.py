"""`gait mcp serve` settings: checked once at start-up (integrations.md §1.9.1-§1.9.2), then
handed to every worker process through one environment variable (never a secret: the auth
token and a private key travel as the *names* of their environment variables or files)."""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import attrs

from gait.errors import InvalidInputError
from gait.mcp import serviceauth
from gait.timefmt import parse_go_duration

CONFIG_ENV: Final = "GAIT_MCP_SERVE_CONFIG"
DEFAULT_LISTEN: Final = "127.0.0.1:8787"
DEFAULT_MAX_REQUEST_BYTES: Final = 1 << 20
UNIX_PREFIX: Final = "unix:"
# The limits on hostile clients (docs/mcp.md "Limits"): the reference's Go timeouts, and sizes.
DEFAULT_MAX_HEADER_BYTES: Final = 16 << 10
DEFAULT_MAX_CONNECTIONS: Final = 1024
DEFAULT_SOCKET_MODE: Final = 0o600
RETENTION_CLASSES: Final = ("trace", "runpack", "session")


@attrs.frozen(kw_only=True)
class ServeConfig:
    policy: str
    listen: str = DEFAULT_LISTEN
    adapter: str = "mcp"
    profile: str = "standard"
    auth_mode: str = "off"
    auth_token_env: str = ""
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    http_verdict_status: str = "compat"
    allow_client_artifact_paths: bool = False
    trace_dir: str = "./gait-out/mcp-serve/traces"
    runpack_dir: str = ""
    session_dir: str = "./gait-out/mcp-serve/sessions"
    # class -> (max age in ns, max count)
    retention: dict[str, tuple[int, int]] = attrs.field(factory=dict)
    key_mode: str = "dev"
    private_key: str = ""
    private_key_env: str = ""
    # The signer plugin of --key-mode prod (gait.signers), as `gait gate eval --signer`.
    signer: str = "ed25519"
    rate_limit_state: str = ""
    plugins: bool = True
    # Sink plugins (`gait_bridge`, kind "sink") that receive every non-allow decision's trace.
    bridges: list[str] = attrs.field(factory=list)
    # Decision exports, server-wide: the JSONL files and exporter plugins (`--export NAME`).
    export_log_out: str = ""
    export_otel_out: str = ""
    exports: list[str] = attrs.field(factory=list)
    workers: int = 1
    threads: int = 16
    graceful_timeout: int = 30
    # Unix-socket listener: the socket file's mode.
    socket_mode: int = DEFAULT_SOCKET_MODE
    # Per worker process; timeouts in seconds.
    max_header_bytes: int = DEFAULT_MAX_HEADER_BYTES
    header_timeout: float = 5.0
    read_timeout: float = 30.0
    write_timeout: float = 30.0
    idle_timeout: float = 60.0
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    def to_env(self) -> str:
        return json.dumps(attrs.asdict(self))

    @classmethod
    def from_env(cls) -> ServeConfig:
        data: dict[str, Any] = json.loads(os.environ[CONFIG_ENV])
        data["retention"] = {k: (int(v[0]), int(v[1])) for k, v in data["retention"].items()}
        return cls(**data)

    @property
    def host_port(self) -> tuple[str, int]:
        host, port = split_host_port(self.listen)
        return host, int(port)

    @property
    def unix_path(self) -> str:
        """The socket path of `--listen unix:PATH`, "" for a TCP listener."""
        return self.listen[len(UNIX_PREFIX) :] if self.listen.startswith(UNIX_PREFIX) else ""


def split_host_port(address: str) -> tuple[str, str]:
    """Go's net.SplitHostPort, with its error messages."""
    if address.startswith("["):
        close = address.find("]")
        if close < 0:
            raise ValueError(f"address {address}: missing ']' in address")
        host, rest = address[1:close], address[close + 1 :]
        if not rest.startswith(":"):
            raise ValueError(f"address {address}: missing port in address")
        return host, rest[1:]
    if ":" not in address:
        raise ValueError(f"address {address}: missing port in address")
    host, port = address.rsplit(":", 1)
    if ":" in host:
        raise ValueError(f"address {address}: too many colons in address")
    return host, port


def is_loopback_listen(listen: str) -> bool:
    """`localhost` or a loopback IP literal; any other host (and an empty one) is not."""
    address = listen.strip()
    if not address:
        raise InvalidInputError("listen address is required")
    try:
        host, port = split_host_port(address)
    except ValueError as exc:
        raise InvalidInputError(f"invalid --listen address: {exc}") from None
    if not port.isdigit() or int(port) > 65535:
        raise InvalidInputError(
            f'invalid --listen address: address {address}: invalid port "{port}"'
        )
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_duration(flag: str, raw: str) -> int:
    """A Go duration in nanoseconds; empty or `0` is off, a negative one is refused."""
    text = raw.strip()
    if text in ("", "0"):
        return 0
    try:
        value = parse_go_duration(text)
    except ValueError:
        raise InvalidInputError(f'parse {flag}: time: invalid duration "{text}"') from None
    if value < 0:
        raise InvalidInputError(f"parse {flag}: duration must be >= 0")
    return value


def parse_timeout(flag: str, raw: str) -> float:
    """A limit's Go duration in seconds; it must be > 0 (a limit cannot be turned off)."""
    text = raw.strip()
    try:
        value = parse_go_duration(text)
    except ValueError:
        raise InvalidInputError(f'parse {flag}: time: invalid duration "{text}"') from None
    if value <= 0:
        raise InvalidInputError(f"{flag} must be > 0")
    return value / 1e9


def parse_socket_mode(raw: str) -> int:
    """`--socket-mode`: octal permission bits, owner read and write included, none for others'
    write beyond the group (0600 to 0666)."""
    text = raw.strip()
    try:
        mode = int(text, 8)
    except ValueError:
        raise InvalidInputError(
            f"invalid --socket-mode {text!r} (expected octal, e.g. 0660)"
        ) from None
    if mode & ~0o777 or mode & 0o600 != 0o600:
        raise InvalidInputError(
            f"invalid --socket-mode {text!r} (expected octal permission bits including 0600)"
        )
    return mode


def token_of(config: ServeConfig, environ: Mapping[str, str] | None = None) -> bytes:
    """The service token: the UTF-8 bytes of `--auth-token-env`'s value, surrounding white
    space removed (clients key their HMAC with the same bytes)."""
    env = os.environ if environ is None else environ
    return env.get(config.auth_token_env, "").strip().encode("utf-8", "surrogateescape")


def check(config: ServeConfig, environ: dict[str, str] | None = None) -> ServeConfig:
    """The start-up checks of §1.9.2, in the reference's order, plus this version's own."""
    env = os.environ if environ is None else environ
    if config.auth_mode not in ("off", "token"):
        raise InvalidInputError("unsupported --auth-mode value (expected off or token)")
    if config.listen.startswith(UNIX_PREFIX):
        # A Unix socket is guarded by its file mode, so auth may be off (loopback rule: TCP).
        if not config.unix_path.strip() or "\0" in config.unix_path:
            raise InvalidInputError("invalid --listen address: unix: needs a socket path")
    elif not is_loopback_listen(config.listen) and config.auth_mode != "token":
        raise InvalidInputError("non-loopback --listen requires --auth-mode token")
    if config.auth_mode == "token":
        if not config.auth_token_env.strip():
            raise InvalidInputError("--auth-mode token requires --auth-token-env")
        if not env.get(config.auth_token_env, "").strip():
            raise InvalidInputError("--auth-token-env did not resolve to a non-empty value")
        if len(token_of(config, env)) < serviceauth.MIN_TOKEN_BYTES:
            raise InvalidInputError(
                f"--auth-token-env {config.auth_token_env}: the token is shorter than "
                f"{serviceauth.MIN_TOKEN_BYTES} bytes"
            )
    if config.max_request_bytes <= 0:
        raise InvalidInputError("--max-request-bytes must be > 0")
    if config.http_verdict_status not in ("compat", "strict"):
        raise InvalidInputError(
            "unsupported --http-verdict-status value (expected compat or strict)"
        )
    if any(count < 0 for _, count in config.retention.values()):
        raise InvalidInputError("retention max-count values must be >= 0")
    if config.workers < 1:
        raise InvalidInputError("--workers must be >= 1")
    if config.max_header_bytes < 1024:
        raise InvalidInputError("--max-header-bytes must be >= 1024")
    if config.max_connections < 1:
        raise InvalidInputError("--max-connections must be >= 1")
    for what, directory in (
        ("trace", config.trace_dir),
        ("runpack", config.runpack_dir),
        ("session", config.session_dir),
    ):
        if directory:
            try:
                Path(directory).mkdir(mode=0o750, parents=True, exist_ok=True)
            except OSError as exc:
                raise InvalidInputError(f"create {what} directory: {exc.strerror or exc}") from None
    return config
