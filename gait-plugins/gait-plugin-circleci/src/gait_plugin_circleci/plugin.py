"""The hook of the CircleCI plugin: its CI provider. The template module loads only
when the provider is used (`gait` starts once per tool call in hook integrations)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gait.hookspecs import Registry, hookimpl

if TYPE_CHECKING:
    from gait.ci import CIProvider


def provider() -> CIProvider:
    from gait_plugin_circleci.template import PROVIDER

    return PROVIDER


@hookimpl
def gait_register(registry: Registry) -> None:
    registry.add_ci_provider(
        "circleci",
        provider,
        description="CircleCI: a .circleci/config.yml job around `gait ci regress`",
    )
