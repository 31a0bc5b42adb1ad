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

    def unix_nanos(self) -> int:
        """Nanoseconds since the Unix epoch (OpenTelemetry's time unit)."""
        return int(self.moment.timestamp()) * 1_000_000_000 + self.nanos

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
    "\u00b5s": 1_000,  # micro sign
    "\u03bcs": 1_000,  # Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_MAX_DURATION_NS = 1 << 63


def _go_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_go_duration(text: str) -> int:
    """Go's time.ParseDuration (`1h30m`, `90s`, `1.5h`, `-2m`) in nanoseconds, to the
    nanosecond (fractions scaled through float64 as Go does); ValueError with Go's message."""
    source = text.strip()
    body = source
    negative = body[:1] == "-"
    if body[:1] in ("-", "+"):
        body = body[1:]
    if body == "0":
        return 0
    invalid = ValueError(f"time: invalid duration {_go_quote(source)}")
    if not body:
        raise invalid
    total = 0
    position = 0
    while position < len(body):
        start = position
        while position < len(body) and body[position].isascii() and body[position].isdigit():
            position += 1
        whole = body[start:position]
        fraction, scale, post = 0, 1.0, False
        if position < len(body) and body[position] == ".":
            position += 1
            digits_start = position
            overflowed = False
            while position < len(body) and body[position].isascii() and body[position].isdigit():
                if not overflowed:
                    candidate = fraction * 10 + int(body[position])
                    if candidate >= _MAX_DURATION_NS:
                        overflowed = True  # Go keeps consuming digits but stops scaling
                    else:
                        fraction, scale = candidate, scale * 10
                position += 1
            post = position > digits_start
        if not whole and not post:
            raise invalid
        unit_start = position
        while (
            position < len(body)
            and body[position] != "."
            and not (body[position].isascii() and body[position].isdigit())
        ):
            position += 1
        unit_text = body[unit_start:position]
        if not unit_text:
            raise ValueError(f"time: missing unit in duration {_go_quote(source)}")
        unit = _DURATION_UNITS_NS.get(unit_text)
        if unit is None:
            raise ValueError(
                f"time: unknown unit {_go_quote(unit_text)} in duration {_go_quote(source)}"
            )
        value = int(whole or "0")
        if value > _MAX_DURATION_NS // unit:
            raise invalid
        value *= unit
        if fraction:
            value += int(float(fraction) * (float(unit) / scale))
        total += value
        if total > _MAX_DURATION_NS:
            raise invalid
    if negative:
        return -total
    if total > _MAX_DURATION_NS - 1:
        raise invalid
    return total


def _format_fraction(value: int, precision: int) -> tuple[str, int]:
    """Go's fmtFrac: the fraction of value/10**precision without trailing zeros, and the rest."""
    digits = []
    printed = False
    for _ in range(precision):
        digit = value % 10
        printed = printed or digit != 0
        if printed:
            digits.append(str(digit))
        value //= 10
    text = "." + "".join(reversed(digits)) if printed else ""
    return text, value


def format_go_duration(nanos: int) -> str:
    """Go's Duration.String: `1h0m0s`, `1m30s`, `1.5s`, `500ms`, `0s`."""
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    value = abs(nanos)
    if value < 1_000_000_000:
        if value < 1_000:
            precision, unit = 0, "ns"
        elif value < 1_000_000:
            precision, unit = 3, "\u00b5s"
        else:
            precision, unit = 6, "ms"
        fraction, whole = _format_fraction(value, precision)
        return f"{sign}{whole}{fraction}{unit}"
    fraction, seconds = _format_fraction(value, 9)
    text = f"{seconds % 60}{fraction}s"
    minutes = seconds // 60
    if minutes:
        text = f"{minutes % 60}m{text}"
        hours = minutes // 60
        if hours:
            text = f"{hours}h{text}"
    return sign + text
