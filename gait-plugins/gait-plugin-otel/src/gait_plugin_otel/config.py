"""The standard OTEL_* settings this exporter honours, read without importing the SDK (for
`gait doctor` and for refusing a configuration before any decision is made).

Endpoint, headers, TLS files, compression and timeout are read by the SDK's OTLP exporter
itself, exactly as it documents them; this module only decides the protocol, the queue bounds
and what `gait doctor` may show (never headers: they carry credentials).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Final

import attrs

from gait.errors import DependencyMissingError, InvalidInputError

HTTP_PROTOBUF: Final = "http/protobuf"
GRPC: Final = "grpc"
GRPC_PACKAGE: Final = "opentelemetry-exporter-otlp-proto-grpc"
DEFAULT_SERVICE_NAME: Final = "gait"
# A one-shot command (gate eval, mcp proxy) gives each OTLP request this long unless
# OTEL_EXPORTER_OTLP[_LOGS]_TIMEOUT says otherwise; the service keeps the SDK's 10 s. The SDK's
# first retry waits about a second, which never fits: a collector that is down costs a hook
# no wait at all.
COMMAND_REQUEST_TIMEOUT_SECONDS: Final = 0.5

_USERINFO: Final = re.compile(r"(?<=://)[^/@\s]*@")


@attrs.frozen(kw_only=True)
class QueueSettings:
    """The batching bounds (the SDK's OTEL_BLRP_* variables and defaults)."""

    max_queue_size: int = 2048
    max_batch_size: int = 512
    schedule_delay_seconds: float = 1.0


def _positive_int(environ: Mapping[str, str], name: str, default: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InvalidInputError(f"{name}={raw!r} is not an integer") from None
    if value <= 0:
        raise InvalidInputError(f"{name} must be > 0")
    return value


def queue_settings(environ: Mapping[str, str] | None = None) -> QueueSettings:
    env = os.environ if environ is None else environ
    queue = _positive_int(env, "OTEL_BLRP_MAX_QUEUE_SIZE", 2048)
    batch = min(_positive_int(env, "OTEL_BLRP_MAX_EXPORT_BATCH_SIZE", 512), queue)
    delay_ms = _positive_int(env, "OTEL_BLRP_SCHEDULE_DELAY", 1000)
    return QueueSettings(
        max_queue_size=queue, max_batch_size=batch, schedule_delay_seconds=delay_ms / 1000
    )


def protocol(environ: Mapping[str, str] | None = None) -> str:
    env = os.environ if environ is None else environ
    raw = env.get("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL") or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
    return (raw or HTTP_PROTOBUF).strip().lower()


def check_protocol(environ: Mapping[str, str] | None = None) -> str:
    """The protocol to speak; refuses one that cannot work (exit 6, or 7 for gRPC without its
    exporter package)."""
    chosen = protocol(environ)
    if chosen == HTTP_PROTOBUF:
        return chosen
    if chosen == GRPC:
        import importlib.util

        if importlib.util.find_spec("opentelemetry.exporter.otlp.proto.grpc") is None:
            install = f"pip install {GRPC_PACKAGE}"
            raise DependencyMissingError(
                f"OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs {GRPC_PACKAGE}: {install}", hint=install
            )
        return chosen
    raise InvalidInputError(
        f"unsupported OTLP protocol {chosen!r} for logs (use {HTTP_PROTOBUF} or {GRPC})"
    )


def logs_endpoint(environ: Mapping[str, str] | None = None) -> str:
    """Where the logs go, resolved as the SDK resolves it, for display."""
    env = os.environ if environ is None else environ
    signal = env.get("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "").strip()
    if signal:
        return signal
    base = env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    if protocol(env) == GRPC:
        return base or "http://localhost:4317"
    return (base or "http://localhost:4318").removesuffix("/") + "/v1/logs"


def redact(text: str) -> str:
    """Text fit to show: user information in URLs removed."""
    return _USERINFO.sub("", text)


def service_name(environ: Mapping[str, str] | None = None) -> str | None:
    """`gait` unless OTEL_SERVICE_NAME or OTEL_RESOURCE_ATTRIBUTES names the service (then the
    SDK's resource detection applies it, and None is returned)."""
    env = os.environ if environ is None else environ
    if env.get("OTEL_SERVICE_NAME", "").strip():
        return None
    for item in env.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, _, value = item.partition("=")
        if key.strip() == "service.name" and value.strip():
            return None
    return DEFAULT_SERVICE_NAME
