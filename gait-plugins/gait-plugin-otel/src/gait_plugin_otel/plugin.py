"""The hooks of the OpenTelemetry plugin. Nothing heavy is imported here: `gait` starts once per
tool call in hook integrations, so the SDK loads only when a command runs with `--export otel`."""

from __future__ import annotations

from collections.abc import Mapping

from gait.hookspecs import DecisionExporter, Registry, hookimpl


def make_exporter(options: Mapping[str, str]) -> DecisionExporter:
    """The `otel` exporter (`gait_plugin_otel.exporter.OtelExporter`). The protocol is checked
    before the SDK is imported, so a configuration that cannot work fails fast."""
    from gait_plugin_otel.config import check_protocol

    check_protocol()
    from gait_plugin_otel.exporter import OtelExporter

    return OtelExporter(options)


def health() -> Mapping[str, str]:
    """For `gait doctor`: where decisions go and how many this machine could not deliver."""
    from gait_plugin_otel import config, ledger

    where = f"{config.redact(config.logs_endpoint())} ({config.protocol()})"
    dropped = ledger.read()
    count = dropped["dropped"]
    if not count:
        return {"status": "ok", "detail": f"no decision dropped; sending to {where}"}
    return {
        "status": "warn",
        "detail": (
            f"{count} decision(s) not delivered; the last at "
            f"{dropped.get('last_dropped_at', '?')} to {dropped.get('endpoint', '?')}: "
            f"{dropped.get('last_error', '')}; sending to {where}; remove "
            f"{ledger.ledger_path()} to reset the count"
        ),
    }


@hookimpl
def gait_register(registry: Registry) -> None:
    registry.add_exporter(
        "otel",
        make_exporter,
        description="Each decision as an OpenTelemetry log record over OTLP (OTEL_* settings)",
        health=health,
    )
