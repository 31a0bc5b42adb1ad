"""The hooks of the OpenClaw plugin. Nothing heavy is imported here: `gait` starts once per tool
call in hook integrations, so the adapter and the commands load only when they are used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gait.hookspecs import Registry, hookimpl

if TYPE_CHECKING:
    import click

    from gait.registry import Decoder


def openclaw_decoder() -> Decoder:
    from gait_plugin_openclaw.adapter import decode_openclaw

    return decode_openclaw


@hookimpl
def gait_register(registry: Registry) -> None:
    registry.add_adapter(
        "openclaw",
        openclaw_decoder,
        description="an OpenClaw before_tool_call event and its context",
    )


@hookimpl
def gait_commands(cli: click.Group) -> None:
    from gait_plugin_openclaw.cli import add_commands

    add_commands(cli)
