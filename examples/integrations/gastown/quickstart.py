"""Gas Town quickstart: one polecat tool call through the real Gait hook.

    python examples/integrations/gastown/quickstart.py --scenario allow|block

A polecat's Claude Code session asks to write a file (the `Write` tool). The PreToolUse event
Claude Code would send goes to `gait gastown hook` on standard input, with Gas Town's identity
variables in the environment, exactly as a worker runs it; the hook decides with
`policy_<scenario>.yaml` and answers in Claude Code's protocol (exit 0 allow, exit 2 deny).
The file is written only on allow. Artifacts (the adapter-parity contract):
`gait-out/integrations/gastown/trace_<scenario>.json` (the signed trace) and
`intent_<scenario>.json` beside it; the lines printed are `key=value`.

The gait program: $GAIT_BIN, else the `gait` next to this Python, else `gait` on PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = Path("gait-out") / "integrations" / "gastown"
POLECAT = {
    "GT_ROLE": "demo/polecats/polecat-01",
    "GT_RIG": "demo",
    "GT_POLECAT": "polecat-01",
    "BD_ACTOR": "demo/polecats/polecat-01",
}


def gait_program() -> str:
    beside = Path(sys.executable).parent / "gait"
    found = os.environ.get("GAIT_BIN") or (str(beside) if beside.exists() else shutil.which("gait"))
    if not found:
        raise RuntimeError("gait not found: set GAIT_BIN or install gait-cli")
    return found


def hook_event(scenario: str, target: Path, content: str) -> dict[str, object]:
    """A PreToolUse event as Claude Code writes it (the shape captured from Claude Code 2.1.330)."""
    return {
        "session_id": f"sess-gastown-{scenario}",
        "transcript_path": "",
        "cwd": str(Path.cwd()),
        "permission_mode": "bypassPermissions",
        "hook_event_name": "PreToolUse",
        "tool_name": "Write",
        "tool_input": {"file_path": str(target), "content": content},
        "tool_use_id": f"toolu_gastown_{scenario}",
    }


def run(scenario: str) -> list[str]:
    OUT.mkdir(parents=True, exist_ok=True)
    executor = OUT / f"executor_{scenario}.json"
    trace = OUT / f"trace_{scenario}.json"
    content = json.dumps({"scenario": scenario, "written_by": "polecat-01"})
    event = hook_event(scenario, executor, content)
    env = {**os.environ, **POLECAT, "GT_ROOT": str(Path.cwd()), "GAIT_PLUGINS": "gastown"}
    done = subprocess.run(
        [gait_program(), "gastown", "hook", "--policy", str(HERE / f"policy_{scenario}.yaml"),
         "--trace-out", str(trace)],
        input=json.dumps(event),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip
    intent = trace.with_name(f"intent_{scenario}.json")
    if done.returncode not in (0, 2) or not intent.exists():
        raise RuntimeError(f"the hook failed (exit {done.returncode}): {done.stderr.strip()}")
    verdict = json.loads(intent.read_text())["verdict"]
    lines = ["framework=gastown", f"scenario={scenario}", f"verdict={verdict}"]
    if scenario == "allow":
        if done.returncode != 0 or verdict != "allow":
            raise RuntimeError(f"expected allow, got {verdict}: {done.stderr.strip()}")
        executor.write_text(content)  # the tool call, run because the gate allowed it
        lines += ["executed=true", f"trace_path={trace}", f"intent_path={intent}"]
        lines.append(f"executor_output={executor}")
    else:
        if done.returncode != 2 or verdict != scenario:
            raise RuntimeError(f"expected {scenario}, got {verdict} (exit {done.returncode})")
        lines += ["executed=false", f"trace_path={trace}", f"intent_path={intent}"]
        lines.append(f"reason={done.stderr.splitlines()[0]}")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=("allow", "block"), required=True)
    scenario = parser.parse_args().scenario
    try:
        lines = run(scenario)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        print(f"error={exc}")
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
