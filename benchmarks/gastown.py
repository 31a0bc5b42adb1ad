"""Issue 9 and 15 budgets: `gait-gastown-hook`, the PreToolUse gate of every Gas Town tool
call, as a whole process with a Claude Code event on standard input.

- The policy decided in the hook's own process (`--policy`, trace and intent record written):
  median at most 6x a bare `python -c pass` (every call in its own process: warm start is gone).
- Asked of a running `gait mcp serve` (`--serve`): median at most 2x, on its Unix socket
  (`--serve unix:PATH`, the server's uid checked) and over loopback TCP with the token (the
  HMAC exchange of gait.mcp.serviceauth), each by the installed `gait-gastown-hook`.

They are sampled in turns (bare, floor, local, service, bare, ...) so that load from elsewhere
falls on each alike; only the gastown plugin is selected, as on a worker with no other plugin.
The floor is a python that only imports what a local decision cannot do without (json, PyYAML,
cryptography's Ed25519), reported beside the local hook.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.gate import FLOOR_IMPORTS
from benchmarks.harness import BIN, Figure

RUNS = 21
POLICY = """schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: allow
rules:
  - name: block-force-push
    priority: 10
    effect: block
    match:
      tool_names: [tool.exec]
      target_values: ["git push --force"]
    reason_codes: [forbidden]
"""
EVENT = {
    "session_id": "0b7c1f5e-5a37-4b8e-9d7e-2f1a4c3b6d90",
    "transcript_path": "/home/dev/.claude/projects/x/0b7c1f5e.jsonl",
    "cwd": "/home/dev/gt/myrig/polecats/toast/myrig",
    "prompt_id": "prompt-1",
    "permission_mode": "bypassPermissions",
    "hook_event_name": "PreToolUse",
    "tool_name": "Bash",
    "tool_input": {"command": "make test", "description": "Run the tests"},
    "tool_use_id": "toolu_01",
}
POLECAT = {
    "GT_ROLE": "myrig/polecats/toast",
    "GT_RIG": "myrig",
    "GT_POLECAT": "toast",
    "BD_ACTOR": "myrig/polecats/toast",
}


def _run(argv: Sequence[str], data: bytes, env: dict[str, str], cwd: Path) -> float:
    """Wall time of one process, in milliseconds; it must allow."""
    start = time.perf_counter()
    done = subprocess.run(argv, input=data, capture_output=True, env=env, cwd=cwd, check=False)
    elapsed = (time.perf_counter() - start) * 1000
    if done.returncode != 0:
        raise RuntimeError(f"{argv[1:]} exited {done.returncode}: {done.stderr.decode()}")
    return elapsed


def run() -> list[Figure]:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.mcp_server import Server
    from tests.security.services import UnixServe

    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "policy.yaml").write_text(POLICY)
        env.update(POLECAT, GAIT_PLUGINS="gastown", GAIT_HOME=str(work / "home"))
        os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
        token = {"GAIT_BENCH_TOKEN": os.urandom(32).hex()}
        env.update(token)
        token_mode = ("--auth-mode", "token", "--auth-token-env", "GAIT_BENCH_TOKEN")
        served = {"GAIT_PLUGINS": "gastown", **token}
        server = Server(work, "--policy", "policy.yaml", *token_mode, env=served)
        unix_server = UnixServe(work, "--policy", "policy.yaml", env=served)
        try:
            hook = str(BIN / "gait-gastown-hook")
            commands = {
                "bare": ([sys.executable, "-c", "pass"], b""),
                "floor": ([sys.executable, "-c", FLOOR_IMPORTS], b""),
                "local": ([hook, "--policy", "policy.yaml"], json.dumps(EVENT).encode()),
                "serve": (
                    [
                        hook,
                        "--serve",
                        f"http://127.0.0.1:{server.port}",
                        "--auth-token-env",
                        "GAIT_BENCH_TOKEN",
                    ],
                    json.dumps(EVENT).encode(),
                ),
                "serve_unix": (
                    [hook, "--serve", unix_server.url],
                    json.dumps(EVENT).encode(),
                ),
            }
            samples: dict[str, list[float]] = {name: [] for name in commands}
            for round_ in range(RUNS + 1):  # the first round warms caches up
                for name, (argv, data) in commands.items():
                    elapsed = _run(argv, data, env, work)
                    if round_:
                        samples[name].append(elapsed)
        finally:
            server.stop()
            unix_server.stop()
    bare, floor, local, served, served_unix = (
        statistics.median(samples[n]) for n in ("bare", "floor", "local", "serve", "serve_unix")
    )
    return [
        Figure("python -c pass (baseline, same run)", bare, "ms"),
        Figure(
            "gait-gastown-hook --policy (whole process)",
            local,
            "ms",
            budget=6 * bare,
            note=f"{local / bare:.1f}x baseline; decision, signed trace, intent record",
        ),
        Figure(
            "python importing json, yaml and Ed25519 only",
            floor,
            "ms",
            note=f"{floor / bare:.1f}x baseline; the import floor of a local decision",
        ),
        Figure(
            "gait-gastown-hook --serve unix:PATH (whole process)",
            served_unix,
            "ms",
            budget=2 * bare,
            note=f"{served_unix / bare:.2f}x baseline; the socket's server uid checked first",
        ),
        Figure(
            "gait-gastown-hook --serve http://127.0.0.1 --auth-token-env (whole process)",
            served,
            "ms",
            budget=2 * bare,
            note=f"{served / bare:.2f}x baseline; HMAC both ways, the token never sent",
        ),
    ]
