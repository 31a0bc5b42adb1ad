"""The core commands: name, module and one-line help. Read by the fast path and by click alike,
so `gait --help` never has to import a command to describe it."""

from __future__ import annotations

CORE_COMMANDS: dict[str, tuple[str, str]] = {
    "approve": ("gait_cli.commands.approve", "Mint a signed approval token for one intent."),
    "ci": ("gait_cli.commands.ci", "Run the regression gate in any CI runner; write CI templates."),
    "demo": (
        "gait_cli.commands.demo",
        "Record a sample run as a runpack and show how to verify it.",
    ),
    "doctor": ("gait_cli.commands.doctor", "Check Python, plugins, keys and the output directory."),
    "gate": ("gait_cli.commands.gate", "Evaluate a tool-call intent against a policy."),
    "keys": ("gait_cli.commands.keys", "Create, rotate and check Ed25519 signing keys."),
    "mcp": (
        "gait_cli.commands.mcp",
        "Gate MCP and agent tool calls: proxy, server trust and the boundary service.",
    ),
    "plugins": ("gait_cli.commands.plugins", "List installed plugins and their status."),
    "policy": ("gait_cli.commands.policy", "Validate, format, create and test policies."),
    "regress": ("gait_cli.commands.regress", "Turn runs into CI regression tests and run them."),
    "run": ("gait_cli.commands.run", "Record, inspect, diff and replay runpacks."),
    "trace": ("gait_cli.commands.trace", "Verify the signature of a trace record."),
    "verify": ("gait_cli.commands.verify", "Verify a runpack's digests and signature offline."),
    "version": ("gait_cli.commands.version", "Print the versions of gait and its core."),
}

EXIT_CODES: dict[int, str] = {
    0: "success / allow / dry_run",
    1: "internal or I/O failure",
    2: "verification failed",
    3: "policy blocked",
    4: "approval required",
    5: "regression failed",
    6: "invalid input or usage",
    7: "missing dependency",
    8: "unsafe operation blocked",
}


def exit_code_table(codes: tuple[int, ...]) -> str:
    """The epilog every command's --help ends with."""
    lines = ["\b", "Exit codes:"]  # \b keeps click from rewrapping the table
    lines.extend(f"  {code}  {EXIT_CODES[code]}" for code in codes)
    return "\n".join(lines)
