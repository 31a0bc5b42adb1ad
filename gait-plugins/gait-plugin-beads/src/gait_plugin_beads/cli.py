"""The `gait beads` commands. Imported when gait looks for a command that is not a core one,
so it holds only the click declarations; the work is in `gait_plugin_beads.bridge`."""

from __future__ import annotations

from typing import Any

import click

from gait_cli.plugin_api import Report, gait_command, verify_key_options

ISSUE_TYPES = ("bug", "feature", "task", "epic", "chore", "decision")

HELP = (
    "Turn a signed trace into a Beads issue. The signature is verified first (exit 2 when it "
    "does not verify, unless --allow-unverified). Dry run by default: prints the exact bd "
    "commands and the issue, and needs no bd. --live looks the trace up by its external ref "
    "gait:<trace_id> and runs bd create only when no issue has it, so re-runs file nothing "
    "twice. --trace-dir bridges every trace in a directory whose verdict is not allow."
)


def add_commands(cli: click.Group) -> None:
    if "beads" in cli.commands:
        return

    @cli.group("beads")
    def beads() -> None:
        """File Beads (bd) issues for blocked and approval-required decisions."""

    @gait_command(beads, "bridge", exit_codes=(0, 1, 2, 6, 7), help=HELP)
    @click.option("--trace", "trace", default="", help="The trace file to bridge.")
    @click.option(
        "--trace-dir", default="", help="Bridge every non-allow trace (*.json) in this directory."
    )
    @click.option(
        "--decision",
        "decisions",
        multiple=True,
        help="The `gait gate eval --json` output for the trace: its reason codes go into the "
        "issue (repeatable with --trace-dir; matched by trace_id).",
    )
    @click.option(
        "--live/--dry-run", default=False, help="Run bd (default: dry run, bd is not needed)."
    )
    @click.option(
        "--bd", "--bd-bin", "bd", default="", help="The bd program (default: $BD_BIN, else bd)."
    )
    @click.option(
        "--type",
        "issue_type",
        type=click.Choice(ISSUE_TYPES),
        default=None,
        help="Issue type (default: bug for block, task otherwise).",
    )
    @click.option(
        "--priority",
        type=click.IntRange(0, 4),
        default=None,
        help="Priority 0-4 (default: block 1, require_approval 2, dry_run 3, allow 4).",
    )
    @click.option(
        "--allow-unverified",
        is_flag=True,
        help="Bridge a trace whose signature does not verify; the issue is marked unverified.",
    )
    @verify_key_options
    def bridge(**options: Any) -> Report:
        from gait_plugin_beads.bridge import run_bridge

        return run_bridge(**options)
