"""Plugin loading: each plugin on its own, unsafe plugins refused, hooks called fail-closed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

import gait.plugins
from gait.builtin_plugins import BUILTINS
from gait.hookspecs import EvaluatorVerdict, ExportEvent
from gait.plugin_discovery import gait_entry_points
from gait.plugins import BUILTIN_HOOKS, load_plugins


def _fixtures() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "tests" / "plugin_fixtures.py"
    spec = importlib.util.spec_from_file_location("plugin_fixtures", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fx = _fixtures()


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("GAIT_PLUGINS", raising=False)
    # Only the test's own plugins: the workspace's plugin packages are installed in the venv.
    monkeypatch.setattr(
        gait.plugins, "gait_entry_points", lambda: gait_entry_points([str(tmp_path)])
    )
    suffix = request.node.name.replace("[", "_").replace("]", "").replace("-", "_")
    tmp_path.joinpath("suffix").write_text(suffix)
    yield tmp_path
    for name in [m for m in sys.modules if m.endswith(suffix)]:
        del sys.modules[name]


def add(site: Path, dist: str, source: str) -> str:
    module = f"{dist.replace('-', '_')}_{site.joinpath('suffix').read_text()}"
    fx.make_plugin(site, dist, module, source)
    return dist.removeprefix("gait-plugin-")


def statuses(host: object) -> dict[str, tuple[str, str]]:
    return {r.name: (r.status, r.error) for r in host.records}  # type: ignore[attr-defined]


def test_builtins_load_even_with_no_plugins() -> None:
    host = load_plugins(enabled=False)
    assert statuses(host) == {
        "gait.ed25519": ("builtin", ""),
        "gait.adapters": ("builtin", ""),
        "gait.exporters": ("builtin", ""),
    }
    assert "ed25519" in host.signers()


def test_builtin_hook_table_is_what_the_builtins_implement() -> None:
    manager = load_plugins(enabled=False).manager
    implemented = tuple(
        (name, tuple(sorted(caller.name for caller in manager.get_hookcallers(plugin) or [])))
        for name, plugin in BUILTINS
    )
    assert implemented == BUILTIN_HOOKS


def test_without_installed_plugins_decisions_do_not_load_pluggy() -> None:
    check = """
import sys
from gait.plugins import load_plugins

