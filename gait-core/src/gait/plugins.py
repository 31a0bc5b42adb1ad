"""The plugin host: load each plugin on its own, refuse unsafe ones, call hooks fail-closed."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import attrs

from gait import __version__
from gait.builtin_plugins import BUILTIN_KINDS, BUILTINS
from gait.plugin_discovery import EntryPoint, gait_entry_points, selected

if TYPE_CHECKING:
    import click
    import pluggy

    from gait.exports import Exporter
    from gait.hookspecs import Bridge, EvaluatorVerdict, ExportEvent
    from gait.intent import NormalizedIntent
    from gait.registry import (
        AdapterBackend,
        CIProviderBackend,
        Decoder,
        Registry,
        SignerBackend,
        SinkBackend,
    )

ENV_ALLOWLIST = "GAIT_PLUGINS"

# The hook every built-in implements (gait.builtin_plugins.BUILTINS, registered as
# gait.hookspecs.BuiltinPlugin): a host with no installed plugin answers every other hook
# without importing pluggy (start-up budget).
BUILTIN_HOOK = "gait_register"
# The hooks that add named backends: gait_register, then the deprecated hooks it replaces.
REGISTRATION_HOOKS = ("gait_register", "gait_sign", "gait_exporters", "gait_bridge")
CI_PREFIX = "ci."


@attrs.frozen(kw_only=True)
class PluginRecord:
    """One plugin as `gait plugins list` shows it."""

    name: str
    dist: str
    version: str
    status: str  # builtin | loaded | failed
    hooks: tuple[str, ...] = ()
    error: str = ""
    # What it registered, as `kind:name` (filled by PluginHost.listing).
    provides: tuple[str, ...] = ()

    @property
    def registered_name(self) -> str:
        """The name the plugin is registered under with pluggy."""
        return self.name if self.status == "builtin" else f"{self.dist}:{self.name}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "dist": self.dist,
            "version": self.version,
            "status": self.status,
            "hooks": list(self.hooks),
            "provides": list(self.provides),
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


class RegistrationFailed(Exception):
    """A plugin's registration hook raised or registered something that is not well formed."""


