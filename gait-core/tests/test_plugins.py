"""Plugin loading: each plugin on its own, unsafe plugins refused, hooks called fail-closed."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

import gait.plugins
from gait.builtin_plugins import BUILTIN_KINDS, BUILTINS
from gait.hookspecs import EvaluatorVerdict, ExportEvent
from gait.plugin_discovery import gait_entry_points
from gait.plugins import BUILTIN_HOOK, load_plugins
from gait.registry import Registry


def _fixtures() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "tests" / "plugin_fixtures.py"
    spec = importlib.util.spec_from_file_location("plugin_fixtures", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


fx = _fixtures()


@pytest.fixture
def site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Path]:
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
    host = load_plugins(enabled=False)
    listed = tuple((r.name, r.hooks) for r in host.records)
    manager = host.manager
    implemented = tuple(
        (name, tuple(sorted(caller.name for caller in manager.get_hookcallers(plugin) or [])))
        for name, plugin in manager.list_name_plugin()
    )
    assert implemented == listed
    assert listed == tuple((name, (BUILTIN_HOOK,)) for name, _ in BUILTINS)


def test_the_builtins_register_the_same_without_and_with_pluggy() -> None:
    """One list of built-ins feeds both paths: the registry a host fills without pluggy (no
    installed plugin) equals the one pluggy's `gait_register` calls fill."""
    host = load_plugins(enabled=False)
    without = host.registry().snapshot()
    assert host._manager is None
    host.manager  # noqa: B018 - builds the manager: the registry now comes through pluggy
    with_pluggy = host.registry().snapshot()
    assert host._registry_key is not None
    assert with_pluggy == without
    assert set(without["signer"]) == {"ed25519"}
    assert set(without["exporter"]) == {"jsonl-log", "jsonl-otel"}
    assert {"mcp", "openai", "claude_code"} <= set(without["adapter"])
    assert without["sink"] == {} and without["ci_provider"] == {}


def test_each_builtin_registers_only_its_declared_kind() -> None:
    """A host with no installed plugin runs, for one kind, only the built-ins of that kind."""
    for name, register in BUILTINS:
        registry = Registry()
        register(registry.scoped(name))
        kinds = {kind for kind, _ in registry.owned_by(name)}
        assert kinds == {BUILTIN_KINDS[name]}, name


def test_without_installed_plugins_decisions_do_not_load_pluggy() -> None:
    check = """
import sys
from gait.plugins import load_plugins

host = load_plugins(allow="")
assert host.evaluate(object(), "d" * 64) == []
assert host.hookimpls("gait_export") == [] and host.add_commands(None) == []
assert "pluggy" not in sys.modules
assert "ed25519" in host.signers() and "jsonl-log" in host.exporters()
assert host.adapter("openai") is not None and host.sinks() == {}
assert "pluggy" not in sys.modules
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
    forbidden: Any = _Intent()  # a stand-in: evaluators read only tool_name
    answers = dict(host.evaluate(forbidden, "d" * 64))
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


ALL_KINDS = """
    import gait.hookspecs as hs

    def sink(**options):
        return object()

    @hs.hookimpl
    def gait_register(registry: hs.Registry) -> None:
        registry.add_signer("kms", lambda options: None, description="a remote key")
        registry.add_adapter("acme", lambda: (lambda payload: payload))
        registry.add_sink("tickets", sink)
        registry.add_exporter("audit", lambda options: None)
        registry.add_ci_provider("acme-ci", lambda: None)
        registry.add_signer("ed25519", lambda options: None)  # a built-in's name: ignored
"""


def test_each_kind_registers_under_its_own_names(site: Path) -> None:
    add(site, "gait-plugin-kinds", ALL_KINDS)
    host = load_plugins()
    assert statuses(host)["kinds"] == ("loaded", "")
    assert set(host.signers()) == {"ed25519", "kms"}
    assert host.signers()["ed25519"].description.startswith("Ed25519")  # the built-in's
    assert "acme" in host.adapters() and "acme" not in host.sinks()
    assert set(host.sinks()) == {"tickets"}
    assert "audit" in host.exporters() and set(host.ci_providers()) == {"acme-ci"}
    (record,) = [r for r in host.listing() if r.name == "kinds"]
    assert record.hooks == ("gait_register",)
    assert record.provides == (
        "signer:kms",
        "adapter:acme",
        "sink:tickets",
        "exporter:audit",
        "ci_provider:acme-ci",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('registry.add_sink("", lambda: None)', "non-empty name"),
        ('registry.add_adapter("x", "not callable")', "not callable"),
        ('raise RuntimeError("cannot register")', "gait_register failed: cannot register"),
    ],
    ids=["empty_name", "not_callable", "raises"],
)
def test_a_plugin_that_registers_wrongly_is_failed_and_blocked(
    site: Path, body: str, message: str
) -> None:
    add(
        site,
        "gait-plugin-wrong",
        f"""
    import gait.hookspecs as hs

    @hs.hookimpl
    def gait_register(registry):
        {body}

    @hs.hookimpl
    def gait_evaluate(intent, policy_digest):
        return hs.EvaluatorVerdict(verdict="block")
""",
    )
    host = load_plugins()
    status, error = statuses(host)["wrong"]
    assert status == "failed" and message in error
    assert host.manager.is_blocked("gait-plugin-wrong:wrong")
    assert host.evaluate(_Intent(), "d" * 64) == []  # type: ignore[arg-type]  # nothing stays
    assert set(host.sinks()) == set() and "x" not in host.adapters()


LEGACY = """
    import gait.hookspecs as hs

    @hs.hookimpl
    def gait_sign():
        return [hs.SignerBackend(name="old-kms", factory=lambda options: None)]

    @hs.hookimpl
    def gait_bridge():
        return [
            hs.Bridge(name="old-adapter", kind="adapter", factory=lambda: (lambda p: p)),
            hs.Bridge(name="old-sink", kind="sink", factory=lambda **options: object()),
            hs.Bridge(name="ci.old", kind="sink", factory=lambda: None),
        ]
"""


def test_plugins_of_the_deprecated_hooks_register_through_the_shim(site: Path) -> None:
    add(site, "gait-plugin-legacy", LEGACY)
    host = load_plugins()
    assert statuses(host)["legacy"] == ("loaded", "")
    assert "old-kms" in host.signers()
    assert "old-adapter" in host.adapters()
    # A `ci.NAME` sink was how a CI provider registered: it is the provider NAME, not a sink.
    assert set(host.sinks()) == {"old-sink"}
    assert set(host.ci_providers()) == {"old"}
    assert set(host.bridges()) >= {"old-adapter", "old-sink"} and "ci.old" not in host.bridges()


def test_pluggy_validation_refuses_an_unknown_hook_through_check_pending(site: Path) -> None:
    add(site, "gait-plugin-bad", fx.UNKNOWN_HOOK)
    host = load_plugins()
    status, error = statuses(host)["bad"]
    assert status == "failed" and "unknown hook 'gait_evaluat'" in error  # pluggy's own message
    host.manager.check_pending()  # nothing pending is left behind
    assert host.manager.is_blocked("gait-plugin-bad:bad")
