"""Security suite (issue: nothing but the policy can make a tool call run): one module per attack
class; the threat model these tests prove is in docs/security.md."""