class PluginHost:
    """A pluggy manager with the built-ins and the selected installed plugins.

    The manager is built, with the built-ins registered, on first use. Until then the built-ins
    are the only plugins: their registry is filled by calling them directly (the same list,
    `BUILTINS`), and a hook none of them implements has no implementation to call.
    """

    def __init__(self) -> None:
        self._manager: pluggy.PluginManager | None = None
        self._registry: Registry | None = None
        self._registry_key: tuple[str, ...] | None = None
        self._builtin_kinds: set[str] = set()
        # Registration hooks that failed when the registry was last collected ("name: error").
        self.problems: list[str] = []
        self.records: list[PluginRecord] = [
            PluginRecord(
                name=name,
                dist="gait-core",
                version=__version__,
                status="builtin",
                hooks=(BUILTIN_HOOK,),
            )
            for name, _ in BUILTINS
        ]

    @property
    def manager(self) -> pluggy.PluginManager:
        if self._manager is None:
            from gait.hookspecs import PROJECT, BuiltinPlugin, GaitPluginManager, GaitSpecs

            manager = GaitPluginManager(PROJECT)
            manager.add_hookspecs(GaitSpecs)
            for name, register in BUILTINS:
                manager.register(BuiltinPlugin(register), name=name)
            self._manager = manager
        return self._manager

    def hookimpls(self, hook: str) -> list[pluggy.HookImpl]:
        """The registered implementations of `hook` (the manager is not built to find none)."""
        if self._manager is None and hook != BUILTIN_HOOK:
            return []
        caller: pluggy.HookCaller = getattr(self.manager.hook, hook)
        return caller.get_hookimpls()

    # -- loading ---------------------------------------------------------------------------

    def load_entry_point(self, ep: EntryPoint) -> PluginRecord:
        """Import and register one plugin; any failure is recorded, never raised.

        A plugin fails when it does not import, implements an unknown hook or one with the
        wrong arguments (pluggy's validation), wraps `gait_evaluate`, or its registration
        hook raises or registers something not well formed. A failed plugin's name is
        blocked in pluggy, so nothing of it stays registered.
        """
        registered_name = f"{ep.dist}:{ep.name}"
        try:
            plugin = ep.load()
            if self.manager.register(plugin, name=registered_name) is None:
                raise PluginRefused(f"{registered_name} is blocked")
            self._check(plugin)
            from gait.registry import Registry

            register_plugin(self.manager, plugin, Registry().scoped(registered_name))
            record = PluginRecord(
                name=ep.name,
                dist=ep.dist,
                version=ep.version,
                status="loaded",
                hooks=self._hooks_of(plugin),
            )
        except Exception as exc:  # a broken plugin must never take the CLI down
            self.manager.set_blocked(registered_name)
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
        import pluggy

        try:
            self.manager.check_pending()
        except pluggy.PluginValidationError as exc:
            unknown = [c.name for c in self.manager.get_hookcallers(plugin) or [] if not c.spec]
            raise PluginRefused(f"implements unknown hook {', '.join(unknown)}: {exc}") from exc
        for impl in self.hookimpls("gait_evaluate"):
            if impl.plugin is plugin and (impl.wrapper or impl.hookwrapper):
                raise PluginRefused(
                    "a hook wrapper on gait_evaluate is not allowed: a wrapper could turn "
                    "another evaluator's block into allow"
                )

    def _hooks_of(self, plugin: object) -> tuple[str, ...]:
        return tuple(sorted(c.name for c in self.manager.get_hookcallers(plugin) or []))

    # -- named backends --------------------------------------------------------------------

    def registry(self, kind: str = "") -> Registry:
        """Every named backend of the registered plugins, built-ins first (a plugin cannot take
        a built-in's name). With no installed plugin, the built-ins fill it without pluggy,
        and only those of `kind` when one is named (each imports what it registers)."""
        from gait.registry import Registry

        if self._manager is None:
            if self._registry is None:
                self._registry, self._builtin_kinds = Registry(), set()
            wanted = set(BUILTIN_KINDS.values()) if not kind else {kind}
            for name, register in BUILTINS:
                if BUILTIN_KINDS[name] in wanted - self._builtin_kinds:
                    register(self._registry.scoped(name))
            self._builtin_kinds |= wanted
            return self._registry
        plugins = self._manager.list_name_plugin()
        key = tuple(name for name, plugin in plugins if plugin is not None)
        if self._registry is None or key != self._registry_key:
            registry = Registry()
            problems: list[str] = []
            for name, plugin in plugins:
                if plugin is None:
                    continue
                try:
                    register_plugin(self._manager, plugin, registry.scoped(name))
                except RegistrationFailed as exc:
                    registry.remove_owner(name)
                    problems.append(f"{name}: {exc}")
            self._registry, self._registry_key, self.problems = registry, key, problems
        return self._registry

    def signers(self) -> dict[str, SignerBackend]:
        return self.registry("signer").signers()

    def adapters(self) -> dict[str, AdapterBackend]:
        return self.registry("adapter").adapters()

    def sinks(self) -> dict[str, SinkBackend]:
        return self.registry("sink").sinks()

    def exporters(self) -> dict[str, Exporter]:
        return self.registry("exporter").exporters()

    def ci_providers(self) -> dict[str, CIProviderBackend]:
        return self.registry("ci_provider").ci_providers()

    def adapter(self, name: str) -> Decoder | None:
        """The adapter called `name`, built by its factory; None if there is none."""
        backend = self.adapters().get(name)
        return None if backend is None else backend.factory()

    def bridges(self) -> dict[str, Bridge]:
        """Deprecated: `adapters()` and `sinks()`. The adapters and sinks in the form of the
        old `gait_bridge` hook (a sink wins over an adapter of the same name)."""
        from gait.hookspecs import Bridge

        out = {
            name: Bridge(name=name, kind="adapter", factory=b.factory, description=b.description)
            for name, b in self.adapters().items()
        }
        for name, b in self.sinks().items():
            out[name] = Bridge(name=name, kind="sink", factory=b.factory, description=b.description)
        return out

    def listing(self) -> list[PluginRecord]:
        """The records, each with what it registered (`kind:name`)."""
        registry = self.registry()
        return [
            attrs.evolve(
                record,
                provides=tuple(
                    f"{kind}:{name}" for kind, name in registry.owned_by(record.registered_name)
                ),
            )
            for record in self.records
        ]

    # -- calling ---------------------------------------------------------------------------

    def evaluate(
        self, intent: NormalizedIntent, policy_digest: str
    ) -> list[tuple[str, EvaluatorVerdict]]:
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

    def add_commands(self, cli: click.Group | None) -> list[PluginRecord]:
        """Let plugins add click commands; a plugin that fails here is marked failed."""
        failed: list[PluginRecord] = []
        for impl in self.hookimpls("gait_commands"):
            try:
                _call(impl, cli=cli)
            except Exception as exc:
                failed.append(self._mark_failed(impl.plugin_name, exc))
        return failed

    def _mark_failed(self, registered_name: str, exc: Exception) -> PluginRecord:
        self.manager.set_blocked(registered_name)
        error = f"{type(exc).__name__}: {exc}"
        for index, record in enumerate(self.records):
            if registered_name in (record.name, record.registered_name):
                failed = attrs.evolve(record, status="failed", error=error)
                self.records[index] = failed
                return failed
        dist, _, name = registered_name.rpartition(":")
        failed = PluginRecord(name=name, dist=dist, version="", status="failed", error=error)
        self.records.append(failed)
        return failed

    def participants(self) -> list[dict[str, str]]:
        """Name and version of every loaded third-party evaluator, for traces: a plugin that
        only adds commands or backends takes no part in a decision."""
        return [
            {"name": r.dist, "version": r.version}
            for r in self.records
            if r.status == "loaded" and "gait_evaluate" in r.hooks
        ]


