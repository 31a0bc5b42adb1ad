"""The click application behind every command that is not answered by the fast path."""

from __future__ import annotations

import importlib
from typing import Any

import click

from gait.errors import Category
from gait_cli.fast import correlation_id, dump_json
from gait_cli.registry import CORE_COMMANDS, exit_code_table


class GaitGroup(click.Group):
    """Core commands import on use; plugin commands are added when a name is not a core one."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plugins_added = False

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._add_plugin_commands(ctx)
        return sorted(set(CORE_COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in CORE_COMMANDS and cmd_name not in self.commands:
            importlib.import_module(CORE_COMMANDS[cmd_name][0])
        if cmd_name not in self.commands:
            self._add_plugin_commands(ctx)
        return self.commands.get(cmd_name)

    def _add_plugin_commands(self, ctx: click.Context) -> None:
        if self._plugins_added:
            return
        self._plugins_added = True
        from gait_cli.context import plugin_host

        plugin_host(ctx).add_commands(self)


@click.group(
    cls=GaitGroup,
    epilog=exit_code_table(tuple(range(9))),
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option("--no-plugins", is_flag=True, help="Load no installed plugins.")
@click.pass_context
def cli(ctx: click.Context, no_plugins: bool) -> None:
    """Policy as code for the tool calls of AI agents."""


def run(argv: list[str]) -> int:
    """Run click without its own exit handling: usage errors are exit 6, not click's 2."""
    as_json = "--json" in argv
    try:
        cli.main(args=argv[1:], prog_name="gait", standalone_mode=False, obj={})
    except SystemExit as exc:
        return int(exc.code or 0) if isinstance(exc.code, int) else 1
    except click.exceptions.NoArgsIsHelpError as exc:
        click.echo(exc.ctx.get_help() if exc.ctx else "")
        return 0
    except click.UsageError as exc:
        message = exc.format_message()
        if as_json:
            from gait.errors import error_envelope

            payload = {
                **error_envelope(message, Category.INVALID_INPUT),
                "correlation_id": correlation_id(argv),
            }
            click.echo(dump_json(payload))
        else:
            if exc.ctx is not None:
                click.echo(exc.ctx.get_usage(), err=True)
            click.echo(f"error: {message}", err=True)
        return 6
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    return 0
