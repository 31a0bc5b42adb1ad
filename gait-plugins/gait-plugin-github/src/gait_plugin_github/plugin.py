"""The hook of the GitHub plugin: a `ci.github` bridge sink. The provider module loads only
when it is used (`gait` starts once per tool call in hook integrations)."""

from __future__ import annotations

from typing import Any

from gait.hookspecs import Bridge, hookimpl


def provider() -> Any:
    from gait_plugin_github.provider import PROVIDER

    return PROVIDER


@hookimpl
def gait_bridge() -> list[Bridge]:
    return [
        Bridge(
            name="ci.github",
            kind="sink",
            factory=provider,
            description=(
                "GitHub Actions: a workflow around `gait ci regress`; step summary, outputs "
                "and annotations of a run"
            ),
        )
    ]
