"""Gait: policy as code for the tool calls of AI agents.

    from gait import Gate
    gate = Gate.load("policy.yaml")
    decision = gate.evaluate(intent_dict)   # .verdict, .reason_codes, .violations, ...

Names are imported on first use, so `import gait` stays cheap for commands that need none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["Gate", "GateDecision", "GateOutcome", "__version__"]

if TYPE_CHECKING:
    from gait.gate import Gate, GateDecision, GateOutcome


def __getattr__(name: str) -> Any:
    if name in ("Gate", "GateDecision", "GateOutcome"):
        from gait import gate

        return getattr(gate, name)
    raise AttributeError(f"module 'gait' has no attribute {name!r}")
