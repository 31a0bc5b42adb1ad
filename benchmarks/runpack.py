"""Issue 4 budgets: verifying a runpack of 10,000 intents and 10,000 results.

- Throughput: `verify_runpack` within 2x of plain hashlib sha256 over the same uncompressed
  bytes (the issue's budget). Members are deflated (the reference's format), and inflating them
  alone costs about three times hashing them with SHA-NI, so the figure beside it is the
  unavoidable floor: zlib inflate plus sha256 of every member, with no zip parsing.
- Four processes, as a new user runs them: demo, verify, regress init, regress run; total
  median under 0.6 s.
- Memory: the tracemalloc peak of verifying 10,000 intents may exceed that of 1,000 intents by
  at most two read chunks (members are hashed in 64 KiB chunks; the 1,000-intent members are
  smaller than one chunk, so they do not fill the buffers; from there on the peak is flat, the
  same for 100,000 intents).
"""

from __future__ import annotations

import hashlib
import os
import statistics
import subprocess
import tempfile
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

from benchmarks.harness import BIN, Figure
from gait.runpack import record_run, verify_runpack
from gait.runpack.zipio import CHUNK_BYTES

ROUNDS = 15


def record_synthetic(out_dir: Path, count: int) -> Path:
    """A reference-capture runpack with `count` intents and one result each."""
    data = {
        "run": {"run_id": f"run_bench_{count}", "created_at": "2026-02-06T00:00:00Z"},
        "intents": [
            {"intent_id": f"intent_{i}", "tool_name": "tool.read", "args": {"path": f"/w/{i}"}}
            for i in range(count)
        ],
        "results": [
            {"intent_id": f"intent_{i}", "status": "ok", "result": {"bytes": i * 7}}
            for i in range(count)
        ],
        "refs": {},
    }
    return record_run(data, capture_mode="reference", signing_key=None, out_dir=out_dir).path


def median_ms(func: Callable[[], object]) -> float:
    func()
    samples = []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        func()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def deflated_streams(path: Path) -> list[bytes]:
    """The raw deflate stream of every member, cut out of the zip by hand."""
    blob = path.read_bytes()
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
    streams = []
    for info in infos:
        start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
        streams.append(blob[start : start + info.compress_size])
    return streams


def inflate_and_hash(streams: list[bytes]) -> None:
    for stream in streams:
        hashlib.sha256(zlib.decompressobj(-zlib.MAX_WBITS).decompress(stream)).digest()


def peak_verify_bytes(path: Path) -> int:
    tracemalloc.start()
    try:
        verify_runpack(path)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def first_win_total_ms() -> float:
    """demo, verify, regress init, regress run in a fresh directory: median total time."""
    gait = str(BIN / "gait")
    steps = [
        ["demo", "--json"],
        ["verify", "run_demo", "--json"],
        ["regress", "init", "--from", "run_demo", "--json"],
        ["regress", "run", "--json", "--junit", "junit.xml"],
    ]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    totals = []
    for _ in range(1 + ROUNDS // 3):  # the first round warms caches and is not counted
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            for step in steps:
                done = subprocess.run(
                    [gait, *step],
                    cwd=folder,
                    env={**env, "GAIT_HOME": folder},
                    capture_output=True,
                    check=False,
                )
                if done.returncode != 0:
                    raise RuntimeError(f"gait {' '.join(step)} exited {done.returncode}")
            totals.append((time.perf_counter() - start) * 1000)
    return statistics.median(totals[1:])


def run() -> list[Figure]:
    with tempfile.TemporaryDirectory() as folder:
        small = record_synthetic(Path(folder), 1_000)
        large = record_synthetic(Path(folder), 10_000)
        with zipfile.ZipFile(large) as archive:
            members = [archive.read(info) for info in archive.infolist()]
        megabytes = sum(len(member) for member in members) / 1e6
        streams = deflated_streams(large)
        hashing = median_ms(lambda: [hashlib.sha256(m).digest() for m in members])
        floor = median_ms(lambda: inflate_and_hash(streams))
        verify = median_ms(lambda: verify_runpack(large))
        # Warm once so one-time imports and caches are not counted for either size.
        peak_verify_bytes(small)
        small_peak = peak_verify_bytes(small) / 1024
        large_peak = peak_verify_bytes(large) / 1024
    return [
        Figure(
            "sha256 of the members in memory (baseline)",
            hashing,
            "ms",
            note=f"{megabytes / hashing * 1000:,.0f} MB/s over {megabytes:.1f} MB",
        ),
        Figure("inflate + sha256 of the members (floor)", floor, "ms"),
        Figure(
            "verify_runpack, 10,000 intents and results",
            verify,
            "ms",
            budget=2 * hashing,
            note=(
                f"{megabytes / verify * 1000:,.0f} MB/s; {verify / hashing:.2f}x plain sha256, "
                f"{verify / floor:.2f}x the inflate floor"
            ),
        ),
        Figure("verify peak memory, 1,000 intents", small_peak, "KiB"),
        Figure(
            "verify peak memory, 10,000 intents",
            large_peak,
            "KiB",
            budget=small_peak + 2 * CHUNK_BYTES / 1024,
            note=f"{large_peak / small_peak:.2f}x the 1,000-intent peak",
        ),
        Figure(
            "demo + verify + regress init + regress run (4 processes)",
            first_win_total_ms(),
            "ms",
            budget=600.0,
        ),
    ]


if __name__ == "__main__":
    for figure in run():
        print(figure.line())
