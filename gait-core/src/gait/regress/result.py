"""The result of a regress run: `regress_result.json` (`gait.regress.result` 1.0.0), the record
and its file bytes. `gait.regress.run` builds it; `gait.regress.junit` renders it as JUnit."""

from __future__ import annotations

import attrs

from gait.contracts import to_wire
from gait.regress.gojson import marshal_indent
from gait.regress.graders import GraderResult
from gait.timefmt import GoTime

RESULT_SCHEMA_ID = "gait.regress.result"


@attrs.frozen(kw_only=True)
class RegressResult:
    """`regress_result.json` (`gait.regress.result` 1.0.0)."""

    schema_id: str = RESULT_SCHEMA_ID
    schema_version: str = "1.0.0"
    created_at: GoTime
    producer_version: str
    fixture_set: str
    status: str
    graders: tuple[GraderResult, ...] = ()

    @property
    def failed_graders(self) -> tuple[GraderResult, ...]:
        return tuple(grader for grader in self.graders if grader.failed)


def regress_result_json(result: RegressResult) -> bytes:
    """The file bytes: Go's indented JSON, struct field order, detail keys sorted."""
    return marshal_indent(to_wire(result))
