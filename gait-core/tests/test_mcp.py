"""The MCP boundary's library parts: adapters, the call-to-intent mapping, run ids, session
journals and retention."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gait.gate import Gate
from gait.mcp import retention
from gait.mcp.boundary import normalize_run_id
from gait.mcp.journal import append_event, journal_base, read_events
from gait.mcp.toolcall import (
    BUILTIN_ADAPTERS,
    ToolCallError,
    call_intent,
    claude_tool_name,
    decode_anthropic,
    decode_claude_code,
    decode_langchain,
    decode_mcp,
    decode_openai,
)
from gait.plugins import load_plugins


@pytest.mark.parametrize(
    ("arguments", "args"),
    [('{"query":"gait"}', {"query": "gait"}), ({"a": 1.0}, {"a": 1.0}), (None, {}), ("  ", {})],
)
def test_openai_argument_shapes(arguments: object, args: object) -> None:
    call = decode_openai(
        {"type": "function", "function": {"name": "tool.search", "arguments": arguments}}
    )
    assert call == {"name": "tool.search", "args": args}


def test_non_object_arguments_are_errors() -> None:
    with pytest.raises(ToolCallError, match="decode openai arguments"):
        decode_openai({"function": {"name": "t", "arguments": "[1]"}})
    with pytest.raises(ToolCallError, match="decode langchain tool_input"):
        decode_langchain({"tool": "t", "tool_input": [1]})
    with pytest.raises(ToolCallError, match="parse anthropic tool call"):
        decode_anthropic([])
    assert decode_langchain({"tool": "t", "tool_input": '{"x": 1}'}) == {
        "name": "t",
        "args": {"x": 1.0},
    }


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        ("Read", "tool.read"),
        ("WebFetch", "tool.read"),
        ("Notebook-Edit", "tool.write"),
        ("Bash", "tool.exec"),
        ("Task", "tool.delegate"),
        ("mcp.Server.Tool", "mcp.server.tool"),
        ("Custom Action", "tool.custom_action"),
    ],
)
def test_claude_tool_names(raw: str, name: str) -> None:
    assert claude_tool_name(raw) == name


def test_claude_code_targets_and_context() -> None:
    call = decode_claude_code(
        {
            "session_id": "sess-claude-1",
            "tool_name": "Bash",
            "tool_input": {"command": "npm test"},
            "hook_event_name": "PreToolUse",
        }
    )
    assert call["targets"] == [{"kind": "other", "value": "npm test", "operation": "execute"}]
    assert call["context"] == {
        "session_id": "sess-claude-1",
        "auth_context": {"hook_event_name": "PreToolUse", "adapter": "claude_code"},
    }
    read = decode_claude_code({"name": "Read", "input": {"file_path": "/a", "url": "https://x"}})
    assert [t["kind"] for t in read["targets"]] == ["path", "url"]
    with pytest.raises(ToolCallError, match="claude code tool call name is required"):
        decode_claude_code({"tool_input": {}})


def test_native_call_to_intent_defaults_legacy_target_and_hints() -> None:
    intent = call_intent(
        decode_mcp(
            {
                "name": " tool.write ",
                "target": "api.external.com",
                "unknown": "ignored",
                "context": {"run_id": "r", "auth_mode": "token"},
            }
        )
    )
    assert intent["created_at"] == "1980-01-01T00:00:00Z"
    assert intent["targets"] == [{"kind": "host", "value": "api.external.com"}]
    assert intent["context"]["identity"] == "mcp-proxy" and intent["context"]["workspace"] == "."
    assert intent["context"]["risk_class"] == "high"
    assert intent["context"]["auth_context"] == {"auth_mode": "token"}
    assert "run_id" not in intent["context"]
    hinted = call_intent(
        {
            "name": "t",
            "targets": [
                {
                    "kind": "path",
                    "value": "/a",
                    "readOnlyHint": True,
                    "discoveryMethod": "webmcp",
                    "annotations": {"readOnlyHint": "false", "destructive_hint": True},
                }
            ],
        }
    )
    assert hinted["targets"] == [
        {"kind": "path", "value": "/a", "discovery_method": "webmcp", "destructive_hint": True}
    ]
    for legacy, kind in (("https://x", "url"), ("/etc/x", "path"), ("host", "host")):
        assert call_intent({"name": "t", "target": legacy})["targets"][0]["kind"] == kind


def test_scripts_and_strict_context() -> None:
    intent = call_intent(
        {"name": "", "script": {"steps": [{"name": "tool.read", "args": {"a": 1.0}}]}}
    )
    assert intent["tool_name"] == "script" and intent["args"] == {}
    assert intent["script"]["steps"][0]["tool_name"] == "tool.read"
    with pytest.raises(ToolCallError, match=r"script.steps\[0\].name is required"):
        call_intent({"script": {"steps": [{"name": " "}]}})
    with pytest.raises(ToolCallError, match="tool call name is required"):
        call_intent({"name": " "})
    with pytest.raises(ToolCallError, match=r"context\.identity is required in strict profile"):
        call_intent({"name": "t"}, strict=True)
    with pytest.raises(ToolCallError, match=r"parse mcp tool call: targets\[0\]\.kind"):
        decode_mcp({"name": "t", "targets": [{"kind": 1}]})


def test_the_mapped_intent_decides_like_the_reference_example() -> None:
    policy = """
schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: allow
rules:
  - name: block-host-writes
    effect: block
    match: {tool_names: [tool.write], target_kinds: [host], target_values: [api.external.com]}
