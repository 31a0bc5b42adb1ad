"""Shared paths to the conformance data, which lives beside the repository."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared"
CONFORMANCE = SHARED / "conformance"
INTEROP = CONFORMANCE / "interop"


@pytest.fixture(autouse=True)
def _no_installed_plugins(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never load installed plugins by accident; a test that wants them sets GAIT_PLUGINS."""
    monkeypatch.setenv("GAIT_PLUGINS", "")
