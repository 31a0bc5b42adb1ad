"""State shared by the commands of one invocation (the plugin host, loaded at most once)."""

from __future__ import annotations

import click

from gait.plugins import PluginHost, load_plugins


def plugin_host(ctx: click.Context) -> PluginHost:
    root = ctx.find_root()
    root.ensure_object(dict)
    host = root.obj.get("plugin_host")
    if host is None:
        host = load_plugins(enabled=not root.params.get("no_plugins", False))
        root.obj["plugin_host"] = host
    assert isinstance(host, PluginHost)
    return host
