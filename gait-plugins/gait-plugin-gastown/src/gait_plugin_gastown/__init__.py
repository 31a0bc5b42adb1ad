"""Gait as the PreToolUse gate of Gas Town's Claude Code workers.

Nothing is imported here: `gait gastown hook` runs once per tool call and imports only what
its path needs (`hook` for the standard-library path, `local` for a decision in process).
"""

__version__ = "0.1.0"
