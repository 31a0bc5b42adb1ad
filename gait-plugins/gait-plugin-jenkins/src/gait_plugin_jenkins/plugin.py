"""The hook of the Jenkins plugin: a `ci.jenkins` bridge sink. The template module loads only
when the provider is used (`gait` starts once per tool call in hook integrations)."""

from __future__ import annotations

from typing import Any

from gait.hookspecs import Bridge, hookimpl


def provider() -> Any:
    from gait_plugin_jenkins.template import PROVIDER

    return PROVIDER


@hookimpl
def gait_bridge() -> list[Bridge]:
    return [
        Bridge(
            name="ci.jenkins",
            kind="sink",
            factory=provider,
            description="Jenkins: a declarative Jenkinsfile around `gait ci regress`",
        )
    ]
