"""`gait demo`: record a fixed sample run as a runpack and verify it, offline.

The run's content and time are fixed and its producer version is this CLI's, so two demos by
the same version write byte-identical zips. `--policy` shows a block decision instead.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from gait.errors import InvalidInputError, VerificationError
from gait.fsutil import write_atomic
from gait.runpack import record_run, verify_runpack
from gait.runpack.demo import DEMO_RUN_ID, demo_record_input
from gait.runpack.paths import DEFAULT_OUT_DIR
from gait_cli import __version__
from gait_cli.app import cli
from gait_cli.output import Report, gait_command

METRICS_OPT_IN = "export GAIT_ADOPTION_LOG=./gait-out/adoption.jsonl"
POLICY_PATH = "./gait-out/policy_demo_high_risk.yaml"
INTENT_PATH = "./gait-out/intent_demo_delete.json"
DEMO_POLICY = """\
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: allow
rules:
  - name: block-destructive-tool-delete
    priority: 10
    effect: block
    match:
      tool_names: [tool.delete]
      risk_classes: [high]
    reason_codes: [destructive_tool_blocked]
"""
# The text output's keys, in the reference's order; empty values are skipped.
TEXT_KEYS = (
    "mode",
    "run_id",
    "bundle",
    "pack_path",
    "ticket_footer",
    "verify",
    "policy_verdict",
    "matched_rule",
    "reason_codes",
    "next_commands",
    "metrics_opt_in",
)


def _demo_intent() -> dict[str, Any]:
    target = "/tmp/demo/delete-me.txt"
    return {
        "schema_id": "gait.gate.intent_request",
        "schema_version": "1.0.0",
        "created_at": "2026-02-14T00:00:00Z",
        "producer_version": __version__,
        "tool_name": "tool.delete",
        "args": {"path": target},
        "targets": [
            {
                "kind": "path",
                "value": target,
                "operation": "delete",
                "endpoint_class": "fs.delete",
                "destructive": True,
            }
        ],
        "context": {"identity": "demo.user", "workspace": "/tmp/demo", "risk_class": "high"},
    }


def _standard() -> dict[str, Any]:
    recorded = record_run(
        demo_record_input(__version__),
        capture_mode="reference",
        signing_key=None,
        out_dir=DEFAULT_OUT_DIR,
    )
    if not verify_runpack(recorded.path).ok:
        raise VerificationError("verification failed")
    return {
        "mode": "standard",
        "run_id": DEMO_RUN_ID,
        "bundle": f"./{recorded.path}",
        "ticket_footer": recorded.ticket_footer,
        "verify": "ok",
        "next_commands": [
            f"gait verify {DEMO_RUN_ID} --json",
            f"gait regress bootstrap --from {DEMO_RUN_ID} --json --junit ./gait-out/junit.xml",
            "gait demo --policy",
        ],
    }


def _policy() -> dict[str, Any]:
    from gait import Gate

    write_atomic(Path(POLICY_PATH), DEMO_POLICY.encode("utf-8"), what="demo policy")
    intent = _demo_intent()
    data = (json.dumps(intent, indent=2) + "\n").encode("utf-8")
    write_atomic(Path(INTENT_PATH), data, what="demo intent")
    decision = Gate.from_yaml(DEMO_POLICY).evaluate(intent)
    if decision.verdict != "block":
        raise VerificationError(f"expected block verdict, got {decision.verdict}")
    return {
        "mode": "policy",
        "bundle": INTENT_PATH,
        "pack_path": POLICY_PATH,
        "verify": "ok",
        "policy_verdict": decision.verdict,
        "matched_rule": decision.evaluation.matched_rule,
        "reason_codes": list(decision.reason_codes),
        "next_commands": [
            f"gait gate eval --policy {POLICY_PATH} --intent {INTENT_PATH} --simulate --json",
            f"gait gate eval --policy {POLICY_PATH} --intent {INTENT_PATH} --json",
        ],
    }


def _text(payload: dict[str, Any]) -> list[str]:
    lines = []
    for key in TEXT_KEYS:
        value = payload.get(key)
        if isinstance(value, list):
            value = ",".join(value)
        if value:
            lines.append(f"{'next' if key == 'next_commands' else key}={value}")
    return lines


@gait_command(
    cli,
    "demo",
    exit_codes=(0, 1, 2, 6),
    help=(
        "Record a sample run offline as ./gait-out/runpack_run_demo.zip, verify it and print "
        "its ticket footer. --policy instead writes a sample policy and intent under gait-out "
        "and shows the block decision."
    ),
)
@click.argument("extra", nargs=-1, metavar="")
@click.option("--policy", "policy_mode", is_flag=True, help="Show a policy block decision.")
def demo(extra: tuple[str, ...], policy_mode: bool) -> Report:
    if extra:
        raise InvalidInputError("unexpected positional arguments")
    started = time.monotonic()
    payload = _policy() if policy_mode else _standard()
    payload["metrics_opt_in"] = METRICS_OPT_IN
    payload["duration_ms"] = int((time.monotonic() - started) * 1000)
    return Report(payload={k: v for k, v in payload.items() if v}, text=_text(payload))