host = load_plugins(allow="")
assert host.evaluate(object(), "d" * 64) == []
assert host.hookimpls("gait_export") == [] and host.add_commands(None) == []
assert "pluggy" not in sys.modules
assert "ed25519" in host.signers()
assert "pluggy" in sys.modules
"""
    subprocess.run([sys.executable, "-c", check], check=True)


def test_each_plugin_loads_in_isolation(site: Path) -> None:
    add(site, "gait-plugin-good", fx.GOOD)
    add(site, "gait-plugin-broken", fx.BROKEN_IMPORT)
    host = load_plugins()
    found = statuses(host)
    assert found["good"] == ("loaded", "")
    assert found["broken"][0] == "failed"
    assert "this plugin is broken" in found["broken"][1]
    assert host.participants() == [{"name": "gait-plugin-good", "version": "1.2.3"}]


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("WRAPPER", "hook wrapper on gait_evaluate is not allowed"),
        ("UNKNOWN_HOOK", "unknown hook gait_evaluat"),
        ("WRONG_SIGNATURE", "extra_argument"),
    ],
)
def test_unsafe_or_wrong_plugins_are_refused_at_load(site: Path, source: str, message: str) -> None:
    add(site, "gait-plugin-bad", getattr(fx, source))
    host = load_plugins()
    status, error = statuses(host)["bad"]
    assert status == "failed"
    assert message in error
    assert host.manager.hook.gait_evaluate.get_hookimpls() == []


def test_allowlist(site: Path) -> None:
    add(site, "gait-plugin-good", fx.GOOD)
    add(site, "gait-plugin-other", fx.GOOD.replace("tool.forbidden", "tool.other"))
    builtins = {"gait.ed25519", "gait.adapters", "gait.exporters"}
    assert set(statuses(load_plugins(allow=""))) == builtins
    assert set(statuses(load_plugins(allow="other"))) == {*builtins, "other"}
    assert set(statuses(load_plugins(allow="gait-plugin-good"))) == {*builtins, "good"}


def test_env_allowlist_empty_loads_none(site: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    add(site, "gait-plugin-good", fx.GOOD)
    monkeypatch.setenv("GAIT_PLUGINS", "")
    assert set(statuses(load_plugins())) == {"gait.ed25519", "gait.adapters", "gait.exporters"}


class _Intent:
    tool_name = "tool.forbidden"


def test_evaluators_answer_and_failures_block(site: Path) -> None:
    add(site, "gait-plugin-good", fx.GOOD)
    add(site, "gait-plugin-crash", fx.RAISING_EVALUATOR)
    host = load_plugins()
    answers = dict(host.evaluate(_Intent(), "d" * 64))
    assert answers["gait-plugin-good:good"] == EvaluatorVerdict(
        verdict="block", reason_codes=("forbidden_tool",)
    )
    assert answers["gait-plugin-crash:crash"].verdict == "block"
    assert answers["gait-plugin-crash:crash"].reason_codes == ("plugin_evaluator_error",)


def test_export_failures_are_reported_not_raised(site: Path) -> None:
    add(site, "gait-plugin-crash", fx.RAISING_EVALUATOR)
    failures = load_plugins().export(ExportEvent(kind="decision", record={"verdict": "block"}))
    assert [(f.plugin, f.error) for f in failures] == [
        ("gait-plugin-crash:crash", "collector unreachable")
    ]


EXPORTERS = """
    import gait.hookspecs as hs

    class Quiet:
        def export(self, event): pass
        def stats(self): return hs.ExporterStats()
        def close(self, timeout): pass

    @hs.hookimpl
    def gait_exporters():
        return [
            hs.Exporter(name="audit", factory=lambda options: Quiet()),
            hs.Exporter(name="jsonl-log", factory=lambda options: Quiet()),
        ]
"""


def test_plugin_exporters_are_named_and_cannot_take_a_builtin_name(site: Path) -> None:
    add(site, "gait-plugin-audit", EXPORTERS)
    host = load_plugins()
    exporters = host.exporters()
    assert set(exporters) == {"audit", "jsonl-log", "jsonl-otel"}
    assert exporters["jsonl-log"].fail_closed  # the built-in, not the plugin's
    assert not exporters["audit"].fail_closed


MODULE_PLUGIN_SHAPES = """
    import os
    from os.path import join

    import gait.hookspecs as hs

    CONSTANT = {"gait_evaluate": 1}
    gait_sign = "not a function"

    @hs.hookimpl(specname="gait_evaluate")
    def renamed_evaluator(intent, policy_digest):
        return None

    @hs.hookimpl
    def gait_exporters():
        return []

    def gait_bridge():
        return []  # unmarked: pluggy ignores it

    class Helper:
        @hs.hookimpl
        def gait_commands(self, cli):
            pass

    marked_static = staticmethod(hs.hookimpl(lambda: []))
"""


def test_module_plugins_register_the_hooks_plain_pluggy_finds(site: Path) -> None:
    import pluggy

    from gait.hookspecs import PROJECT, GaitPluginManager, GaitSpecs

    fx.make_plugin(site, "gait-plugin-shapes", "gait_plugin_shapes_mod", MODULE_PLUGIN_SHAPES)
    module = importlib.import_module("gait_plugin_shapes_mod")
    found = []
    for manager_class in (pluggy.PluginManager, GaitPluginManager):
        manager = manager_class(PROJECT)
        manager.add_hookspecs(GaitSpecs)
        manager.register(module)
        found.append(sorted(caller.name for caller in manager.get_hookcallers(module) or []))
    assert found[0] == found[1] == ["gait_evaluate", "gait_exporters", "marked_static"]
