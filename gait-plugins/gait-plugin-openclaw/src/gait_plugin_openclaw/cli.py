"""The `gait openclaw` commands. Imported when gait looks for a command that is not a core one,
so it holds only the click declarations; the work is in `gait_plugin_openclaw.installer`."""

from __future__ import annotations

from typing import Any

import click

from gait_cli.plugin_api import Report, gait_command

INSTALL_HELP = (
    "Install the Gait plugin for OpenClaw (a before_tool_call hook that lets Gait decide every "
    "tool call, and the gait-gate skill) into --target (default: "
    "$OPENCLAW_STATE_DIR/gait/openclaw-plugin, else ~/.openclaw/gait/openclaw-plugin), then, "
    "when the openclaw CLI is on PATH, link and enable it there (plugins install --link, "
    "plugins enable) and check that OpenClaw loads it. Every file is written atomically with "
    "its mode; the package is checked against its manifest first. Re-running writes the same "
    "bytes and registers nothing twice. In serve mode the plugin asks a running "
    "`gait mcp serve` (start it with GAIT_PLUGINS including openclaw, or no GAIT_PLUGINS); in "
    "proxy mode it runs `gait mcp proxy` per tool call with --policy (or $GAIT_POLICY)."
)
UNINSTALL_HELP = (
    "Undo `gait openclaw install`: unregister the plugin from OpenClaw when its CLI is on PATH "
    "and OpenClaw loads it from --target, then remove the files the installed manifest names, "
    "gait.config.json, the manifest and the directories left empty. Files that are not ours "
    "stay. Running it again does nothing."
)


def add_commands(cli: click.Group) -> None:
    if "openclaw" in cli.commands:
        return

    @cli.group("openclaw")
    def openclaw() -> None:
        """Install the Gait plugin and skill for OpenClaw."""

    target_option = click.option(
        "--target",
        default="",
        help="The plugin's directory (default: <OpenClaw state dir>/gait/openclaw-plugin).",
    )
    register_option = click.option(
        "--register/--no-register",
        default=True,
        help="Run the openclaw CLI when it is on PATH (default) or leave OpenClaw alone.",
    )

    @gait_command(openclaw, "install", exit_codes=(0, 1, 2, 6), help=INSTALL_HELP)
    @target_option
    @click.option(
        "--policy",
        default="",
        help="Policy file for proxy mode (stored as an absolute path; default $GAIT_POLICY).",
    )
    @click.option(
        "--mode",
        type=click.Choice(["serve", "proxy"]),
        default="serve",
        help="Ask a running `gait mcp serve` (default) or run `gait mcp proxy` per call.",
    )
    @click.option(
        "--serve-url",
        default="http://127.0.0.1:8787",
        show_default=True,
        help="Where `gait mcp serve` listens.",
    )
    @click.option(
        "--token-env",
        default="",
        help="Environment variable (of the OpenClaw gateway) holding the service's token "
        "(required in serve mode; never sent: the plugin and the service prove they hold it).",
    )
    @click.option(
        "--plain-bearer",
        is_flag=True,
        default=False,
        help="Compatibility with the reference's service: send the token as a bearer and accept "
        "an unauthenticated answer (not safe against a process that takes the port first).",
    )
    @click.option(
        "--timeout-ms",
        type=click.IntRange(100, 60000),
        default=5000,
        show_default=True,
        help="How long the hook waits for a verdict before it blocks the call.",
    )
    @register_option
    def install(**options: Any) -> Report:
        from gait_plugin_openclaw.installer import PluginConfig, install

        config = PluginConfig(
            mode=options["mode"],
            serve_url=options["serve_url"],
            token_env=options["token_env"],
            policy=options["policy"],
            timeout_ms=options["timeout_ms"],
            plain_bearer=options["plain_bearer"],
        )
        return install(target=options["target"], config=config, register=options["register"])

    @gait_command(openclaw, "uninstall", exit_codes=(0, 1, 6), help=UNINSTALL_HELP)
    @target_option
    @register_option
    def uninstall(target: str, register: bool) -> Report:
        from gait_plugin_openclaw.installer import uninstall

        return uninstall(target=target, register=register)
