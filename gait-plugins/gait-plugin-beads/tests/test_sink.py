"""The `beads` sink of the `gait_bridge` hook: what a long-running service hands decisions to."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from gait_plugin_beads import plugin
from gait_plugin_beads.sink import BeadsSink, SinkResult

from gait.keys import KeySource, VerifyKey
from gait.plugins import PluginHost

from .conftest import FakeBd, Work


def public_key(work: Work) -> VerifyKey:
    return KeySource(path=str(work.public_key)).public_key()


def sink_for(work: Work, fake_bd: FakeBd, **options: object) -> BeadsSink:
    host = PluginHost()
    host.manager.register(plugin, name="beads")
    bridge = host.bridges()["beads"]
    assert bridge.kind == "sink"
    sink = bridge.factory(
        bd=fake_bd.path, env=fake_bd.env(), verify_key=public_key(work), **options
    )
    assert isinstance(sink, BeadsSink)
    return sink


def test_the_plugin_offers_the_sink_and_a_default_one_builds_without_arguments() -> None:
    host = PluginHost()
    host.manager.register(plugin, name="beads")
    bridge = host.bridges()["beads"]
    assert (bridge.name, bridge.kind) == ("beads", "sink")
    assert isinstance(bridge.factory(), BeadsSink)


def test_loading_the_plugin_imports_nothing_heavy() -> None:
    code = (
        "import sys, gait_plugin_beads.plugin\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('click', 'gait_cli', 'gait_plugin_beads', 'subprocess', 'cryptography')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "['gait_plugin_beads', 'gait_plugin_beads.plugin']"


def test_declaring_the_commands_leaves_the_work_unimported() -> None:
    code = (
        "import sys, click, gait_plugin_beads.plugin as p\n"
        "p.gait_commands(click.Group('gait'))\n"
        "print(sorted(m for m in sys.modules if m.startswith('gait_plugin_beads')))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == (
        "['gait_plugin_beads', 'gait_plugin_beads.cli', 'gait_plugin_beads.plugin']"
    )


def test_submit_returns_at_once_and_files_in_the_background(work: Work, fake_bd: FakeBd) -> None:
    seen: list[SinkResult] = []
    sink = sink_for(work, fake_bd, on_result=seen.append)
    sink.client.env = fake_bd.env(FAKE_BD_DELAY="0.3")
    decision = json.loads(Path(work.decision("block")).read_text())
    started = time.monotonic()
    assert sink.submit(work.trace("block"), decision=decision) is True
    assert time.monotonic() - started < 0.1
    assert sink.drain(timeout=60)
    [result] = sink.results
    assert result.ok and result.created and result.issue_id == "gt-001"
    assert seen == [result]
    [issue] = fake_bd.issues()
    assert "destructive_tool_blocked" in issue["description"]
    assert issue["external_ref"] == f"gait:{decision['trace_id']}"

    assert sink.submit(work.trace("block"), decision=decision) is True
    assert sink.drain(timeout=60)
    assert sink.results[-1].skipped == "already filed by this sink"
    assert fake_bd.commands() == ["list", "create", "show"]
    sink.close()

    fresh = sink_for(work, fake_bd)
    assert fresh.submit(work.trace("block"))
    fresh.close(timeout=60)
    assert fresh.results[-1].created is False and fresh.results[-1].issue_id == "gt-001"
    assert len(fake_bd.issues()) == 1


def test_allow_decisions_are_not_queued(work: Work, fake_bd: FakeBd) -> None:
    sink = sink_for(work, fake_bd)
    allow = json.loads(Path(work.decision("allow")).read_text())
    assert sink.submit(work.trace("allow"), decision=allow) is False
    assert sink.submit(work.trace("allow")) is True  # without a decision, the trace decides
    sink.close(timeout=60)
    assert sink.results[-1].skipped == "verdict allow"
    assert fake_bd.calls() == []


def test_failures_become_results_never_exceptions(work: Work, fake_bd: FakeBd) -> None:
    sink = sink_for(work, fake_bd)
    sink.client.env = fake_bd.env(FAKE_BD_FAIL="create")
    assert sink.submit(work.trace("block"))
    assert sink.submit(work.root / "missing.json")
    sink.close(timeout=60)
    failed, missing = sink.results
    assert "bd create failed (exit 1)" in failed.error
    assert "cannot read trace" in missing.error
    assert sink.submit(work.trace("block")) is False  # closed


def test_a_trace_that_does_not_verify_is_not_filed(work: Work, fake_bd: FakeBd) -> None:
    record = json.loads(Path(work.trace("block")).read_text())
    record["tool_name"] = "tool.other"
    (work.root / "changed.json").write_text(json.dumps(record))
    sink = sink_for(work, fake_bd)
    sink.submit(work.root / "changed.json")
    sink.close(timeout=60)
    assert "does not verify" in sink.results[-1].error
    assert fake_bd.calls() == []


def test_without_bd_the_sink_says_so(work: Work, fake_bd: FakeBd, tmp_path: Path) -> None:
    sink = sink_for(work, fake_bd)
    sink.client.bd = str(tmp_path / "no-bd")
    assert sink.available is False
    sink.submit(work.trace("block"))
    sink.close(timeout=60)
    assert "bd not found" in sink.results[-1].error


def test_a_full_queue_drops_and_records(work: Work, fake_bd: FakeBd) -> None:
    sink = sink_for(work, fake_bd, max_pending=1)
    sink.client.env = fake_bd.env(FAKE_BD_DELAY="0.5")
    accepted = [sink.submit(work.trace("block")) for _ in range(3)]
    assert accepted[0] is True and False in accepted
    sink.close(timeout=60)
    assert any(r.error.startswith("dropped: 1 traces already queued") for r in sink.results)
