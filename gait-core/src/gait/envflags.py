"""Boolean environment variables (`GAIT_*` and the variables flags name), read one way.

`1`, `true`, `yes`, `on` are true and `0`, `false`, `no`, `off` false, ignoring case and
surrounding whitespace; unset or empty is the default. Anything else is invalid input naming
the variable: a typo such as `GAIT_X=ture` must not silently mean "off" (or "on").
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from gait.errors import InvalidInputError

TRUE_WORDS: Final = frozenset(("1", "true", "yes", "on"))
FALSE_WORDS: Final = frozenset(("0", "false", "no", "off"))


def parse_flag(name: str, raw: str | None, *, default: bool = False) -> bool:
    """The boolean `raw` (the value of variable `name`) stands for; InvalidInputError if none."""
    if raw is None:
        return default
    value = raw.strip().lower()
    if not value:
        return default
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise InvalidInputError(
        f"environment variable {name} must be a boolean (1, true, yes, on or 0, false, no, off), "
        f"got {raw!r}"
    )


def env_flag(name: str, *, default: bool = False, environ: Mapping[str, str] | None = None) -> bool:
    """The boolean environment variable `name` (see parse_flag)."""
    env = os.environ if environ is None else environ
    return parse_flag(name, env.get(name), default=default)
