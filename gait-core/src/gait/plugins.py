"""The plugin host: load each plugin on its own, refuse unsafe ones, call hooks fail-closed."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import attrs

from gait import __version__
from gait.plugin_discovery import EntryPoint, gait_entry_points, selected

if TYPE_CHECKING:
    import pluggy

    from gait.exports import Exporter
    from gait.hookspecs import Bridge, EvaluatorVerdict, ExportEvent, SignerBackend

ENV_ALLOWLIST = "GAIT_PLUGINS"

# The built-ins (`gait.builtin_plugins.BUILTINS`) and the hooks each implements, known here so
# that a host with no installed plugin answers the hooks no built-in implements without
# importing pluggy or the built-ins (start-up budget). test_plugins checks it against pluggy.
BUILTIN_HOOKS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gait.ed25519", ("gait_sign",)),
    ("gait.adapters", ("gait_bridge",)),
    ("gait.exporters", ("gait_exporters",)),
)


@attrs.frozen(kw_only=True)
class PluginRecord:
    """One plugin as `gait plugins list` shows it."""

    name: str
    dist: str
    version: str
    status: str  # builtin | loaded | failed
    hooks: tuple[str, ...] = ()
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "dist": self.dist,
            "version": self.version,
            "status": self.status,
            "hooks": list(self.hooks),
        }
        if self.error:
            out["error"] = self.error
        return out


@attrs.frozen(kw_only=True)
class ExportFailure:
    plugin: str
    error: str


class PluginRefused(Exception):
    """A plugin that loaded but may not run."""


class PluginHost:
    """A pluggy manager with the built-ins and the selected installed plugins.

    The manager is built, with the built-ins registered, on first use. Until then the built-ins
    are the only plugins, so a hook none of them implements has no implementation to call.
    """

    def __init__(self) -> None:
        self._manager: pluggy.PluginManager | None = None
        self.records: list[PluginRecord] = [
            PluginRecord(
                name=name, dist="gait-core", version=__version__, status="builtin", hooks=hooks
            )
            for name, hooks in BUILTIN_HOOKS
        ]

    @property
    def manager(self) -> pluggy.PluginManager:
        if self._manager is None:
            from gait.builtin_plugins import BUILTINS
            from gait.hookspecs import PROJECT, GaitPluginManager, GaitSpecs

            manager = GaitPluginManager(PROJECT)
            manager.add_hookspecs(GaitSpecs)
            for name, plugin in BUILTINS:
                manager.register(plugin, name=name)
            self._manager = manager
        return self._manager

    def hookimpls(self, hook: str) -> list[pluggy.HookImpl]:
        """The registered implementations of `hook` (the manager is not built to find none)."""
        if self._manager is None and not any(hook in hooks for _, hooks in BUILTIN_HOOKS):
            return []
        caller: pluggy.HookCaller = getattr(self.manager.hook, hook)
        return caller.get_hookimpls()

    # -- loading ---------------------------------------------------------------------------

    def load_entry_point(self, ep: EntryPoint) -> PluginRecord:
        """Import and register one plugin; any failure is recorded, never raised."""
        registered_name = f"{ep.dist}:{ep.name}"
        plugin: object | None = None
        try:
            plugin = ep.load()
            self.manager.register(plugin, name=registered_name)
            self._check(plugin)
            record = PluginRecord(
                name=ep.name,
                dist=ep.dist,
                version=ep.version,
                status="loaded",
                hooks=self._hooks_of(plugin),
            )
        except Exception as exc:  # a broken plugin must never take the CLI down
            if plugin is not None and self.manager.is_registered(plugin):
                self.manager.unregister(plugin)
            record = PluginRecord(
                name=ep.name,
                dist=ep.dist,
                version=ep.version,
                status="failed",
                error=f"{type(exc).__name__}: {exc}",
            )
        self.records.append(record)
        return record

    def _check(self, plugin: object) -> None:
        for caller in self.manager.get_hookcallers(plugin) or []:
            if caller.spec is None:
                raise PluginRefused(f"implements unknown hook {caller.name}")
        for impl in self.hookimpls("gait_evaluate"):
            if impl.plugin is plugin and (impl.wrapper or impl.hookwrapper):
                raise PluginRefused(
                    "a hook wrapper on gait_evaluate is not allowed: a wrapper could turn "
                    "another evaluator's block into allow"
                )

    def _hooks_of(self, plugin: object) -> tuple[str, ...]:
        return tuple(sorted(c.name for c in self.manager.get_hookcallers(plugin) or []))

    # -- calling ---------------------------------------------------------------------------

    def evaluate(self, intent: Any, policy_digest: str) -> list[tuple[str, EvaluatorVerdict]]:
        """Ask every evaluator; one that raises or answers nonsense counts as `block`."""
        impls = self.hookimpls("gait_evaluate")
        if not impls:
            return []
        from gait.hookspecs import EvaluatorVerdict

        results: list[tuple[str, EvaluatorVerdict]] = []
        for impl in impls:
            try:
                answer = _call(impl, intent=intent, policy_digest=policy_digest)
                if answer is None:
                    continue
                if not isinstance(answer, EvaluatorVerdict):
                    raise TypeError(f"returned {type(answer).__name__}, not EvaluatorVerdict")
            except Exception:
                answer = EvaluatorVerdict(
                    verdict="block",
                    reason_codes=("plugin_evaluator_error",),
                    violations=("plugin_evaluator_error",),
                )
            results.append((impl.plugin_name, answer))
        return results

    def export(self, event: ExportEvent) -> list[ExportFailure]:
        """Hand an event to every exporter; failures are returned, never raised."""
        failures: list[ExportFailure] = []
        for impl in self.hookimpls("gait_export"):
            try:
                _call(impl, event=event)
            except Exception as exc:
                failures.append(ExportFailure(plugin=impl.plugin_name, error=str(exc)))
        return failures

    def signers(self) -> dict[str, SignerBackend]:
        return {backend.name: backend for backend in _flatten(self.manager.hook.gait_sign())}

    def bridges(self) -> dict[str, Bridge]:
        """Every bridge by name. Built-ins register first and pluggy answers last-registered
        first, so a plugin cannot take over a built-in name."""
        return {bridge.name: bridge for bridge in _flatten(self.manager.hook.gait_bridge())}

    def exporters(self) -> dict[str, Exporter]:
        """Every decision exporter by name (a plugin cannot take a built-in's name, as with
        bridges). With no installed plugin loaded, the built-in table answers, without pluggy."""
        if self._manager is None:
            from gait.jsonl_export import BUILTIN_EXPORTERS

            return {exporter.name: exporter for exporter in BUILTIN_EXPORTERS}
        return {e.name: e for e in _flatten(self.manager.hook.gait_exporters())}

    def adapter(self, name: str) -> Callable[[Any], Any] | None:
        """The `gait_bridge` adapter called `name`, built by its factory; None if there is none.

        With no installed plugin loaded, the built-in adapter table answers, which is what the
        built-in hook would (test_plugins checks it), without importing pluggy: hook integrations
        run `gait mcp proxy` once per tool call.
        """
        if self._manager is None:
            from gait.mcp.toolcall import BUILTIN_ADAPTERS

            entry = BUILTIN_ADAPTERS.get(name)
            return None if entry is None else entry[0]
        bridge = self.bridges().get(name)
        if bridge is None or bridge.kind != "adapter":
            return None
        built: Callable[[Any], Any] = bridge.factory()
        return built

    def add_commands(self, cli: Any) -> list[PluginRecord]:
        """Let plugins add click commands; a plugin that fails here is marked failed."""
        failed: list[PluginRecord] = []
        for impl in self.hookimpls("gait_commands"):
            try:
                _call(impl, cli=cli)
            except Exception as exc:
                failed.append(self._mark_failed(impl.plugin_name, exc))
        return failed

    def _mark_failed(self, registered_name: str, exc: Exception) -> PluginRecord:
        plugin = self.manager.get_plugin(registered_name)
        if plugin is not None:
            self.manager.unregister(plugin)
        for index, record in enumerate(self.records):
            if registered_name in (record.name, f"{record.dist}:{record.name}"):
                failed = attrs.evolve(record, status="failed", error=f"{type(exc).__name__}: {exc}")
                self.records[index] = failed
                return failed
        raise LookupError(registered_name)

    def participants(self) -> list[dict[str, str]]:
        """Name and version of every loaded third-party evaluator, for traces: a plugin that
        only adds commands or bridges takes no part in a decision."""
        return [
            {"name": r.dist, "version": r.version}
            for r in self.records
            if r.status == "loaded" and "gait_evaluate" in r.hooks
        ]


def _call(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one implementation with the arguments it declares (pluggy allows a subset)."""
    return impl.function(*(kwargs[name] for name in impl.argnames))


def _flatten(results: Iterable[Any]) -> Iterable[Any]:
    for result in results:
        if isinstance(result, list | tuple):
            yield from result
        elif result is not None:
            yield result


def load_plugins(*, enabled: bool = True, allow: str | None = None) -> PluginHost:
    """Build a host: built-ins always, then installed plugins unless disabled.

    `allow` defaults to the `GAIT_PLUGINS` environment variable (unset: all, empty: none).
    """
    host = PluginHost()
    if not enabled:
        return host
    if allow is None:
        allow = os.environ.get(ENV_ALLOWLIST)
    for ep in selected(gait_entry_points(), allow):
        host.load_entry_point(ep)
    return host
