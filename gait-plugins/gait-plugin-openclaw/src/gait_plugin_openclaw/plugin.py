"""The hooks of the OpenClaw plugin. Nothing heavy is imported here: `gait` starts once per tool
call in hook integrations, so the adapter and the commands load only when they are used."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gait.hookspecs import Bridge, hookimpl


def openclaw_decoder() -> Callable[[Any], dict[str, Any]]:
    from gait_plugin_openclaw.adapter import decode_openclaw

    return decode_openclaw


@hookimpl
def gait_bridge() -> list[Bridge]:
    return [
        Bridge(
            name="openclaw",
            kind="adapter",
            factory=openclaw_decoder,
            description="an OpenClaw before_tool_call event and its context",
        )
    ]


@hookimpl
def gait_commands(cli: Any) -> None:
    from gait_plugin_openclaw.cli import add_commands

    add_commands(cli)
