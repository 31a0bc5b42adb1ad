"""Hooks of the example plugin: block tools whose name starts with a denied prefix, and read an
`example` payload format (`gait mcp proxy --adapter example`)."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from gait.hookspecs import EvaluatorVerdict, Registry, hookimpl

if TYPE_CHECKING:
    import click

    from gait.registry import Decoder

DENIED_PREFIXES_ENV = "GAIT_EXAMPLE_DENIED_PREFIXES"


def denied_prefixes() -> tuple[str, ...]:
    raw = os.environ.get(DENIED_PREFIXES_ENV, "shell.")
    return tuple(part.strip() for part in raw.split(",") if part.strip())


@hookimpl
def gait_evaluate(intent: Any) -> EvaluatorVerdict | None:
    tool_name = str(getattr(intent, "tool_name", ""))
    if tool_name.startswith(denied_prefixes()):
        return EvaluatorVerdict(
            verdict="block",
            reason_codes=("example_denied_prefix",),
            violations=("denied_tool",),
        )
    return None


def decode_example(payload: Any) -> dict[str, Any]:
    """An `example` payload, `{"tool": NAME, "input": {...}}`, as Gait's native MCP call."""
    return {"name": str(payload["tool"]), "args": dict(payload.get("input") or {})}


def make_decoder() -> Decoder:
    # A factory runs only when its backend is selected: import a heavy decoder here.
    return decode_example


@hookimpl
def gait_register(registry: Registry) -> None:
    # Named backends, one typed method per kind: add_signer, add_adapter, add_sink,
    # add_exporter, add_ci_provider (docs/plugins.md).
    registry.add_adapter("example", make_decoder, description="an example tool-call payload")


@hookimpl
def gait_commands(cli: click.Group) -> None:
    import click  # imported on use, like any heavy dependency

    @cli.command("example-prefixes")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    def example_prefixes(as_json: bool) -> None:
        """Show the tool-name prefixes the example plugin blocks."""
        import json

        prefixes = list(denied_prefixes())
        click.echo(json.dumps({"ok": True, "prefixes": prefixes}) if as_json else prefixes)
