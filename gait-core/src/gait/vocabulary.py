"""Closed vocabularies shared by intents and policies (gate.md section 2.1)."""

from __future__ import annotations

from typing import Final

ENDPOINT_CLASSES: Final = frozenset(
    {
        "fs.read",
        "fs.write",
        "fs.delete",
        "proc.exec",
        "net.http",
        "net.dns",
        "ui.click",
        "ui.type",
        "ui.navigate",
        "other",
    }
)
DISCOVERY_METHODS: Final = frozenset(
    {"webmcp", "dynamic_mcp", "a2a", "mcp", "static_mcp", "manual", "unknown"}
)
