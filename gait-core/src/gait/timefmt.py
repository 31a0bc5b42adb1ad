"""Go's RFC 3339 time text, which every digest and signature over a time field depends on.

Go writes `time.Time` as RFC3339Nano: `Z` for UTC, fractional seconds only when non-zero and
without trailing zeros, up to nanoseconds. Python's datetime stops at microseconds, so a
`GoTime` carries the nanoseconds beside it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import attrs

_RFC3339 = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$"
)
ZERO_TIME_TEXT = "0001-01-01T00:00:00Z"


@attrs.frozen
class GoTime:
    """A time with nanosecond precision: `moment` to the second, plus `nanos` (0..999,999,999)."""

    moment: datetime
    nanos: int = 0

    @classmethod
    def parse(cls, text: str) -> GoTime:
        """Parse RFC 3339 text as Go's JSON decoder accepts it; ValueError otherwise."""
        match = _RFC3339.match(text)
        if not match:
            raise ValueError(f"invalid RFC3339 time: {text!r}")
        year, month, day, hour, minute, second, fraction, zone = match.groups()
        if zone in ("Z", "z"):
            tz = UTC
        else:
            sign = 1 if zone[0] == "+" else -1
            hours, minutes = int(zone[1:3]), int(zone[4:6])
            if hours > 23 or minutes > 59:
                raise ValueError(f"invalid RFC3339 time zone: {text!r}")
            tz = timezone(sign * timedelta(hours=hours, minutes=minutes))
        moment = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=tz
        )
        nanos = int((fraction or "0").ljust(9, "0"))
        return cls(moment, nanos)

    @classmethod
    def from_datetime(cls, value: datetime) -> GoTime:
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return cls(value.replace(microsecond=0), value.microsecond * 1000)

    @classmethod
    def now(cls) -> GoTime:
        return cls.from_datetime(datetime.now(UTC))

    def utc(self) -> GoTime:
        return GoTime(self.moment.astimezone(UTC), self.nanos)

    def instant(self) -> tuple[datetime, int]:
        """A key that orders times by the moment they denote, whatever their offsets."""
        return self.moment.astimezone(UTC), self.nanos

    def add_nanos(self, nanos: int) -> GoTime:
        seconds, rest = divmod(self.nanos + nanos, 1_000_000_000)
        return GoTime(self.moment + timedelta(seconds=seconds), rest)

    def to_datetime(self) -> datetime:
        return self.moment + timedelta(microseconds=self.nanos // 1000)

    def format(self) -> str:
        """RFC3339Nano as Go prints it."""
        text = self.moment.strftime("%Y-%m-%dT%H:%M:%S")
        if self.nanos:
            text += "." + f"{self.nanos:09d}".rstrip("0")
        offset = self.moment.utcoffset()
        if not offset:
            return text + "Z"
        minutes = int(offset.total_seconds()) // 60
        sign = "+" if minutes >= 0 else "-"
        minutes = abs(minutes)
        return f"{text}{sign}{minutes // 60:02d}:{minutes % 60:02d}"

    def format_seconds(self) -> str:
        """RFC3339 without fractional seconds (Go's time.RFC3339 layout)."""
        return GoTime(self.moment, 0).format()


def format_go_time(value: datetime) -> str:
    return GoTime.from_datetime(value).format()


_DURATION_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,
    "μs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
# Compiled (by `re`) on first use: only `gait approve --ttl` parses durations.
_DURATION_PART = r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)"


def parse_go_duration(text: str) -> int:
    """Parse a Go duration such as `1h30m`, `90s` or `1.5h` into nanoseconds; ValueError else."""
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-")
    if body == "0":
        return 0
    position, total_ns = 0, 0.0
    while position < len(body):
        match = re.compile(_DURATION_PART).match(body, position)
        if not match:
            raise ValueError(f"invalid duration {text!r}")
        total_ns += float(match.group(1)) * _DURATION_UNITS_NS[match.group(2)]
        position = match.end()
    if not body:
        raise ValueError(f"invalid duration {text!r}")
    return sign * round(total_ns)
