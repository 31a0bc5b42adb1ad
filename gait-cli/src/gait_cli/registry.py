"""The core commands: name, module and one-line help. Read by the fast path and by click alike,
so `gait --help` never has to import a command to describe it."""

from __future__ import annotations

CORE_COMMANDS: dict[str, tuple[str, str]] = {
    "version": ("gait_cli.commands.version", "Print the versions of gait and its core."),
    "approve": ("gait_cli.commands.approve", "Mint a signed approval token for one intent."),
    "doctor": ("gait_cli.commands.doctor", "Check Python, plugins, keys and the output directory."),
    "gate": ("gait_cli.commands.gate", "Evaluate a tool-call intent against a policy."),
    "keys": ("gait_cli.commands.keys", "Create, rotate and check Ed25519 signing keys."),
    "plugins": ("gait_cli.commands.plugins", "List installed plugins and their status."),
    "policy": ("gait_cli.commands.policy", "Validate, format, create and test policies."),
    "trace": ("gait_cli.commands.trace", "Verify the signature of a trace record."),
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
