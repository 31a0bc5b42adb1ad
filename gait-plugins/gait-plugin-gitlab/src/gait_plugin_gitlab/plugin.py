"""The hook of the GitLab plugin: a `ci.gitlab` bridge sink. The template module loads only
when the provider is used (`gait` starts once per tool call in hook integrations)."""

from __future__ import annotations

from typing import Any

from gait.hookspecs import Bridge, hookimpl


def provider() -> Any:
    from gait_plugin_gitlab.template import PROVIDER

    return PROVIDER


@hookimpl
def gait_bridge() -> list[Bridge]:
    return [
        Bridge(
            name="ci.gitlab",
            kind="sink",
            factory=provider,
            description="GitLab CI: a .gitlab-ci.yml job around `gait ci regress`",
        )
    ]
