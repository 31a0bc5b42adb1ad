"""The `gait-gastown-hook` console script: `gait gastown hook` as Claude Code runs it, once per
tool call, without the `gait` command line (click, pluggy, the command table) in between.

Claude Code runs the tool on every exit code but 2, so the hook must exit 2 on any failure,
including one that happens while the hook itself is imported (a broken install or module): this
module imports nothing at load time, and `main` turns whatever goes wrong into a deny.
"""

from __future__ import annotations


def main() -> int:
    """Run the hook with this process's arguments; its exit code, or 2 when it cannot start."""
    import gc
    import sys

    # One decision per process, so start-up is the hook's cost: the imports of a local decision
    # build tens of thousands of objects that live until exit, and the cyclic collector would
    # scan them over and over while they load and once more at exit, for nothing (about 20 ms).
    # It stays off while the hook runs (what one decision leaves is small and dies with the
    # process), and everything is frozen out of the collection at exit.
    gc.disable()
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
    code = hook_main(sys.argv[1:])
    gc.freeze()
    return code
