"""Hooks of the example plugin: block tools whose name starts with a denied prefix."""

from __future__ import annotations

import os
from typing import Any

from gait.hookspecs import EvaluatorVerdict, hookimpl

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


@hookimpl
def gait_commands(cli: Any) -> None:
    import click  # imported on use, like any heavy dependency

    @cli.command("example-prefixes")
    @click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
    def example_prefixes(as_json: bool) -> None:
        """Show the tool-name prefixes the example plugin blocks."""
        import json

        prefixes = list(denied_prefixes())
        click.echo(json.dumps({"ok": True, "prefixes": prefixes}) if as_json else prefixes)
