"""The hook of the Jenkins plugin: its CI provider. The template module loads only
when the provider is used (`gait` starts once per tool call in hook integrations)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gait.hookspecs import Registry, hookimpl

if TYPE_CHECKING:
    from gait.ci import CIProvider


def provider() -> CIProvider:
    from gait_plugin_jenkins.template import PROVIDER

    return PROVIDER


@hookimpl
def gait_register(registry: Registry) -> None:
    registry.add_ci_provider(
        "jenkins",
        provider,
        description="Jenkins: a declarative Jenkinsfile around `gait ci regress`",
    )