"""
    call = {"name": "tool.write", "args": {"path": "/tmp/out.txt"}, "target": "api.external.com"}
    assert Gate.from_yaml(policy).evaluate(call_intent(decode_mcp(call))).verdict == "block"


def test_run_id_normalization() -> None:
    assert normalize_run_id("my run id") == "run_my_run_id"
    assert normalize_run_id("run_x") == "run_x"
    assert normalize_run_id(" __ ") == ""


def test_builtin_adapter_table_is_what_the_hook_offers() -> None:
    host = load_plugins(enabled=False)
    for name, (decoder, _) in BUILTIN_ADAPTERS.items():
        assert host.adapter(name) is decoder  # without pluggy
    bridges = host.bridges()  # through the hook
    assert {n for n, b in bridges.items() if b.kind == "adapter"} == set(BUILTIN_ADAPTERS)
    for name, bridge in bridges.items():
        assert bridge.factory() is BUILTIN_ADAPTERS[name][0]
        assert host.adapter(name) is BUILTIN_ADAPTERS[name][0]  # now through pluggy
    assert host.adapter("nope") is None


def test_journal_appends_in_order_and_repairs_a_torn_tail(tmp_path: Path) -> None:
    assert journal_base(" a/b c:d. ") == "a_b_c_d" and journal_base("..") == "session"
    for expected in (1, 2, 3):
        path, sequence = append_event(tmp_path, "s/1", "run_a", {"verdict": "allow"})
        assert (path.name, sequence) == ("s_1.journal.jsonl", expected)
    with path.open("ab") as handle:
        handle.write(b'{"record_type":"event","event":{"sequ')  # a crash mid-line
    assert append_event(tmp_path, "s/1", "run_a", {})[1] == 4
    assert [e["sequence"] for e in read_events(path)] == [1, 2, 3, 4]
    other, sequence = append_event(tmp_path, "s/1", "run_b", {})
    assert (other.name, sequence) == ("s_1_run_b.journal.jsonl", 1)


def test_journal_append_cost_does_not_grow_with_length(tmp_path: Path) -> None:
    def time_appends(count: int) -> float:
        started = time.perf_counter()
        for _ in range(count):
            append_event(tmp_path, "long", "run", {"verdict": "allow"})
        return (time.perf_counter() - started) / count

    early = min(time_appends(50) for _ in range(3))
    path = tmp_path / "long.journal.jsonl"
    with path.open("ab") as handle:  # as if 50,000 decisions had been appended
        line = json.dumps({"record_type": "event", "event": {"sequence": 0}}) + "\n"
        handle.write(line.encode() * 50_000)
        handle.write(
            (json.dumps({"record_type": "event", "event": {"sequence": 50_150}}) + "\n").encode()
        )
    late = min(time_appends(50) for _ in range(3))
    assert late < early * 2 + 0.002
    assert append_event(tmp_path, "long", "run", {})[1] == 50_151 + 150


def test_retention_classes_and_rules(tmp_path: Path) -> None:
    table = {
        ("trace", "trace_a.json"): True,
        ("trace", "a.json"): False,
        ("runpack", "runpack_a.zip"): True,
        ("runpack", "s_cp_000001.zip"): True,
        ("runpack", "pack_a.zip"): False,
        ("pack", "pack_a.zip"): True,
        ("pack", "runpack_a.zip"): False,
        ("session", "s.journal.jsonl"): True,
        ("session", "s.STATE"): True,
        ("session", "s.zip"): False,
    }
    for (kind, name), expected in table.items():
        assert retention.matches(kind, name) is expected, (kind, name)
    now = time.time_ns()
    for index in range(4):
        path = tmp_path / f"trace_{index}.json"
        path.write_text("{}")
        os.utime(path, ns=(now - index * 10**9, now - index * 10**9))
    (tmp_path / "runpack_0.zip").write_text("")
    warning = retention.apply(retention.Rule(kind="trace", directory=tmp_path, max_count=2), now)
    assert warning == "retention_trace_removed_age=0 removed_count=2"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "runpack_0.zip",
        "trace_0.json",
        "trace_1.json",
    ]
    rule = retention.Rule(kind="trace", directory=tmp_path, max_age_ns=500_000_000)
    assert retention.apply(rule, now) == "retention_trace_removed_age=1 removed_count=0"
    assert retention.apply(retention.Rule(kind="trace", directory=tmp_path / "x", max_count=1))


@pytest.mark.parametrize("group_commit", [True, False])
def test_group_writer_writes_whole_files_under_new_names(
    tmp_path: Path, group_commit: bool
) -> None:
    import asyncio

    from gait.mcp.groupwrite import GroupWriter

    writer = GroupWriter(tmp_path)
    if not group_commit:
        writer._syncfs = None  # the fallback: one write_new per file

    async def write_all() -> list[Path]:
        futures = [writer.write("trace__", ".json", f'{{"n": {i}}}'.encode()) for i in range(60)]
        return list(await asyncio.gather(*futures))

    paths = asyncio.run(write_all())
    writer.close()
    assert len(set(paths)) == 60
    assert sorted(json.loads(p.read_bytes())["n"] for p in paths) == list(range(60))
    assert all(p.name.startswith("trace__") and p.stat().st_mode & 0o777 == 0o600 for p in paths)
    assert sorted(tmp_path.iterdir()) == sorted(paths)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=500)
@given(record=st.dictionaries(st.text(), JSON))
def test_trace_file_bytes_are_json_dumps_indent_2(record: dict[str, object]) -> None:
    from gait.trace import trace_json_bytes

    expected = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    assert trace_json_bytes(record) == expected.encode("utf-8")
