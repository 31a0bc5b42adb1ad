"""Fixtures: a working folder with a policy, a signing key and calls, a real OTLP/HTTP receiver
on loopback, and the installed `gait` with this plugin loaded and pointed at the receiver."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from gait.testing import Run, RunGait
from tests.otlp_receiver import Receiver, closed_port

REPO = Path(__file__).resolve().parents[3]  # the repository (examples, docs, shared data)
SHARED = REPO.parent / "shared"  # the conformance data beside the repository
SECRET = "private-argument-value-never-exported"
SERVE_BODY = json.loads((SHARED / "reference_fixtures/derived/serve_body_mcp.json").read_text())
WRITE_CALL = {
    "name": "tool.write",
    "args": {"path": "/srv/notes.md", "content": SECRET},
    "targets": [{"kind": "path", "value": "/srv/notes.md", "operation": "write"}],
    "arg_provenance": [{"arg_path": "$.path", "source": "user"}],
    "context": {
        "identity": "alice",
        "workspace": "/srv",
        "risk_class": "high",
        "session_id": "sess-otel",
        "run_id": "run_otel_case",
    },
}
OPENAI_CALL = {
    "type": "function",
    "function": {"name": "tool.read", "arguments": json.dumps({"path": SECRET})},
}
POLICY = """schema_id: gait.gate.policy
schema_version: 1.0.0
default_verdict: allow
rules:
  - name: block-write
    priority: 10
    effect: block
    match:
      tool_names: [tool.write]
    reason_codes: [write_blocked_in_test]
"""
# What changes between two decisions of the same call: the wall clock and what covers it.
_WALL_CLOCK = re.compile(
    rb'("observed_at": |"event_id": |"latency_ms": |"sig": |"signed_digest": )[^,\n]*'
)


def without_wall_clock(trace: bytes) -> bytes:
    return _WALL_CLOCK.sub(rb"\1<fixed>", trace)


@attrs.frozen
class Work:
    root: Path
    home: Path

    def path(self, name: str) -> Path:
        return self.root / name

    def key_args(self) -> tuple[str, ...]:
        return ("--key-mode", "prod", "--private-key", "keys/gait_private.key")


@pytest.fixture
def work(tmp_path: Path, gait: RunGait) -> Work:
    root = tmp_path / "work"
    shutil.copytree(REPO / "examples" / "quickstart", root)
    intent = json.loads((root / "intent_read.json").read_text())
    intent["args"]["content"] = SECRET
    intent["context"]["session_id"] = "sess-gate"
    (root / "intent_secret.json").write_text(json.dumps(intent))
    (root / "write_call.json").write_text(json.dumps(WRITE_CALL))
    (root / "openai_call.json").write_text(json.dumps(OPENAI_CALL))
    (root / "mcp_policy.yaml").write_text(POLICY)
    home = tmp_path / "home"
    keys = gait("keys", "init", "--out-dir", "keys", cwd=root, env={"GAIT_HOME": str(home)})
    assert keys.code == 0, keys.stdout + keys.stderr
    return Work(root=root, home=home)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    started = Receiver()
    yield started
    started.close()


@pytest.fixture
def otel(gait: RunGait, work: Work) -> Any:
    """`gait` in the working folder with the plugin loaded; `endpoint=` points OTLP there."""

    def run(*args: str, endpoint: str = "", env: dict[str, str] | None = None) -> Run:
        full = {"GAIT_HOME": str(work.home), "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint}
        full.update(env or {})
        return gait(*args, cwd=work.root, plugins="otel", env=full)

    return run


def down_endpoint() -> str:
    return f"http://127.0.0.1:{closed_port()}"
