"""An intent's normalized targets and argument provenance: the value types, their JSON forms
and their sort keys (spec §2.2).

Below `gait.intent_model` (the whole normalized intent), `gait.intent_values` (their
normalization) and `gait.intent_sections` (a script step has targets and provenance too).
"""

from __future__ import annotations

import operator
from typing import Any, Final

import attrs


@attrs.frozen
class Target:
    """A normalized target. Field order is the sort order of spec §2.2."""

    kind: str
    value: str
    operation: str = ""
    sensitivity: str = ""
    endpoint_class: str = ""
    endpoint_domain: str = ""
    destructive: bool = False
    discovery_method: str = "unknown"
    read_only_hint: bool = False
    destructive_hint: bool = False
    idempotent_hint: bool = False
    open_world_hint: bool = False

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "value": self.value}
        if self.operation:
            out["operation"] = self.operation
        if self.sensitivity:
            out["sensitivity"] = self.sensitivity
        if self.endpoint_class:
            out["endpoint_class"] = self.endpoint_class
        if self.endpoint_domain:
            out["endpoint_domain"] = self.endpoint_domain
        if self.destructive:
            out["destructive"] = True
        if self.discovery_method:
            out["discovery_method"] = self.discovery_method
        if self.read_only_hint:
            out["read_only_hint"] = True
        if self.destructive_hint:
            out["destructive_hint"] = True
        if self.idempotent_hint:
            out["idempotent_hint"] = True
        if self.open_world_hint:
            out["open_world_hint"] = True
        return out


target_sort_key: Final = operator.attrgetter(*(field.name for field in attrs.fields(Target)))


@attrs.frozen
class ArgProvenance:
    arg_path: str
    source: str
    source_ref: str = ""
    integrity_digest: str = ""

    def to_json(self) -> dict[str, Any]:
        out = {"arg_path": self.arg_path, "source": self.source}
        if self.source_ref:
            out["source_ref"] = self.source_ref
        if self.integrity_digest:
            out["integrity_digest"] = self.integrity_digest
        return out


provenance_sort_key: Final = operator.attrgetter(
    "arg_path", "source", "source_ref", "integrity_digest"
)
