"""`make bench`: every figure beside its budget; exit 1 when any budget is exceeded."""

from __future__ import annotations

import sys

from benchmarks import exports, gastown, gate, runpack, serve, startup

SUITES = {
    "startup": startup.run,
    "gate": gate.run,
    "runpack": runpack.run,
    "serve": serve.run,
    "gastown": gastown.run,
    "exports": exports.run,
}


def main(argv: list[str]) -> int:
    wanted = argv or list(SUITES)
    failed = False
    for name in wanted:
        print(f"[{name}]")
        for figure in SUITES[name]():
            print("  " + figure.line())
            failed |= not figure.within_budget
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
