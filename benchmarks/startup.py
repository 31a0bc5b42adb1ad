"""Issue 2 budget: `gait version` and `gait --help`, whole process, at most 3x a bare
`python -c pass` measured in the same run."""

from __future__ import annotations

import sys

from benchmarks.harness import BIN, Figure, process_median_ms

RUNS = 21


def run() -> list[Figure]:
    bare = process_median_ms([sys.executable, "-c", "pass"], runs=RUNS)
    gait = str(BIN / "gait")
    figures = [Figure("python -c pass (baseline)", bare, "ms")]
    for argv in (["version"], ["--help"]):
        median = process_median_ms([gait, *argv], runs=RUNS)
        figures.append(
            Figure(
                f"gait {' '.join(argv)} (whole process)",
                median,
                "ms",
                budget=3 * bare,
                note=f"{median / bare:.1f}x baseline",
            )
        )
    return figures
