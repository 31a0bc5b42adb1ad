"""The example plugin inside a real gait plugin host."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from gait_plugin_example import plugin

from gait.plugins import PluginHost


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
