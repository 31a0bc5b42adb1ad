"""The plugin hooks of Gait. Built-in behaviour registers through these same hooks.

Plugins implement them with `@gait.hookimpl` and advertise themselves in the `gait` entry-point
group. A plugin module must import its heavy SDKs inside functions, never at import time: hook
integrations run `gait` once per tool call.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import attrs
import pluggy

# Exporter records live beside the export step, which must not import pluggy; plugins take them
# from here like the other hook records.
from gait.exports import DecisionEvent, DecisionExporter, Exporter, ExporterStats

__all__ = [
    "Bridge",
    "DecisionEvent",
    "DecisionExporter",
    "EvaluatorVerdict",
    "ExportEvent",
    "Exporter",
    "ExporterStats",
    "GaitSpecs",
    "SignerBackend",
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
class SignerBackend:
    """A named signer; `factory(options)` builds it only when selected (heavy imports wait)."""

    name: str
    factory: Callable[[Mapping[str, str]], Any]
    description: str = ""


@attrs.frozen(kw_only=True)
class Bridge:
    """A named translation: an `adapter` (payload -> intent) or a `sink` (artifact -> system).

    A sink's factory takes keyword options; `gait mcp serve --bridge NAME` passes `verify_key`
    (the public key of the service's signing key) and calls `submit(trace_path, decision=...)`,
    which must return at once, then `close(timeout=...)` at shutdown.
    """

    name: str
    kind: str = attrs.field(validator=attrs.validators.in_(("adapter", "sink")))
    factory: Callable[..., Any]
    description: str = ""


@attrs.frozen(kw_only=True)
class ExportEvent:
    """A decision or run event handed to exporters: digests and verdicts, never raw arguments."""

    kind: str
    record: Mapping[str, Any]


class GaitSpecs:
    @hookspec
    def gait_evaluate(self, intent: Any, policy_digest: str) -> EvaluatorVerdict | None:
        """Judge a normalized intent beside the policy.

        Every implementation is called. The most restrictive verdict of the policy and all
        evaluators wins; an evaluator that raises counts as `block`. Hook wrappers are refused on
        this hook, since a wrapper could turn another plugin's `block` into `allow`.
        """
        raise NotImplementedError

    @hookspec
    def gait_sign(self) -> Iterable[SignerBackend]:
        """Offer signer backends by name, selected with `--signer NAME`."""
        raise NotImplementedError

    @hookspec
    def gait_export(self, event: ExportEvent) -> None:
        """Receive every decision and run event. Cannot change a verdict or an artifact; a failure
        is reported and never raised into the decision."""
        raise NotImplementedError

    @hookspec
    def gait_exporters(self) -> Iterable[Exporter]:
        """Offer decision exporters by name, selected with `--export NAME` on `gait gate eval`,
        `gait mcp proxy` and `gait mcp serve`. The built-in JSONL files register here too
        (`jsonl-log`, `jsonl-otel`), and a plugin cannot take a built-in name."""
        raise NotImplementedError

    @hookspec
    def gait_bridge(self) -> Iterable[Bridge]:
        """Offer adapters (a framework's tool-call payload to an intent) and sinks (a trace or a
        regress result out to another system)."""
        raise NotImplementedError

    @hookspec
    def gait_commands(self, cli: Any) -> None:
        """Add click commands under `gait`: `cli` is the root click group."""
        raise NotImplementedError
