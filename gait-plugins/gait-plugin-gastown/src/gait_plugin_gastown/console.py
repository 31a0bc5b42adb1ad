"""The `gait-gastown-hook` console script: `gait gastown hook` as Claude Code runs it, once per
tool call, without the `gait` command line (click, pluggy, the command table) in between.

Claude Code runs the tool on every exit code but 2, so the hook must exit 2 on any failure,
including one that happens while the hook itself is imported (a broken install or module): this
module imports nothing at load time, and `main` turns whatever goes wrong into a deny.
"""

from __future__ import annotations


def main() -> int:
    """Run the hook with this process's arguments; its exit code, or 2 when it cannot start."""
    import sys

    try:
        from gait_plugin_gastown.hook import main as hook_main
    except BaseException as exc:  # exit 1 (a traceback) would let the tool run
        try:
            sys.stderr.write(
                f"gait blocked this call: the hook could not start ({type(exc).__name__}: {exc})\n"
            )
            sys.stderr.flush()
        except BaseException:  # no standard error: the exit code alone still blocks
            pass
        return 2
    return hook_main(sys.argv[1:])
