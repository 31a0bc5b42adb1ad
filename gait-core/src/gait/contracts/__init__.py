"""The v1 wire contracts: attrs records and the converter that keeps Go's JSON presence rules."""

from gait.contracts.records import (
    ApprovalToken,
    GateResult,
    IntentRecord,
    ManifestFile,
    Receipt,
    RefsRecord,
    ResultRecord,
    RunEnv,
    RunpackManifest,
    RunRecord,
    SignatureRecord,
    TimelineEvent,
    TraceRecord,
)
from gait.contracts.wire import from_wire, go_field, to_wire

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
