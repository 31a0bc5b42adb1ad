"""The plugin hooks of Gait. Built-in behaviour registers through these same hooks.

Plugins implement them with `@gait.hookimpl` and advertise themselves in the `gait` entry-point
group. Two hooks are broadcast to every plugin (`gait_evaluate`, `gait_export`); named backends
(signers, adapters, sinks, exporters, CI providers) are added by kind through `gait_register`,
and `gait_commands` adds click commands. A plugin module must import its heavy SDKs inside
functions, never at import time: hook integrations run `gait` once per tool call.

`gait_sign`, `gait_exporters` and `gait_bridge` are the hooks of plugins written before
`gait_register`: they still work (the host turns what they return into registrations, a `ci.NAME`
sink bridge into the CI provider NAME) and are documented as deprecated in docs/plugins.md.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import pluggy

# Exporter records live beside the export step, which must not import pluggy; plugins take them
# from here like the other hook records.
from gait.exports import DecisionEvent, DecisionExporter, Exporter, ExporterStats
from gait.registry import (
    AdapterBackend,
    CIProviderBackend,
    Registry,
    SignerBackend,
    Sink,
    SinkBackend,
)

if TYPE_CHECKING:
    import click

    from gait.intent import NormalizedIntent

__all__ = [
    "AdapterBackend",
    "Bridge",
    "BuiltinPlugin",
    "CIProviderBackend",
    "DecisionEvent",
    "DecisionExporter",
    "EvaluatorVerdict",
    "ExportEvent",
    "Exporter",
    "ExporterStats",
    "GaitSpecs",
    "Registry",
    "SignerBackend",
    "Sink",
    "SinkBackend",
    "hookimpl",
    "hookspec",
]

PROJECT = "gait"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)

_HOOKABLE = (types.FunctionType, types.MethodType, staticmethod, classmethod)


class GaitPluginManager(pluggy.PluginManager):
    def parse_hookimpl_opts(self, plugin: object, name: str) -> pluggy.HookimplOpts | None:
        # pluggy examines every name of a plugin with inspect.getattr_static, about 10 us each,
        # and a plugin module holds dozens of imported names. In a module, only a function (or
        # a method wrapper) carrying our marker is a hook by pluggy's own rule; reading those
        # attributes runs no plugin code.
        if isinstance(plugin, types.ModuleType):
            value = plugin.__dict__.get(name)
            if not isinstance(value, _HOOKABLE):
                return None
            marker = f"{PROJECT}_impl"
            if not hasattr(value, marker) and not hasattr(getattr(value, "__func__", None), marker):
                return None
        return super().parse_hookimpl_opts(plugin, name)


VERDICTS = ("allow", "dry_run", "require_approval", "block")


@attrs.frozen(kw_only=True)
class EvaluatorVerdict:
    """What a `gait_evaluate` plugin says about one intent."""

    verdict: str = attrs.field(validator=attrs.validators.in_(VERDICTS))
    reason_codes: tuple[str, ...] = ()
    violations: tuple[str, ...] = ()


@attrs.frozen(kw_only=True)
class Bridge:
    """Deprecated (the `gait_bridge` hook): an adapter or a sink, now `registry.add_adapter`
    and `registry.add_sink`; a sink named `ci.NAME` is taken as the CI provider NAME.
    `PluginHost.bridges()` still answers adapters and sinks in this form."""

    name: str
    kind: str = attrs.field(validator=attrs.validators.in_(("adapter", "sink")))
    factory: Callable[..., Any]
    description: str = ""


@attrs.frozen(kw_only=True)
class ExportEvent:
    """A decision or run event handed to exporters: digests and verdicts, never raw arguments."""

    kind: str
    record: Mapping[str, Any]


class BuiltinPlugin:
    """A built-in of `gait.builtin_plugins.BUILTINS` as pluggy registers it: its registration
    function behind the same `gait_register` hook third-party plugins implement."""

    def __init__(self, register: Callable[[Registry], None]) -> None:
        self.register = register

    @hookimpl
    def gait_register(self, registry: Registry) -> None:
        self.register(registry)


class GaitSpecs:
    @hookspec
    def gait_evaluate(
        self, intent: NormalizedIntent, policy_digest: str
    ) -> EvaluatorVerdict | None:
        """Judge a normalized intent beside the policy.

        Every implementation is called. The most restrictive verdict of the policy and all
        evaluators wins; an evaluator that raises counts as `block`. Hook wrappers are refused on
        this hook, since a wrapper could turn another plugin's `block` into `allow`.
        """
        raise NotImplementedError

    @hookspec
    def gait_export(self, event: ExportEvent) -> None:
        """Receive every decision and run event. Cannot change a verdict or an artifact; a failure
        is reported and never raised into the decision."""
        raise NotImplementedError

    @hookspec
    def gait_register(self, registry: Registry) -> None:
        """Add named backends by kind: `registry.add_signer`, `add_adapter`, `add_sink`,
        `add_exporter` and `add_ci_provider` (see `gait.registry`). Called once per plugin when
        it loads; a plugin whose registration raises or is not well formed is refused."""
        raise NotImplementedError

    @hookspec
    def gait_commands(self, cli: click.Group) -> None:
        """Add click commands under `gait`: `cli` is the root click group."""
        raise NotImplementedError

    # -- deprecated: the hooks before gait_register, still honoured -------------------------

    @hookspec
    def gait_sign(self) -> Iterable[SignerBackend]:
        """Deprecated: `registry.add_signer`. Offer signer backends for `--signer NAME`."""
        raise NotImplementedError

    @hookspec
    def gait_exporters(self) -> Iterable[Exporter]:
        """Deprecated: `registry.add_exporter`. Offer decision exporters for `--export NAME`."""
        raise NotImplementedError

    @hookspec
    def gait_bridge(self) -> Iterable[Bridge]:
        """Deprecated: `registry.add_adapter`, `add_sink` and `add_ci_provider`. Offer adapters
        and sinks; a sink named `ci.NAME` is the CI provider NAME."""
        raise NotImplementedError
