"""Issue 3 budgets.

- In-process `Gate.evaluate` on the reference's typical case (gate.md section 10), as a ratio
  to a baseline measured in the same run, `hashlib.sha256(json.dumps(intent, sort_keys=True,
  separators=(",", ":")).encode())` of the same intent: at most 4.5x (issue 16; the reference's
  Go benchmark is about 2.2x that baseline). The absolute 60 us budget of issue 3 stays beside it.
- A 1,000-rule policy: at most 3x the 10-rule time per decision, both for rules over tool names
  and for a mix of rule shapes (tool names, identities, workspace prefixes, tool annotations).
- `gait gate eval`, whole process, reported beside a bare `python -c pass` and the import floor
  (json, PyYAML, Ed25519): with warm start gone (issue 15) it has no budget of its own; the
  hook's budget is in the `gastown` suite.
"""

from __future__ import annotations

import hashlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from benchmarks.harness import BIN, Figure, call_median_us, process_median_ms
from gait import Gate

TYPICAL_POLICY = """
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: require_approval
fail_closed:
  enabled: true
  risk_classes: [high, critical]
  required_fields: [targets, arg_provenance]
rules:
  - name: allow-tmp-writes
    priority: 10
    effect: allow
    match:
      tool_names: [tool.write]
      target_kinds: [path]
      provenance_sources: [user]
    endpoint:
      path_allowlist: [/tmp/**]
  - name: block-host-writes
    priority: 20
    effect: block
    match:
      tool_names: [tool.write]
      target_kinds: [host]
"""

TYPICAL_INTENT: dict[str, Any] = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-02-06T00:00:00Z",
    "producer_version": "0.0.0-bench",
    "tool_name": "tool.write",
    "args": {"path": "/tmp/out.txt"},
    "targets": [{"kind": "path", "value": "/tmp/out.txt", "operation": "write"}],
    "arg_provenance": [{"arg_path": "$.path", "source": "user"}],
    "context": {"identity": "alice", "workspace": "/repo/gait", "risk_class": "high"},
}


def tool_name_match(index: int) -> str:
    return "\n      ".join(
        (f"tool_names: [tool.other{index}]", "risk_classes: [high]", "target_kinds: [path, host]")
    )


def identity_match(index: int) -> str:
    return f"identities: [agent-{index}]"


def workspace_match(index: int) -> str:
    return f"workspace_prefixes: [/srv/project-{index}]"


ANNOTATION_MATCHES = (
    "tool_annotations: {readOnlyHint: true}",
    "tool_annotations: {readOnlyHint: false, destructiveHint: true}",
    "tool_annotations: {idempotentHint: true}",
    "tool_annotations: {openWorldHint: true, destructiveHint: false}",
)


def annotation_match(index: int) -> str:
    return ANNOTATION_MATCHES[index % len(ANNOTATION_MATCHES)]


MIXED_SHAPES = (tool_name_match, identity_match, workspace_match, annotation_match)


def policy_with_rules(
    count: int, shapes: Sequence[Callable[[int], str]] = (tool_name_match,)
) -> str:
    """The two typical rules after `count - 2` others, whose matches take the shapes in turn
    (each shape numbers its own rules).

    The others never match the typical intent and come first (priorities 0-9), so a linear scan
    checks every one of them: only the index can skip them.
    """
    extra = "".join(
        f"""
  - name: rule-{index:04d}
    priority: {index % 10}
    effect: {"block" if index % 2 else "require_approval"}
    match:
      {shapes[index % len(shapes)](index // len(shapes))}
"""
        for index in range(count - 2)
    )
    return TYPICAL_POLICY + extra


# What any process that parses a YAML policy and signs an Ed25519 trace must import.
FLOOR_IMPORTS = (
    "import hashlib, json, yaml; "
    "from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey"
)


def digest_baseline(intent: dict[str, Any]) -> str:
    """Hashing the intent with nothing but the standard library (the issue 16 baseline)."""
    return hashlib.sha256(
        json.dumps(intent, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def paired_ratio(
    func: Callable[[], object],
    baseline: Callable[[], object],
    *,
    rounds: int = 41,
    number: int = 200,
) -> tuple[float, float]:
    """The baseline's median time (us) and the median over rounds of func's time / baseline's,
    each round timing a batch of both back to back, so that load on a shared machine scales
    both sides of the ratio alike."""
    for _ in range(number):
        func()
        baseline()
    ratios = []
    base_times = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(number):
            func()
        middle = time.perf_counter()
        for _ in range(number):
            baseline()
        end = time.perf_counter()
        ratios.append((middle - start) / (end - middle))
        base_times.append((end - middle) / number * 1e6)
    return statistics.median(base_times), statistics.median(ratios)


def run() -> list[Figure]:
    typical = Gate.from_yaml(TYPICAL_POLICY)
    assert typical.evaluate(TYPICAL_INTENT).verdict == "allow"
    per_call = call_median_us(lambda: typical.evaluate(TYPICAL_INTENT))
    baseline, ratio = paired_ratio(
        lambda: typical.evaluate(TYPICAL_INTENT), lambda: digest_baseline(TYPICAL_INTENT)
    )
    figures = [
        Figure(
            "Gate.evaluate, typical case (in process)",
            per_call,
            "us",
            budget=60.0,
            note="reference: 30 us budget, 7 us baseline",
        ),
        Figure("sha256 of sorted json.dumps of the intent (baseline)", baseline, "us"),
        Figure(
            "Gate.evaluate, typical case / baseline",
            ratio,
            "x",
            budget=4.5,
            note="the reference's Go benchmark: about 2.2x",
        ),
    ]
    for label, shapes in (("tool names", (tool_name_match,)), ("mixed shapes", MIXED_SHAPES)):
        small = Gate.from_yaml(policy_with_rules(10, shapes))
        large = Gate.from_yaml(policy_with_rules(1000, shapes))
        assert large.evaluate(TYPICAL_INTENT).verdict == "allow"
        small_us = call_median_us(lambda gate=small: gate.evaluate(TYPICAL_INTENT))
        large_us = call_median_us(lambda gate=large: gate.evaluate(TYPICAL_INTENT))
        figures.append(Figure(f"Gate.evaluate, 10-rule policy ({label})", small_us, "us"))
        figures.append(
            Figure(
                f"Gate.evaluate, 1,000-rule policy ({label})",
                large_us,
                "us",
                budget=3 * small_us,
                note=f"{large_us / small_us:.2f}x the 10-rule time",
            )
        )
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        (work / "policy.yaml").write_text(TYPICAL_POLICY)
        (work / "intent.json").write_text(json.dumps(TYPICAL_INTENT))
        bare = process_median_ms([sys.executable, "-c", "pass"], runs=11)
        floor = process_median_ms([sys.executable, "-c", FLOOR_IMPORTS], runs=11)
        argv = [str(BIN / "gait"), "gate", "eval", "--policy", "policy.yaml"]
        argv += ["--intent", "intent.json", "--json", "--rate-limit-state", ""]
        # GAIT_HOME keeps the dev signing key of this run out of the user's home.
        home = {"GAIT_HOME": str(work)}
        whole = process_median_ms(argv, runs=11, cwd=work, env=home)
    figures.append(Figure("python -c pass (baseline)", bare, "ms"))
    figures.append(
        Figure(
            "gait gate eval (whole process)",
            whole,
            "ms",
            note=f"{whole / bare:.1f}x baseline",
        )
    )
    figures.append(
        Figure(
            "python importing json, yaml and Ed25519 only",
            floor,
            "ms",
            note=f"{floor / bare:.1f}x baseline; the import floor of a process that decides",
        )
    )
    return figures
