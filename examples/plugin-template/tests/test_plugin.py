"""The example plugin inside a real gait plugin host, and inside the installed `gait`.

The fixtures `gait`, `gait_key_pair` and `gait_policy` come from gait-core's pytest plugin
(`gait.testing`): no conftest is needed.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from gait_plugin_example import plugin

from gait.plugins import PluginHost
from gait.testing import KeyPair, PolicyWriter, RunGait

INTENT = {
    "schema_id": "gait.gate.intent_request",
    "schema_version": "1.0.0",
    "created_at": "2026-02-06T00:00:00Z",
    "producer_version": "0.1.0-example",
    "tool_name": "shell.exec",
    "args": {"command": "ls"},
    "targets": [{"kind": "path", "value": "/tmp/workspace", "operation": "read"}],
    "context": {"identity": "agent.demo", "workspace": "/tmp/workspace", "risk_class": "low"},
}


def host() -> PluginHost:
    result = PluginHost()
    result.manager.register(plugin, name="example")
    return result


def test_denied_prefix_blocks() -> None:
    answers = host().evaluate(SimpleNamespace(tool_name="shell.exec"), "0" * 64)
    assert [(name, a.verdict, a.reason_codes) for name, a in answers] == [
        ("example", "block", ("example_denied_prefix",))
    ]


def test_other_tools_get_no_opinion(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(plugin.DENIED_PREFIXES_ENV, "net.")
    assert host().evaluate(SimpleNamespace(tool_name="shell.exec"), "0" * 64) == []


def test_the_example_adapter_is_registered_by_name() -> None:
    plugins = host()
    assert "example" in plugins.adapters() and "example" not in plugins.sinks()
    decode = plugins.adapter("example")
    assert decode is not None
    assert decode({"tool": "shell.exec", "input": {"command": "ls"}}) == {
        "name": "shell.exec",
        "args": {"command": "ls"},
    }


def gate_eval(gait: RunGait, policy: Path, keys: KeyPair, plugins: str) -> dict[str, Any]:
    """`gait gate eval` of INTENT in the test's folder, signed with `keys`, which verify the
    trace too."""
    (policy.parent / "intent.json").write_text(json.dumps(INTENT))
    run = gait(
        "gate",
        "eval",
        "--policy",
        str(policy),
        "--intent",
        "intent.json",
        *keys.sign_args(),
        "--trace-out",
        "trace.json",
        "--json",
        plugins=plugins,
    )
    assert run.code in (0, 3), run.stdout + run.stderr
    verified = gait("trace", "verify", "trace.json", *keys.verify_args(), "--json")
    assert verified.code == 0, verified.stdout + verified.stderr
    return run.json


def test_the_installed_gait_blocks_a_denied_tool_with_the_plugin_loaded(
    gait: RunGait, gait_key_pair: KeyPair, gait_policy: PolicyWriter
) -> None:
    policy = gait_policy({"default_verdict": "allow", "rules": []})
    assert gate_eval(gait, policy, gait_key_pair, plugins="")["verdict"] == "allow"
    decision = gate_eval(gait, policy, gait_key_pair, plugins="example")
    assert decision["verdict"] == "block"
    assert "example_denied_prefix" in decision["reason_codes"]
