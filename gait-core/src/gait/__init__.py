"""Gait: policy as code for the tool calls of AI agents."""

from __future__ import annotations

__version__ = "0.1.0"
