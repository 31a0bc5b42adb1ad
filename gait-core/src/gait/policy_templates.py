"""The starter policies `gait policy init` writes, shipped as package data in `gait/templates/`.

- `baseline-lowrisk`: the reference's template, byte for byte.
- `baseline-mediumrisk`: the reference's template, byte for byte.
- `baseline-highrisk`: the reference's intent in the features this version implements; the
  file's leading comment says what the reference's template does in addition.
"""

from __future__ import annotations

from typing import Final

from gait.errors import InvalidInputError
from gait.gostrings import go_lower, go_trim_space

__all__ = ["TEMPLATE_ALIASES", "TEMPLATE_NAMES", "resolve_template", "template_text"]

TEMPLATE_NAMES: Final = ("baseline-lowrisk", "baseline-mediumrisk", "baseline-highrisk")
# The reference's alias table: every spelling `gait policy init` accepts, and what it means.
TEMPLATE_ALIASES: Final = {
    **{name: name for name in TEMPLATE_NAMES},
    "baseline_low_risk": "baseline-lowrisk",
    "baseline_medium_risk": "baseline-mediumrisk",
    "baseline_high_risk": "baseline-highrisk",
    "low": "baseline-lowrisk",
    "medium": "baseline-mediumrisk",
    "high": "baseline-highrisk",
}


def resolve_template(name: str) -> str:
    """The template a name or alias stands for (trimmed, case-insensitive), else invalid input."""
    key = go_lower(go_trim_space(name))
    resolved = TEMPLATE_ALIASES.get(key)
    if resolved is None:
        aliases = ", ".join(alias for alias in TEMPLATE_ALIASES if alias not in TEMPLATE_NAMES)
        raise InvalidInputError(
            f"unknown template: {key} (expected one of {', '.join(TEMPLATE_NAMES)};"
            f" aliases: {aliases})"
        )
    return resolved


def template_text(name: str) -> str:
    """The YAML text of a template, by name or alias."""
    from importlib import resources  # imported here: it pulls in tempfile, shutil, lzma, ...

    resolved = resolve_template(name)
    return resources.files("gait").joinpath("templates", f"{resolved}.yaml").read_text("utf-8")