def builtin_registry() -> Registry:
    """The built-ins' registry, filled without pluggy from the one list `BUILTINS`."""
    return PluginHost().registry()


def register_plugin(manager: pluggy.PluginManager, plugin: object, registry: Registry) -> None:
    """Run one plugin's registration hooks into `registry`: `gait_register`, then the
    deprecated `gait_sign`, `gait_exporters` and `gait_bridge` (turned into registrations).
    Raises RegistrationFailed naming the hook that raised or returned something wrong."""
    impls = {
        caller.name: impl
        for caller in manager.get_hookcallers(plugin) or []
        if caller.name in REGISTRATION_HOOKS
        for impl in caller.get_hookimpls()
        if impl.plugin is plugin
    }
    for hook in REGISTRATION_HOOKS:
        impl = impls.get(hook)
        if impl is None:
            continue
        try:
            if hook == "gait_register":
                _call(impl, registry=registry)
            else:
                _register_legacy(hook, _call(impl), registry)
        except Exception as exc:
            raise RegistrationFailed(f"{hook} failed: {exc}") from exc


def _register_legacy(hook: str, answer: object, registry: Registry) -> None:
    from gait.exports import Exporter
    from gait.hookspecs import Bridge
    from gait.registry import RegistryError

    for item in _flatten(answer):
        name, factory = getattr(item, "name", None), getattr(item, "factory", None)
        description = str(getattr(item, "description", ""))
        if hook == "gait_sign":
            registry.add_signer(name, factory, description=description)  # type: ignore[arg-type]
        elif hook == "gait_exporters":
            if not isinstance(item, Exporter):
                raise RegistryError(f"returned {type(item).__name__}, not Exporter")
            registry.add_exporter(
                item.name,
                item.factory,
                description=item.description,
                fail_closed=item.fail_closed,
                health=item.health,
            )
        elif not isinstance(item, Bridge):
            raise RegistryError(f"returned {type(item).__name__}, not Bridge")
        elif item.kind == "adapter":
            registry.add_adapter(item.name, item.factory, description=description)
        elif item.name.startswith(CI_PREFIX):
            name = item.name.removeprefix(CI_PREFIX)
            registry.add_ci_provider(name, item.factory, description=description)
        else:
            registry.add_sink(item.name, item.factory, description=description)


def _call(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """Call one implementation with the arguments it declares (pluggy allows a subset)."""
    return impl.function(*(kwargs[name] for name in impl.argnames))


def _flatten(answer: object) -> Iterable[Any]:
    if isinstance(answer, Iterable) and not isinstance(answer, str | bytes):
        yield from answer
    elif answer is not None:
        yield answer


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
