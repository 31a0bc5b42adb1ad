"""Allow/block parity: one tool call through the Gas Town hook, `gait mcp proxy` and the
in-process API gives the same verdict, reason codes and digests.

Outside Gas Town (no identity variable) the hook's call is the `claude_code` adapter's; under Gas
Town it is the `gastown` adapter's, which `gait mcp proxy --adapter gastown` also serves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from gait_plugin_gastown.adapter import decode_checked

from gait import Gate
from gait.mcp.toolcall import call_intent, decode_claude_code
from gait.testing import RunGait
from gait.trace import trace_id_for

from .conftest import POLECAT, HookRunner, claude_event, proxy

SCENARIOS = {"allow": "ls -la", "block": "touch blocked.marker"}


def in_process(policy: Path, call: dict[str, Any]) -> dict[str, Any]:
    decision = Gate.load(policy).evaluate(call_intent(call))
    return {
        "verdict": decision.verdict,
        "reason_codes": list(decision.reason_codes),
        "intent_digest": decision.intent_digest,
        "policy_digest": decision.policy_digest,
    }


def through_hook(
    hook: HookRunner, policy: Path, tmp_path: Path, event: dict[str, Any], env: dict[str, str]
) -> dict[str, Any]:
    run = hook("--policy", str(policy), "--trace-out", "hook/trace_x.json", event=event, env=env)
    assert run.code in (0, 2), run.stderr
    record = json.loads((tmp_path / "hook" / "intent_x.json").read_text())
    trace = json.loads((tmp_path / "hook" / "trace_x.json").read_text())
    assert (trace["intent_digest"], trace["policy_digest"], trace["verdict"]) == (
        record["intent_digest"],
        record["policy_digest"],
        record["verdict"],
    )
    assert run.code == (0 if record["verdict"] == "allow" else 2)
    return {
        key: record[key] for key in ("verdict", "reason_codes", "intent_digest", "policy_digest")
    }


def through_proxy(
    gait: RunGait, policy: Path, tmp_path: Path, payload: dict[str, Any], adapter: str
) -> dict[str, Any]:
    (tmp_path / "call.json").write_text(json.dumps(payload))
    run = proxy(
        gait, "--policy", str(policy), "--call", "call.json", "--adapter", adapter,
        cwd=tmp_path, plugins="gastown",
    )  # fmt: skip
    assert run.code in (0, 3), run.stdout + run.stderr
    out = run.json
    return {key: out[key] for key in ("verdict", "reason_codes", "intent_digest", "policy_digest")}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_outside_gas_town_the_hook_decides_as_the_claude_code_adapter(
    gait: RunGait, hook: HookRunner, policy: Path, tmp_path: Path, scenario: str
) -> None:
    event = claude_event(SCENARIOS[scenario])
    by_hook = through_hook(hook, policy, tmp_path, event, {})
    by_proxy = through_proxy(gait, policy, tmp_path, event, "claude_code")
    by_api = in_process(policy, decode_claude_code(event))
    assert by_hook == by_proxy == by_api
    assert by_hook["verdict"] == scenario


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_under_gas_town_the_hook_decides_as_the_gastown_adapter(
    gait: RunGait, hook: HookRunner, policy: Path, tmp_path: Path, scenario: str
) -> None:
    event = claude_event(SCENARIOS[scenario])
    identity = {
        "gt_role": POLECAT["GT_ROLE"],
        "gt_rig": POLECAT["GT_RIG"],
        "gt_polecat": POLECAT["GT_POLECAT"],
        "bd_actor": POLECAT["BD_ACTOR"],
        "gt_session": POLECAT["GT_SESSION"],
    }
    payload = {**event, "gastown": identity}
    by_hook = through_hook(hook, policy, tmp_path, event, POLECAT)
    by_proxy = through_proxy(gait, policy, tmp_path, payload, "gastown")
    by_api = in_process(policy, decode_checked(payload))
    assert by_hook == by_proxy == by_api
    assert by_hook["verdict"] == scenario
    # the identity is part of what was decided: the digest differs from the bare event's
    assert (
        by_hook["intent_digest"] != in_process(policy, decode_claude_code(event))["intent_digest"]
    )
    trace = json.loads((tmp_path / "hook" / "trace_x.json").read_text())
    assert trace["trace_id"] == trace_id_for(
        by_api["policy_digest"], by_api["intent_digest"], by_api["verdict"]
    )
