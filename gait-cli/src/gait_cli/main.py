"""Entry point of the `gait` console script."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv if argv is None else argv)
    from gait_cli.fast import try_fast_path

    code = try_fast_path(argv)
    if code is None:
        from gait_cli.app import run

        code = run(argv)
    sys.stdout.flush()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
