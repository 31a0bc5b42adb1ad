"""The CLI API a plugin may use, and nothing else of `gait_cli`: the rest is internal and may
change in any release. docs/plugins.md documents it; a test checks that the workspace's plugins
import `gait_cli` only through this module.

- `Report`: what a plugin command returns (JSON payload without `ok`, text lines, exit code).
- `gait_command(group, name, exit_codes=..., help=...)`: declares a command that returns a
  `Report` or raises `gait.errors.GaitError`, with `--json`, the error envelope and exit codes
  handled as for the built-in commands.
- `verify_key_options`: the `--public-key[-env]` and `--private-key[-env]` flags.
"""

from __future__ import annotations

from gait_cli.keyopts import verify_key_options
from gait_cli.output import Report, gait_command

__all__ = ["Report", "gait_command", "verify_key_options"]
