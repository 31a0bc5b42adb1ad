"""The decision-export flags of `gait gate eval`, `gait mcp proxy|bridge` and `gait mcp serve`
(integrations.md §2.1): the reference's two JSONL files, and named exporters from plugins."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from gait.exports import Exports
    from gait.plugins import PluginHost

F = TypeVar("F", bound=Callable[..., Any])


def export_options(func: F) -> F:
    for option in reversed(
        [
            click.option(
                "--export-log-out", default="", help="Append one JSON line per decision here."
            ),
            click.option(
                "--export-otel-out",
                default="",
                help="Append one OTEL-style JSON line per decision here.",
            ),
            click.option(
                "--export",
                "export_names",
                multiple=True,
                help="Exporter plugin (repeatable), e.g. otel (pip install gait-plugin-otel).",
            ),
        ]
    ):
        func = option(func)
    return func


def open_command_exports(
    host: PluginHost, log_out: str, otel_out: str, names: tuple[str, ...], *, source: str
) -> Exports | None:
    """The exporters a one-shot command asked for, or None (then nothing is imported).

    They are closed when the command's click context ends, whether it decided or failed:
    exporters that deliver in the background get `COMMAND_CLOSE_SECONDS` to finish.
    """
    if not (log_out or otel_out or names):
        return None
    from gait.exports import COMMAND_CLOSE_SECONDS, ExportRequest, open_exports

    request = ExportRequest.from_flags(log_out, otel_out, names)
    exports = open_exports(host, request, source=source, lifetime="command")
    if exports is not None:
        click.get_current_context().call_on_close(
            functools.partial(exports.close, COMMAND_CLOSE_SECONDS)
        )
    return exports
