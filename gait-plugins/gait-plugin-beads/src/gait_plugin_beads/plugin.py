"""The hooks of the Beads plugin. Nothing heavy is imported here: `gait` starts once per tool
call in hook integrations, so the commands and the sink load only when they are used."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gait.hookspecs import Registry, hookimpl

if TYPE_CHECKING:
    import click

    from gait_plugin_beads.sink import BeadsSink


def make_sink(**options: Any) -> BeadsSink:
    """The `beads` sink (`gait_plugin_beads.sink.BeadsSink`); see that module for options."""
    from gait_plugin_beads.sink import BeadsSink

    return BeadsSink(**options)


@hookimpl
def gait_register(registry: Registry) -> None:
    registry.add_sink(
        "beads",
        make_sink,
        description="File a Beads (bd) issue for each non-allow decision, in the background",
    )


@hookimpl
def gait_commands(cli: click.Group) -> None:
    from gait_plugin_beads.cli import add_commands

    add_commands(cli)
