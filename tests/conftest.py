"""Paths of the repository and its shared conformance data; the `gait` runner is gait.testing's."""

from __future__ import annotations

from pathlib import Path

from gait.testing import GAIT, Run, RunGait

# `gait` (the runner), `gait_key_pair` and `gait_policy` are fixtures of gait-core's pytest
# plugin, gait.testing, which plugin tests outside this repository use too.
__all__ = ["CONFORMANCE", "GAIT", "INTEROP", "REPO", "SHARED", "Run", "RunGait"]

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CONFORMANCE = SHARED / "conformance"
INTEROP = CONFORMANCE / "interop"
