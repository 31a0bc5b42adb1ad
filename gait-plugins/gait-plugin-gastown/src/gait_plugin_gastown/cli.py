"""The `gait gastown` commands. Imported when gait looks for a command that is not a core one,
so it holds only the click declarations; the work is in `hook` and `install`."""

from __future__ import annotations

import textwrap
from typing import Any

import click

from gait_cli.plugin_api import Report, gait_command
from gait_plugin_gastown.hook import OPTIONS

HOOK_HELP = (
    "The PreToolUse gate of a Gas Town worker: reads Claude Code's hook event on standard "
    "input, decides the call with --policy (here) or --serve (a running gait mcp serve) using "
    "the gastown adapter (the claude_code mapping plus GT_ROLE, GT_RIG, GT_POLECAT/GT_CREW, "
    "BD_ACTOR), writes the signed trace and answers in Claude Code's protocol (so no --json: "
    "standard output is Claude Code's). Every error, timeout or unreadable input is a deny."
)
HOOK_EPILOG = "\n".join(
    [
        "\b",
        "Flags:",
        *(
            f"  {o.name}"
            + (f" {o.metavar}" if o.metavar else "")
            + (f"  [default: {o.default}]" if o.default else "")
            + "\n"
            + textwrap.fill(o.help, width=78, initial_indent=" " * 6, subsequent_indent=" " * 6)
            for o in OPTIONS
        ),
        "",
        "\b",
        "Exit codes (Claude Code's protocol):",
        "  0  allow (nothing printed), or require_approval: an `ask` object on stdout",
        "  2  deny: block, dry_run, require_approval with --approval deny, and every error;",
        "     the reason is on stderr",
    ]
)

INSTALL_HELP = (
    "Put the gate into Gas Town's hook overrides: adds a PreToolUse hook running "
    "gait-gastown-hook (gait gastown hook) to <town>/.gt/hooks-overrides/<target>.json (gt's "
    "config directory: $GT_HOME/.gt, or ~/.gt when no town is given), leaving every other entry "
    "as it was, then runs `gt hooks sync` when gt is on PATH (else prints it). Re-running "
    "changes nothing; a symbolic link is written through (see docs/integrations/gastown.md)."
)
UNINSTALL_HELP = (
    "Remove the gate's hooks from Gas Town's hook overrides (every override file, or the given "
    "targets), and whatever became empty because of that; then `gt hooks sync`."
)


def add_commands(cli: click.Group) -> None:
    if "gastown" in cli.commands:
        return

    @cli.group("gastown")
    def gastown() -> None:
        """Gate Gas Town's Claude Code workers (polecats, crew)."""

    @gastown.command(
        "hook",
        help=HOOK_HELP,
        epilog=HOOK_EPILOG,
        context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    )
    @click.argument(
        "args", nargs=-1, type=click.UNPROCESSED, metavar="(--policy PATH | --serve URL) [FLAGS]"
    )
    def hook(args: tuple[str, ...]) -> None:
        # The flags are the hook's own (its parser turns a bad one into a deny); click answers
        # --help. Claude Code runs the `gait-gastown-hook` script instead (`console`), which
        # spares the gait command line's start-up.
        from gait_plugin_gastown.hook import main

        raise SystemExit(main(list(args)))

    town = click.option(
        "--town",
        default="",
        help="The Gas Town directory (what GT_HOME names; default $GT_HOME, else gt's ~/.gt).",
    )
    sync = click.option(
        "--sync/--no-sync", default=True, help="Run gt hooks sync afterwards when gt is on PATH."
    )

    @gait_command(gastown, "install", exit_codes=(0, 1, 6, 7), help=INSTALL_HELP)
    @town
    @click.option(
        "--target",
        "targets",
        multiple=True,
        help="polecats, crew, <rig>__polecats, ... (repeatable; default polecats and crew).",
    )
    @click.option("--policy", default="", help="Policy YAML the hook decides with (checked now).")
    @click.option(
        "--serve",
        default="",
        help="Or a gait mcp serve: unix:/PATH (its socket) or http://127.0.0.1:PORT.",
    )
    @click.option(
        "--auth-token-env",
        default="",
        help="Env var with the service's token (required over TCP; never sent).",
    )
    @click.option(
        "--service-uid",
        default="",
        help="With --serve unix:PATH: the uid the service runs as (default: yours).",
    )
    @click.option(
        "--plain-bearer",
        is_flag=True,
        default=False,
        help="Send the token as a bearer to the reference's service (not safe against a port "
        "squatter).",
    )
    @click.option(
        "--matcher",
        default="",
        help="Claude Code tool matcher (default: every tool; e.g. Bash, Edit|Write).",
    )
    @click.option(
        "--out-dir",
        default="",
        help="Trace directory (default <town>/gait-out/integrations/gastown).",
    )
    @click.option("--timeout", default="", help="The hook's --timeout in seconds (at most 60).")
    @click.option(
        "--approval",
        type=click.Choice(["ask", "deny"]),
        default=None,
        help="How the hook answers require_approval (default ask).",
    )
    @click.option(
        "--bridge",
        "bridges",
        multiple=True,
        help="Sink for non-allow decisions, e.g. beads (must be installed).",
    )
    @click.option("--profile", default="", help="The hook's --profile (standard, oss-prod).")
    @click.option("--key-mode", default="", help="The hook's --key-mode (dev, prod).")
    @click.option("--private-key", default="", help="The hook's signing key file (prod).")
    @click.option("--private-key-env", default="", help="Env var with the signing key (prod).")
    @sync
    def install(**options: Any) -> Report:
        from gait_plugin_gastown.install import run_install

        options["approval"] = options["approval"] or ""
        return run_install(**options)

    @gait_command(gastown, "uninstall", exit_codes=(0, 1, 6), help=UNINSTALL_HELP)
    @town
    @click.option(
        "--target", "targets", multiple=True, help="Only these targets (default: every override)."
    )
    @sync
    def uninstall(**options: Any) -> Report:
        from gait_plugin_gastown.install import run_uninstall

        return run_uninstall(**options)
