"""The MCP boundary (integrations.md §1): tool-call adapters, the call-to-intent mapping, the
one-call decision pipeline shared by `gait mcp proxy` and `gait mcp serve`, session journals and
artifact retention.

Gait's "MCP" boundary is not a JSON-RPC proxy: a caller hands over one tool call, gets a verdict
and a signed trace, and executes the call only on `allow`.
"""
