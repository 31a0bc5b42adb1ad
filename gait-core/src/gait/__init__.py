"""Gait: policy as code for the tool calls of AI agents.

    from gait import Gate
    gate = Gate.load("policy.yaml")
    decision = gate.evaluate(intent_dict)   # .verdict, .reason_codes, .violations, ...

Names are imported on first use, so `import gait` stays cheap for commands that need none.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Gate", "GateDecision", "GateOutcome", "__version__"]

# Not `typing.TYPE_CHECKING`: importing typing costs milliseconds, and every `gait` process
# imports this package (plugin discovery). mypy honours a module-level TYPE_CHECKING constant.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from gait.gate import Gate, GateDecision, GateOutcome


def __getattr__(name: str) -> Any:
    if name in ("Gate", "GateDecision", "GateOutcome"):
        from gait import gate

        return getattr(gate, name)
    raise AttributeError(f"module 'gait' has no attribute {name!r}")
