"""`gait version` (normally answered by the fast path; this is its click twin for `--help`)."""

from __future__ import annotations

import sys

from gait import __version__ as core_version
from gait_cli import __version__
from gait_cli.app import cli
from gait_cli.output import Report, gait_command


@gait_command(cli, "version", exit_codes=(0,), help="Print the versions of gait and its core.")
def version() -> Report:
    return Report(
        payload={
            "version": __version__,
            "core_version": core_version,
            "python": sys.version.split()[0],
        },
        text=[f"gait {__version__}"],
    )
