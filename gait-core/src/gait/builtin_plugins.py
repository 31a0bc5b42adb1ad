"""Built-in behaviour, registered through the same hooks third-party plugins use."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping

from gait.hookspecs import Bridge, Exporter, SignerBackend, hookimpl


def _ed25519_signer(options: Mapping[str, str]) -> object:
    from gait.keys import KeySource, load_signing_key

    return load_signing_key(
        KeySource(path=options.get("private_key", ""), env=options.get("private_key_env", ""))
    )


class Ed25519SignerPlugin:
    """The `ed25519` signer: a key file or an environment variable in the reference format."""

    @hookimpl
    def gait_sign(self) -> Iterable[SignerBackend]:
        return [
            SignerBackend(
                name="ed25519",
                factory=_ed25519_signer,
                description="Ed25519 key from --private-key or --private-key-env",
            )
        ]


class AdaptersPlugin:
    """The tool-call adapters of `gait mcp proxy|serve`: mcp, openai, anthropic, langchain and
    claude_code (with its aliases claude-code and claudecode)."""

    @hookimpl
    def gait_bridge(self) -> Iterable[Bridge]:
        from gait.mcp.toolcall import BUILTIN_ADAPTERS

        return [
            Bridge(
                name=name,
                kind="adapter",
                factory=functools.partial(_same, decoder),
                description=text,
            )
            for name, (decoder, text) in BUILTIN_ADAPTERS.items()
        ]


class ExportersPlugin:
    """The JSONL decision files of the reference: `jsonl-log` (--export-log-out) and
    `jsonl-otel` (--export-otel-out)."""

    @hookimpl
    def gait_exporters(self) -> Iterable[Exporter]:
        from gait.jsonl_export import BUILTIN_EXPORTERS

        return BUILTIN_EXPORTERS


def _same(value: object) -> object:
    return value


BUILTINS: tuple[tuple[str, object], ...] = (
    ("gait.ed25519", Ed25519SignerPlugin()),
    ("gait.adapters", AdaptersPlugin()),
    ("gait.exporters", ExportersPlugin()),
)
