"""The hook of the GitHub plugin: its CI provider. The provider module loads only
when it is used (`gait` starts once per tool call in hook integrations)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gait.hookspecs import Registry, hookimpl

if TYPE_CHECKING:
    from gait.ci import CIProvider


def provider() -> CIProvider:
    from gait_plugin_github.provider import PROVIDER

    return PROVIDER


@hookimpl
def gait_register(registry: Registry) -> None:
    registry.add_ci_provider(
        "github",
        provider,
        description=(
            "GitHub Actions: a workflow around `gait ci regress`; step summary, outputs "
            "and annotations of a run"
        ),
    )
