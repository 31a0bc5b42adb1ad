"""The v1 wire contracts: attrs records and the converter that keeps Go's JSON presence rules.

Records are imported on first use, by module: building an attrs class costs start-up time, and
`gait gate eval` needs only the trace records of `gait.contracts.trace`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gait.contracts.wire import from_wire, go_field, to_wire

if TYPE_CHECKING:
    from gait.contracts.gate import ApprovalToken, GateResult
    from gait.contracts.runpack import (
        IntentRecord,
        ManifestFile,
        Receipt,
        RefsRecord,
        ResultRecord,
        RunEnv,
        RunpackManifest,
        RunRecord,
        TimelineEvent,
    )
    from gait.contracts.trace import SignatureRecord, TraceRecord

_MODULE_OF = {
    "SignatureRecord": "gait.contracts.trace",
    "TraceRecord": "gait.contracts.trace",
    "GateResult": "gait.contracts.gate",
    "ApprovalToken": "gait.contracts.gate",
    "IntentRecord": "gait.contracts.runpack",
    "ManifestFile": "gait.contracts.runpack",
    "Receipt": "gait.contracts.runpack",
    "RefsRecord": "gait.contracts.runpack",
    "ResultRecord": "gait.contracts.runpack",
    "RunEnv": "gait.contracts.runpack",
    "RunRecord": "gait.contracts.runpack",
    "RunpackManifest": "gait.contracts.runpack",
    "TimelineEvent": "gait.contracts.runpack",
}

__all__ = [
    "ApprovalToken",
    "GateResult",
    "IntentRecord",
    "ManifestFile",
    "Receipt",
    "RefsRecord",
    "ResultRecord",
    "RunEnv",
    "RunRecord",
    "RunpackManifest",
    "SignatureRecord",
    "TimelineEvent",
    "TraceRecord",
    "from_wire",
    "go_field",
    "to_wire",
]


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module 'gait.contracts' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
