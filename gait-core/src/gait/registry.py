"""Named backends by kind: what a plugin's `gait_register(registry)` hook adds.

    @hookimpl
    def gait_register(registry: Registry) -> None:
        registry.add_signer("kms", factory=make_signer, description="...")
        registry.add_adapter("crewai", factory=make_decoder)
        registry.add_sink("beads", factory=make_sink)
        registry.add_exporter("otel", factory=make_exporter, health=health)
        registry.add_ci_provider("gitlab", factory=provider)

Each kind has its own names: `--signer` looks only at signers, `--adapter` at adapters,
`--bridge` at sinks, `--export` at exporters and `gait ci init --provider` at CI providers, so a
name of one kind is never accepted where another is meant. A factory builds its backend only when
the backend is selected: heavy imports wait until then. The first registration of a name wins
(the built-ins register first), so a plugin cannot take over a built-in's name.

Nothing here imports pluggy: with no installed plugin loaded, the host fills a registry from the
built-ins directly (`gait.builtin_plugins.BUILTINS`), the same list pluggy registers otherwise.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import os

    from gait.ci.providers import CIProvider
    from gait.exports import DecisionExporter, Exporter
    from gait.keys import SigningKey

__all__ = [
    "KINDS",
    "AdapterBackend",
    "CIProviderBackend",
    "Decoder",
    "Registry",
    "RegistryError",
    "SignerBackend",
    "Sink",
    "SinkBackend",
]

# A framework's tool-call payload -> Gait's native MCP call (a dict `gait mcp proxy` maps).
Decoder = Callable[[Any], dict[str, Any]]

# Each kind, and the option that selects a backend of it.
KINDS: dict[str, str] = {
    "signer": "--signer",
    "adapter": "--adapter",
    "sink": "--bridge",
    "exporter": "--export",
    "ci_provider": "gait ci init --provider",
}


class RegistryError(ValueError):
    """A registration that is not well formed (the plugin making it is refused)."""


class Sink(Protocol):
    """What a sink's factory builds. `submit` must return at once (the sink works in the
    background, no verdict waits for it); `close` finishes within `timeout` seconds."""

    def submit(
        self, trace_path: str | os.PathLike[str], decision: Mapping[str, Any] | None = None
    ) -> bool: ...

    def close(self, timeout: float | None = ...) -> None: ...


class _Backend:
    """A named backend: name, lazy factory, description. Immutable and compared by value.

    Plain slots rather than attrs: with no installed plugin, a hook's `gait mcp proxy` builds
    these records on every call, and an attrs class costs its generated methods' compilation.
    """

    __slots__ = ("description", "factory", "name")
    name: str
    factory: Callable[..., Any]
    description: str

    def __init__(self, *, name: str, factory: Callable[..., Any], description: str = "") -> None:
        object.__setattr__(self, "name", name)
        object.__setattr__(self, "factory", factory)
        object.__setattr__(self, "description", description)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return (self.name, self.factory, self.description) == (
            other.name,
            other.factory,
            other.description,
        )

    def __hash__(self) -> int:
        return hash((type(self), self.name, self.factory, self.description))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, description={self.description!r})"


class SignerBackend(_Backend):
    """A named signer, selected with `--signer NAME`; `factory(options)` builds the signing key
    (options: `private_key`, `private_key_env`)."""

    __slots__ = ()
    factory: Callable[[Mapping[str, str]], SigningKey]


class AdapterBackend(_Backend):
    """A named adapter, selected with `--adapter NAME`; `factory()` returns the decoder of a
    framework's payload. A plugin's decoded call is checked like an `mcp` payload."""

    __slots__ = ()
    factory: Callable[[], Decoder]


class SinkBackend(_Backend):
    """A named sink, selected with `gait mcp serve --bridge NAME`; `factory(verify_key=...)`
    (the public key of the service's signing key) builds a `Sink`."""

    __slots__ = ()
    factory: Callable[..., Sink]


class CIProviderBackend(_Backend):
    """A named CI provider, selected with `gait ci init --provider NAME`; `factory()` returns a
    `gait.ci.CIProvider` of the same name."""

    __slots__ = ()
    factory: Callable[[], CIProvider]


if TYPE_CHECKING:
    Backend = SignerBackend | AdapterBackend | SinkBackend | Exporter | CIProviderBackend


def _check(kind: str, name: object, factory: object) -> str:
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise RegistryError(f"a {kind} needs a non-empty name without spaces around it: {name!r}")
    if not callable(factory):
        raise RegistryError(f"{kind} {name!r}: the factory is not callable")
    return name


class Registry:
    """The named backends of every loaded plugin, by kind.

    A plugin's `gait_register` receives `registry.scoped(plugin_name)`, which records who added
    each name; a registration that is not well formed raises `RegistryError`.
    """

    def __init__(self, owner: str = "", _entries: dict[str, dict[str, Any]] | None = None):
        self._owner = owner
        self._entries: dict[str, dict[str, tuple[Any, str]]] = (
            {kind: {} for kind in KINDS} if _entries is None else _entries
        )

    def scoped(self, owner: str) -> Registry:
        """The same registry, recording `owner` as the plugin adding names."""
        return Registry(owner, self._entries)

    # -- adding ---------------------------------------------------------------------------

    def _add(self, kind: str, backend: Backend) -> None:
        # The first registration of a name wins: the built-ins register first.
        self._entries[kind].setdefault(backend.name, (backend, self._owner))

    def add_signer(
        self,
        name: str,
        factory: Callable[[Mapping[str, str]], SigningKey],
        *,
        description: str = "",
    ) -> None:
        """A signer for `--signer NAME`: `factory(options)` returns a `gait.keys.SigningKey`."""
        _check("signer", name, factory)
        self._add("signer", SignerBackend(name=name, factory=factory, description=description))

    def add_adapter(
        self, name: str, factory: Callable[[], Decoder], *, description: str = ""
    ) -> None:
        """An adapter for `--adapter NAME`: `factory()` returns `decode(payload) -> call`."""
        _check("adapter", name, factory)
        self._add("adapter", AdapterBackend(name=name, factory=factory, description=description))

    def add_sink(self, name: str, factory: Callable[..., Sink], *, description: str = "") -> None:
        """A sink for `gait mcp serve --bridge NAME`: `factory(verify_key=...)` returns a Sink."""
        _check("sink", name, factory)
        self._add("sink", SinkBackend(name=name, factory=factory, description=description))

    def add_exporter(
        self,
        name: str,
        factory: Callable[[Mapping[str, str]], DecisionExporter],
        *,
        description: str = "",
        fail_closed: bool = False,
        health: Callable[[], Mapping[str, str]] | None = None,
    ) -> None:
        """A decision exporter for `--export NAME` (see `gait.exports.Exporter`)."""
        from gait.exports import Exporter

        _check("exporter", name, factory)
        exporter = Exporter(
            name=name,
            factory=factory,
            description=description,
            fail_closed=fail_closed,
            health=health,
        )
        self._add("exporter", exporter)

    def add_ci_provider(
        self, name: str, factory: Callable[[], CIProvider], *, description: str = ""
    ) -> None:
        """A CI provider for `gait ci init --provider NAME`: `factory()` returns a CIProvider."""
        _check("CI provider", name, factory)
        backend = CIProviderBackend(name=name, factory=factory, description=description)
        self._add("ci_provider", backend)

    # -- reading --------------------------------------------------------------------------

    def signers(self) -> dict[str, SignerBackend]:
        return self._of("signer")

    def adapters(self) -> dict[str, AdapterBackend]:
        return self._of("adapter")

    def sinks(self) -> dict[str, SinkBackend]:
        return self._of("sink")

    def exporters(self) -> dict[str, Exporter]:
        return self._of("exporter")

    def ci_providers(self) -> dict[str, CIProviderBackend]:
        return self._of("ci_provider")

    def _of(self, kind: str) -> dict[str, Any]:
        return {name: backend for name, (backend, _) in self._entries[kind].items()}

    def owned_by(self, owner: str) -> list[tuple[str, str]]:
        """(kind, name) of every backend `owner` added, in the order added."""
        return [
            (kind, name)
            for kind, entries in self._entries.items()
            for name, (_, who) in entries.items()
            if who == owner
        ]

    def owned_by_kind(self, kind: str) -> list[tuple[str, str]]:
        """(name, owner) of every backend of `kind`."""
        return [(name, who) for name, (_, who) in self._entries[kind].items()]

    def remove_owner(self, owner: str) -> None:
        """Forget every backend `owner` added (a plugin refused after it registered)."""
        for entries in self._entries.values():
            for name in [n for n, (_, who) in entries.items() if who == owner]:
                del entries[name]

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every kind's backends by name (for comparing two registries)."""
        return {kind: self._of(kind) for kind in KINDS}
