"""The built-ins: the one list of them, registered through the same `gait_register` hook
third-party plugins implement.

`BUILTINS` holds (plugin name, registration function). With an installed plugin loaded, the
plugin host registers each function with pluggy (as `gait.hookspecs.BuiltinPlugin`); with none,
it calls the same functions on a registry directly, without importing pluggy (start-up budget:
hook integrations run `gait mcp proxy` once per tool call). test_plugins checks both ways give
the same registry. Nothing here imports pluggy, or anything but attrs at import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from gait.keys import SigningKey
    from gait.registry import Decoder, Registry


def _ed25519_signer(options: Mapping[str, str]) -> SigningKey:
    from gait.keys import KeySource, load_signing_key

    return load_signing_key(
        KeySource(path=options.get("private_key", ""), env=options.get("private_key_env", ""))
    )


def register_ed25519(registry: Registry) -> None:
    """The `ed25519` signer: a key file or an environment variable in the reference format."""
    registry.add_signer(
        "ed25519",
        _ed25519_signer,
        description="Ed25519 key from --private-key or --private-key-env",
    )


@attrs.frozen
class _Decoder:
    """An adapter factory answering a built-in decoder (equal when the decoders are)."""

    decoder: Decoder

    def __call__(self) -> Decoder:
        return self.decoder


def register_adapters(registry: Registry) -> None:
    """The tool-call adapters of `gait mcp proxy|serve`: mcp, openai, anthropic, langchain and
    claude_code (with its aliases claude-code and claudecode)."""
    from gait.mcp.toolcall import BUILTIN_ADAPTERS

    for name, (decoder, text) in BUILTIN_ADAPTERS.items():
        registry.add_adapter(name, _Decoder(decoder), description=text)


def register_exporters(registry: Registry) -> None:
    """The JSONL decision files of the reference: `jsonl-log` (--export-log-out) and
    `jsonl-otel` (--export-otel-out)."""
    from gait.jsonl_export import BUILTIN_EXPORTERS

    for exporter in BUILTIN_EXPORTERS:
        registry.add_exporter(
            exporter.name,
            exporter.factory,
            description=exporter.description,
            fail_closed=exporter.fail_closed,
            health=exporter.health,
        )


BUILTINS: tuple[tuple[str, Callable[[Registry], None]], ...] = (
    ("gait.ed25519", register_ed25519),
    ("gait.adapters", register_adapters),
    ("gait.exporters", register_exporters),
)
# The one kind each built-in registers: with no installed plugin, asking for one kind runs only
# the built-ins of that kind (`register_exporters` imports the JSONL exporters, which a proxy
# decision looking up its adapter does not need). test_plugins checks each registers only it.
BUILTIN_KINDS: dict[str, str] = {
    "gait.ed25519": "signer",
    "gait.adapters": "adapter",
    "gait.exporters": "exporter",
}
