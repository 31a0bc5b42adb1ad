"""Issue 6 budgets for decision exports (run with `python -m benchmarks exports`).

- `gait mcp serve` throughput with `--export otel` to a real OTLP/HTTP receiver on loopback:
  at least 90 % of the throughput with it off (same server, plugin loaded, not selected), at
  8 connections on the reference's request body. Off and on alternate, ROUNDS times each, so
  that a shared machine's load drifts over both alike; the figure is the median of the
  rounds' on/off ratios.
- `gait version` and `gait --help` with gait-plugin-otel installed: unchanged within noise
  against an environment without it (both editable installs of this workspace, built here),
  and no OpenTelemetry module imported.

Also shown, without a budget: the throughput with both JSONL files (`--export-log-out`,
`--export-otel-out`), each append fsynced before the answer.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import Figure, process_median_ms
from benchmarks.loadgen import request_bytes, run_load

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "reference_fixtures" / "derived"
POLICY = "schema_id: gait.gate.policy\nschema_version: 1.0.0\ndefault_verdict: allow\n"
WORKERS = int(os.environ.get("GAIT_BENCH_WORKERS", "2"))
SECONDS = 8
ROUNDS = 3
STARTUP_RUNS = 21
UV = REPO / ".tools" / "bin" / "uv"


def _throughput(work: Path, endpoint: str, *export: str) -> float:
    from tests.mcp_server import Server

    server = Server(
        work,
        "--policy", "policy.yaml", "--workers", str(WORKERS), *export,
        env={
            "GAIT_PLUGINS": "otel",
            "GAIT_HOME": str(work / "home"),
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        },
    )  # fmt: skip
    try:
        body = (FIXTURES / "serve_body_mcp_nosession.json").read_bytes()
        requests = [request_bytes("/v1/evaluate", body)]
        run_load(server.port, requests, connections=8, seconds=2)  # warm-up
        result = run_load(server.port, requests, connections=8, seconds=SECONDS)
        assert set(result.statuses) == {200} and not result.errors, result.statuses
        if "otel" in export:
            health = server.request("GET", "/healthz").json["exports"]["otel"]
            assert health["dropped"] == 0, health
        return result.rate
    finally:
        server.stop()


def serve_figures() -> list[Figure]:
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    # The receiver runs in a process of its own, as a collector would: in this one, its
    # threads would take the load generator's GIL.
    receiver = subprocess.Popen(
        [sys.executable, "-m", "tests.otlp_receiver"],
        cwd=REPO,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert receiver.stdin is not None and receiver.stdout is not None
    endpoint = f"http://127.0.0.1:{int(receiver.stdout.readline())}"
    try:
        with tempfile.TemporaryDirectory() as folder:
            work = Path(folder)
            (work / "policy.yaml").write_text(POLICY)
            off, on = [], []
            for _ in range(ROUNDS):
                off.append(_throughput(work, endpoint))
                on.append(_throughput(work, endpoint, "--export", "otel"))
            files = _throughput(
                work,
                endpoint,
                "--export-log-out", "exports/log.jsonl",
                "--export-otel-out", "exports/otel.jsonl",
            )  # fmt: skip
        receiver.stdin.write("count\n")
        receiver.stdin.flush()
        received = int(receiver.stdout.readline())
    finally:
        receiver.stdin.close()
        receiver.wait(10)
    rate_off, rate_on = statistics.median(off), statistics.median(on)
    ratio = statistics.median(b / a for a, b in zip(off, on, strict=True))
    return [
        Figure(
            f"serve: export off ({WORKERS} workers, 8 conns)",
            rate_off,
            "/s",
            note=" / ".join(f"{r:,.0f}" for r in off),
        ),
        Figure(
            "serve: --export otel, to a loopback receiver",
            rate_on,
            "/s",
            note=" / ".join(f"{r:,.0f}" for r in on) + f"; {received:,} records received",
        ),
        # As a shortfall, so that the budget is an upper bound like every other one.
        Figure(
            "serve: throughput lost to --export otel",
            (1 - ratio) * 100,
            "%",
            budget=10.0,
            note=f"on is {ratio:.1%} of off (median of {ROUNDS} alternating rounds)",
        ),
        Figure("serve: both JSONL files (fsynced appends)", files, "/s", note="no budget"),
    ]


def _venv(folder: Path, *packages: str) -> Path:
    """A fresh environment with these workspace packages installed editable, as .venv has
    them (and their dependencies at .venv's versions, which the uv cache holds), so that the
    only difference between two of them is the packages."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    frozen = subprocess.run(
        [str(UV), "pip", "freeze", "--python", sys.executable],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    constraints = folder / "constraints.txt"
    constraints.write_text("\n".join(x for x in frozen.splitlines() if not x.startswith("-e")))
    args = [arg for p in packages for arg in ("-e", str(REPO / p))]
    install = [str(UV), "pip", "install", "--quiet", "--python", str(folder / "bin" / "python")]
    install += ["--constraint", str(constraints)]
    if subprocess.run([*install, "--offline", *args], check=False).returncode != 0:
        subprocess.run([*install, *args], check=True)
    return folder / "bin" / "gait"


def _alternating_medians(
    first: list[str], second: list[str], *, env: dict[str, str]
) -> tuple[float, float]:
    """Median whole-process times of two commands, run in turns so that the load of a shared
    machine weighs on both alike."""
    samples: tuple[list[float], list[float]] = ([], [])
    for _ in range(STARTUP_RUNS):
        for argv, into in ((first, samples[0]), (second, samples[1])):
            into.append(process_median_ms(argv, runs=1, env=env))
    return statistics.median(samples[0]), statistics.median(samples[1])


def _otel_modules(gait: Path, env: dict[str, str]) -> int:
    python = gait.parent / "python"
    script = (
        "import sys\nfrom gait_cli.main import main\nsys.argv = ['gait', 'version']\n"
        "main()\nprint(sum(m.startswith('opentelemetry') for m in sys.modules))"
    )
    done = subprocess.run(
        [str(python), "-c", script], capture_output=True, text=True, check=True, env=env
    )
    return int(done.stdout.split()[-1])


def startup_figures() -> list[Figure]:
    figures = []
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        without = _venv(root / "without", "gait-core", "gait-cli")
        with_plugin = _venv(root / "with", "gait-core", "gait-cli", "gait-plugins/gait-plugin-otel")
        env = {k: v for k, v in os.environ.items() if k != "GAIT_PLUGINS"}
        for argv in (["version"], ["--help"]):
            base, plugged = _alternating_medians(
                [str(without), *argv], [str(with_plugin), *argv], env=env
            )
            figures.append(Figure(f"gait {' '.join(argv)}: without the plugin", base, "ms"))
            figures.append(
                Figure(
                    f"gait {' '.join(argv)}: gait-plugin-otel installed",
                    plugged,
                    "ms",
                    budget=base * 1.10,
                    note=f"{plugged / base:.2f}x without (budget: +10 % noise)",
                )
            )
        figures.append(
            Figure(
                "gait version: opentelemetry modules imported",
                _otel_modules(with_plugin, env),
                "modules",
                budget=0.0,
            )
        )
    return figures


def run() -> list[Figure]:
    sys.path.insert(0, str(REPO))
    return startup_figures() + serve_figures()
