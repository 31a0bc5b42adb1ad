"""The identity Gas Town exports to each worker session (peers.md §3), read from the environment.

Standard library only: the hook reads it on every tool call.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs start-up time; mypy honours this name
if TYPE_CHECKING:
    from collections.abc import Mapping

# The key of the hook event that carries the identity to the `gastown` adapter.
IDENTITY_KEY = "gastown"

# (environment variable, key in the identity block and in auth_context)
IDENTITY_VARIABLES: tuple[tuple[str, str], ...] = (
    ("GT_ROLE", "gt_role"),  # <rig>/polecats/<name>, <rig>/crew/<name>, mayor, ...
    ("GT_RIG", "gt_rig"),
    ("GT_POLECAT", "gt_polecat"),
    ("GT_CREW", "gt_crew"),
    ("BD_ACTOR", "bd_actor"),  # the Beads actor, same form as GT_ROLE
    ("GT_ROOT", "gt_root"),  # the town directory
    ("GT_SESSION", "gt_session"),
    ("GT_AGENT", "gt_agent"),
)


def identity_from(environ: Mapping[str, str]) -> dict[str, str]:
    """The identity block: every identity variable that is set and not blank."""
    block = {}
    for variable, key in IDENTITY_VARIABLES:
        value = environ.get(variable, "").strip()
        if value:
            block[key] = value
    return block
