"""How every command reports: one sorted JSON object with `ok`, or text; errors as the envelope.

Commands return a `Report` or raise `GaitError`; `gait_command` turns either into output and an
exit code, so no command formats errors or picks exit codes for them by hand.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import click

from gait.errors import (
    Category,
    ExitCode,
    GaitError,
    category_for_exit,
    error_envelope,
    exit_code_for,
    write_failure,
)
from gait_cli.fast import correlation_id, dump_json
from gait_cli.registry import exit_code_table

F = TypeVar("F", bound=Callable[..., Any])


@attrs.frozen
class Report:
    """A command's outcome: the JSON payload (without `ok`), its text lines and exit code."""

    payload: dict[str, Any]
    text: list[str]
    exit_code: int = ExitCode.OK
    ok: bool = True


def emit(report: Report, *, as_json: bool, argv: list[str]) -> int:
    if as_json:
        payload = {**report.payload, "ok": report.ok, "correlation_id": correlation_id(argv)}
        if payload.get("error"):
            envelope = error_envelope(str(payload["error"]), category_for_exit(report.exit_code))
            payload = {**envelope, **payload}
        click.echo(dump_json(payload))
    else:
        for line in report.text:
            click.echo(line)
    return int(report.exit_code)


def emit_error(
    message: str,
    category: Category,
    *,
    as_json: bool,
    argv: list[str],
    prefix: str,
    hint: str = "",
) -> int:
    envelope = error_envelope(message, category, hint)
    if as_json:
        click.echo(dump_json({**envelope, "correlation_id": correlation_id(argv)}))
    else:
        click.echo(f"{prefix} error: {message}", err=True)
        if hint:
            click.echo(f"hint: {hint}", err=True)
    return int(exit_code_for(category))


def json_option(func: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(func)


def gait_command(
    group: click.Group, name: str, *, exit_codes: tuple[int, ...], help: str
) -> Callable[[Callable[..., Report]], click.Command]:
    """Declare a command: adds `--json`, the exit-code table, and error handling."""

    def decorate(func: Callable[..., Report]) -> click.Command:
        @functools.wraps(func)
        def run(as_json: bool, **kwargs: Any) -> None:
            argv = list(sys.argv)
            prefix = " ".join(click.get_current_context().command_path.split()[1:]) or "gait"
            try:
                report = func(**kwargs)
            except (GaitError, OSError) as exc:
                # An OSError is a file operation no code path turned into a GaitError: still an
                # answer that names the file, never a traceback.
                error = (
                    exc
                    if isinstance(exc, GaitError)
                    else write_failure(exc.filename or "(no file name)", exc, doing="I/O error on")
                )
                code = emit_error(
                    str(error), error.category, as_json=as_json, argv=argv, prefix=prefix,
                    hint=error.hint,
                )  # fmt: skip
            else:
                # Failing to print the answer itself is main's to report.
                code = emit(report, as_json=as_json, argv=argv)
            raise SystemExit(code)

        return group.command(name, help=help, epilog=exit_code_table(exit_codes))(json_option(run))

    return decorate
