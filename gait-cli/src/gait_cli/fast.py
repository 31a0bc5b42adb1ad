"""`gait version`, `gait --help` and plugins' fast commands without importing click, pluggy or
attrs.

Hook integrations run gait once per tool call; these answers must cost little more than starting
Python.
"""

from __future__ import annotations

import sys

from gait_cli import __version__ as VERSION
from gait_cli.registry import CORE_COMMANDS, exit_code_table

TYPE_CHECKING = False  # typing costs milliseconds of start-up; mypy honours this name
if TYPE_CHECKING:
    from collections.abc import Callable

GLOBAL_OPTIONS = ("--no-plugins",)


# Where a decision is reported is no part of which invocation made it: with these flags left
# out, export on or off gives the same trace (docs/compatibility.md).
EXPORT_FLAGS = ("--export", "--export-log-out", "--export-otel-out")


def correlation_id(argv: list[str]) -> str:
    """The reference's id: sha256 of the trimmed argv (program included) joined by 0x1f, the
    export flags and their values left out."""
    import hashlib

    kept: list[str] = []
    value_follows = False
    for raw in argv:
        part = raw.strip()
        if value_follows:
            value_follows = False
            continue
        flag, equals, _ = part.partition("=")
        if flag in EXPORT_FLAGS:
            value_follows = not equals
            continue
        kept.append(part)
    joined = "\x1f".join(kept)
    return hashlib.sha256(joined.encode("utf-8", "surrogateescape")).hexdigest()[:24]


def dump_json(payload: dict[str, object]) -> str:
    import json

    return json.dumps(payload, sort_keys=True, ensure_ascii=False)


def command_args(argv: list[str]) -> list[str]:
    """The arguments after the program name, without the global options."""
    return [arg for arg in argv[1:] if arg not in GLOBAL_OPTIONS]


def try_fast_path(argv: list[str]) -> int | None:
    """Answer `version`, top-level help and plugins' fast commands directly; None means: use the
    full CLI."""
    args = command_args(argv)
    if len(args) >= 2 and args[0] not in CORE_COMMANDS and "--help" not in args:
        fast_main = plugin_fast_command(args[0], args[1], no_plugins="--no-plugins" in argv)
        if fast_main is not None:
            return fast_main(args[2:])
    if args in (["version"], ["version", "--json"], ["--json", "version"], ["--version"]):
        if "--json" in args:
            from gait import __version__ as core_version

            payload: dict[str, object] = {
                "ok": True,
                "version": VERSION,
                "core_version": core_version,
                "python": sys.version.split()[0],
                "correlation_id": correlation_id(argv),
            }
            sys.stdout.write(dump_json(payload) + "\n")
        else:
            sys.stdout.write(f"gait {VERSION}\n")
        return 0
    if args in ([], ["--help"], ["-h"]):
        sys.stdout.write(top_level_help(no_plugins="--no-plugins" in argv))
        return 0
    return None


def plugin_fast_command(
    group: str, command: str, *, no_plugins: bool
) -> Callable[[list[str]], int] | None:
    """The `main(args) -> exit code` a plugin registered for `gait GROUP COMMAND` in the entry-point
    group `gait.fast` (named `GROUP.COMMAND`), when that plugin is selected.

    Commands run once per tool call (hooks) declare themselves there to skip click and pluggy.
    The same command must also exist as a click command, which answers `--help`.
    """
    if no_plugins:
        return None
    import os

    from gait.plugin_discovery import FAST_GROUP, gait_entry_points, selected

    name = f"{group}.{command}"
    allow = os.environ.get("GAIT_PLUGINS")
    for ep in gait_entry_points(group=FAST_GROUP):
        if ep.name != name:
            continue
        # GAIT_PLUGINS names plugins (`gait` entry points); a fast command is selected with
        # the plugin of its distribution.
        if allow is not None and not any(
            plugin.dist == ep.dist for plugin in selected(gait_entry_points(), allow)
        ):
            continue
        target = ep.load()
        if callable(target):
            return target
    return None


def top_level_help(*, no_plugins: bool) -> str:
    import os

    lines = [
        "Usage: gait [--no-plugins] COMMAND [ARGS]...",
        "",
        "  Policy as code for the tool calls of AI agents.",
        "",
        "  Every command takes --help and --json.",
        "",
        "Options:",
        "  --no-plugins  Load no installed plugins (GAIT_PLUGINS= does the same).",
        "  --help        Show this message and exit.",
        "",
        "Commands:",
    ]
    width = max(len(name) for name in CORE_COMMANDS) + 2
    lines.extend(f"  {name:<{width}}{text}" for name, (_, text) in sorted(CORE_COMMANDS.items()))
    if not no_plugins:
        from gait.plugin_discovery import gait_entry_points, selected

        plugins = selected(gait_entry_points(), os.environ.get("GAIT_PLUGINS"))
        if plugins:
            lines += ["", "Plugins (their commands load on first use; see `gait plugins list`):"]
            lines.extend(f"  {ep.name} ({ep.dist} {ep.version})" for ep in plugins)
    lines += ["", exit_code_table(tuple(range(9))).replace("\b\n", ""), ""]
    return "\n".join(lines)
