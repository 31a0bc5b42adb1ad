"""Entry point of the `gait` console script."""

from __future__ import annotations

import gc
import sys


def main(argv: list[str] | None = None) -> int:
    """Run `argv`: the fast path when it answers, else the full CLI."""
    argv = list(sys.argv if argv is None else argv)
    from gait_cli.fast import try_fast_path

    try:
        code = try_fast_path(argv)
        if code is None:
            _load(argv)
            from gait_cli.app import run

            code = run(argv)
        if sys.stdout is not None:  # None when the process started with standard output closed
            sys.stdout.flush()
    except OSError as exc:  # what every command turns into an answer: its output failed
        return _unanswered(exc)
    return code


def _unanswered(exc: OSError) -> int:
    """Exit 1 with a line on standard error: the answer (perhaps an allow) was not delivered,
    so the exit code must not say it was. Output already refused goes to /dev/null, or
    Python's own flush at exit fails again."""
    import contextlib
    import os

    where = exc.filename or "standard output"
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(f"gait error: cannot write {where}: {exc.strerror or exc}\n")
        sys.stderr.flush()
    return 1


def _load(argv: list[str]) -> None:
    """Import the CLI and the module of the command in `argv`, then freeze what they built.

    Hook integrations run gait once per tool call, so start-up is product speed. These imports
    build tens of thousands of objects that live as long as the process (modules, classes,
    functions); the cyclic garbage collector would scan them dozens of times while they load and
    again at exit, for nothing (about 15 ms). So it is paused while they load, and they are
    frozen out of every later collection. Click still resolves the command; importing its
    module here only does it early.
    """
    import importlib

    from gait_cli.fast import command_args
    from gait_cli.registry import CORE_COMMANDS

    args = command_args(argv)
    collecting = gc.isenabled()
    gc.disable()
    try:
        import gait_cli.app  # noqa: F401

        if args and args[0] in CORE_COMMANDS:
            importlib.import_module(CORE_COMMANDS[args[0]][0])
    finally:
        gc.freeze()
        if collecting:
            gc.enable()


if __name__ == "__main__":
    raise SystemExit(main())
