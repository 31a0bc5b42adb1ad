"""Runpacks: a recorded run as a zip of canonical JSON, verifiable offline.

from gait.runpack import read_runpack, verify_runpack, record_run
result = verify_runpack(path, public_key=None, require_signature=False)
rp = read_runpack(path)            # .manifest, .run, .intents, .results, .refs
"""

from __future__ import annotations

from gait.runpack.diff import diff_changed, diff_runpacks
from gait.runpack.paths import resolve_runpack
from gait.runpack.read import Runpack, read_runpack
from gait.runpack.record import (
    RecordedRunpack,
    RecordInput,
    apply_context_policy,
    build_runpack,
    record_run,
    ticket_footer,
)
from gait.runpack.replay import replay_stub
from gait.runpack.verify import HashMismatch, VerifyResult, verify_runpack
from gait.runpack.zipio import write_runpack_zip

__all__ = [
    "HashMismatch",
    "RecordInput",
    "RecordedRunpack",
    "Runpack",
    "VerifyResult",
    "apply_context_policy",
    "build_runpack",
    "diff_changed",
    "diff_runpacks",
    "read_runpack",
    "record_run",
    "replay_stub",
    "resolve_runpack",
    "ticket_footer",
    "verify_runpack",
    "write_runpack_zip",
]
