"""One tool call, decided: `gait mcp proxy` and each `gait mcp serve` request (integrations.md
§1.5), in the names those callers and their tests have always used.

The decision itself is assembled in one place, `gait.pipeline` (adapt, normalize, evaluate,
enforce, sign, persist, export, sink); the checks are in `gait.mcp.checks`, the files a decision
leaves in `gait.mcp.artifacts`. This module keeps the adapter-form entry points as thin calls
of those stages.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs

from gait.mcp.artifacts import (
    DirectorySync,
    check_output_path,
    normalize_run_id,
    remove_stale_temporaries,
    timestamp_ns,
    write_new,
    write_runpack,
)
from gait.mcp.checks import (
    AUTH_MODES,
    ENVELOPE_PATH_REJECTED,
    FALLBACK_WARNING,
    JOBS_UNSUPPORTED,
    PERMISSIVE_POLICY,
    PROFILES,
    check_oauth,
    check_profile,
)
from gait.pipeline import (
    Evaluated,
    Request,
    Result,
    Runtime,
    Settings,
    Signed,
    decide,
    prepare,
    settle,
    trace_file,
)

if TYPE_CHECKING:
    from gait.exports import Exports
    from gait.gate import Gate
    from gait.keys import SigningKey
    from gait.mcp.toolcall import Decoder

# A call is a pipeline request in adapter form; its outcome is the pipeline's result.
CallRequest = Request
CallOutcome = Result

__all__ = [
    "AUTH_MODES",
    "ENVELOPE_PATH_REJECTED",
    "FALLBACK_WARNING",
    "JOBS_UNSUPPORTED",
    "PERMISSIVE_POLICY",
    "PROFILES",
    "CallOutcome",
    "CallRequest",
    "DirectorySync",
    "Evaluated",
    "Settings",
    "Signed",
    "check_oauth",
    "check_output_path",
    "check_profile",
    "decide_call",
    "evaluate_call",
    "normalize_run_id",
    "remove_stale_temporaries",
    "sign_call",
    "timestamp_ns",
    "trace_file",
    "write_new",
    "write_runpack",
]


def _runtime(gate: Gate, key: SigningKey | None, settings: Settings) -> Runtime:
    return Runtime(gate=gate, key=key, settings=settings)  # type: ignore[arg-type]


def evaluate_call(gate: Gate, decoder: Decoder, request: Request, settings: Settings) -> Evaluated:
    """adapt, normalize, evaluate (`gait.pipeline.prepare`)."""
    return prepare(attrs.evolve(request, decoder=decoder), _runtime(gate, None, settings))


def sign_call(gate: Gate, evaluated: Evaluated, key: SigningKey, settings: Settings) -> Signed:
    """enforce, sign (`gait.pipeline.settle`)."""
    return settle(evaluated, _runtime(gate, key, settings))


def decide_call(
    gate: Gate,
    key: SigningKey,
    decoder: Decoder,
    request: Request,
    settings: Settings,
    exports: Exports | None = None,
) -> Result:
    """Decide one call (`gait.pipeline.decide`)."""
    runtime = Runtime(gate=gate, key=key, settings=settings, exports=exports)
    return decide(attrs.evolve(request, decoder=decoder), runtime)
