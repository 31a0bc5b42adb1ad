"""Gait for OpenClaw: an OpenClaw plugin whose `before_tool_call` hook lets Gait decide every
tool call, the skill that explains it to the agent, and the commands that install it.

`plugin` holds the hooks and imports nothing heavy; `adapter` turns the hook's event into a
native call (`--adapter openclaw`); `package` is the shipped OpenClaw plugin and its manifest;
`installer` is `gait openclaw install|uninstall` (declared in `cli`).
"""

__version__ = "0.1.0"
