"""Gait's Beads bridge: blocked and approval-required decisions become `bd` issues.

`plugin` holds the hooks and imports nothing heavy; `summary` turns a verified trace into the
issue text, `bd` runs the Beads CLI, `bridge` is `gait beads bridge` (declared in `cli`), and
`sink` files issues in the background for a long-running service.
"""

__version__ = "0.1.0"
