"""`gait version` and `gait --help` without importing click, pluggy or attrs.

Hook integrations run gait once per tool call; these answers must cost little more than starting
Python.
"""

from __future__ import annotations

import sys

from gait_cli import __version__ as VERSION
from gait_cli.registry import CORE_COMMANDS, exit_code_table

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
    """Answer `version` and top-level help directly; None means: use the full CLI."""
    args = command_args(argv)
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
