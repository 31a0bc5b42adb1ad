"""`gait mcp serve`: the boundary service (imported only by that command: the server and its
event loop are no part of `gait` start-up)."""
