"""Size limits on untrusted input, in one place so every entry point enforces the same ones."""

from __future__ import annotations

MAX_INTENT_BYTES = 1 << 20
MAX_POLICY_BYTES = 1 << 20
MAX_RECORD_BYTES = 8 << 20
MAX_TRUST_SNAPSHOT_BYTES = 8 << 20
MAX_JSON_DEPTH = 64
MAX_KEY_FILE_BYTES = 4096
