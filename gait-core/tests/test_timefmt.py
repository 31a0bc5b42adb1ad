from __future__ import annotations

import pytest

from gait.timefmt import GoTime


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-02-06T00:00:00Z", "2026-02-06T00:00:00Z"),
        ("2026-02-06T00:00:00.500000000Z", "2026-02-06T00:00:00.5Z"),
        ("2026-02-06T00:00:00.123456789+02:00", "2026-02-06T00:00:00.123456789+02:00"),
        ("2026-02-06t00:00:00z", "2026-02-06T00:00:00Z"),
    ],
)
def test_rfc3339nano_round_trip(text: str, expected: str) -> None:
    assert GoTime.parse(text).format() == expected


def test_utc_conversion_keeps_nanos() -> None:
    assert GoTime.parse("2026-02-06T01:00:00.000000001+01:00").utc().format() == (
        "2026-02-06T00:00:00.000000001Z"
    )


@pytest.mark.parametrize("text", ["2026-02-06", "2026-02-06T00:00:00", "2026-13-01T00:00:00Z", ""])
def test_invalid_times(text: str) -> None:
    with pytest.raises(ValueError):
        GoTime.parse(text)
