"""The hooks of the Gas Town plugin. Nothing heavy is imported here: the adapter and the
commands load when they are used. The hook Claude Code runs (the `gait-gastown-hook` script, see
`console`) does not come through here at all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gait.hookspecs import Registry, hookimpl

if TYPE_CHECKING:
    import click

    from gait.registry import Decoder


def make_adapter() -> Decoder:
    """The `gastown` adapter (`gait_plugin_gastown.adapter.decode_gastown`)."""
    from gait_plugin_gastown.adapter import decode_gastown

    return decode_gastown


@hookimpl
def gait_register(registry: Registry) -> None:
    registry.add_adapter(
        "gastown",
        make_adapter,
        description="A Claude Code PreToolUse event with Gas Town's worker identity",
    )


@hookimpl
def gait_commands(cli: click.Group) -> None:
    from gait_plugin_gastown.cli import add_commands

    add_commands(cli)
