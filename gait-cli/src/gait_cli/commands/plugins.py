"""`gait plugins list`."""

from __future__ import annotations

import click

from gait_cli.app import cli
from gait_cli.context import plugin_host
from gait_cli.output import Report, gait_command


@cli.group("plugins")
def plugins() -> None:
    """Installed plugins: what loaded, what failed and why."""


@gait_command(plugins, "list", exit_codes=(0,), help="List built-in and installed plugins.")
def list_plugins() -> Report:
    ctx = click.get_current_context()
    host = plugin_host(ctx)
    # Commands are part of what a plugin contributes; adding them can mark a plugin failed.
    root = ctx.find_root().command
    if isinstance(root, click.Group):
        root.list_commands(ctx)
    records = sorted(host.listing(), key=lambda r: (r.status != "builtin", r.dist, r.name))
    text = [
        f"{r.name}\t{r.dist} {r.version}\t{r.status}" + (f"\t{r.error}" if r.error else "")
        for r in records
    ]
    return Report(payload={"plugins": [r.to_json() for r in records]}, text=text)
