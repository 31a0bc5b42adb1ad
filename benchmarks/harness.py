"""Timing helpers and the budget table every benchmark reports into."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import attrs

BIN = Path(sys.executable).parent


@attrs.frozen
class Figure:
    name: str
    value: float
    unit: str
    budget: float | None = None
    note: str = ""

    @property
    def within_budget(self) -> bool:
        return self.budget is None or self.value <= self.budget

    def line(self) -> str:
        budget = "" if self.budget is None else f"  budget <= {self.budget:,.2f} {self.unit}"
        status = "" if self.budget is None else ("  ok" if self.within_budget else "  OVER BUDGET")
        note = f"  ({self.note})" if self.note else ""
        return f"{self.name:<52}{self.value:>12,.2f} {self.unit}{budget}{status}{note}"


def process_median_ms(
    argv: Sequence[str], *, runs: int, cwd: Path | None = None, env: dict[str, str] | None = None
) -> float:
    """Median wall time of a whole process, in milliseconds, after one untimed run (which
    fills the file system's and the bytecode caches)."""
    env = {**os.environ, **(env or {})}
    # Measure gait as installed: with bytecode caches, whatever this shell says.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run(argv, capture_output=True, check=False, cwd=cwd, env=env)
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, capture_output=True, check=False, cwd=cwd, env=env)
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def call_median_us(func: Callable[[], object], *, rounds: int = 31, number: int = 200) -> float:
    """Median time of one call, in microseconds, over `rounds` batches of `number` calls."""
    for _ in range(number):
        func()
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            func()
        samples.append((time.perf_counter() - start) / number * 1e6)
    return statistics.median(samples)
