"""How the simulated world reads and spells instants and ids.

The world keeps every instant as integer microseconds since the epoch: integers compare and sort
exactly, and a sorted ``array`` of them is cheap even for a large world. Records spell an instant
in one of several equivalent RFC 3339 forms, so clients are pushed to compare instants, not text.
Ids are version-4 UUIDs drawn from the world's seeded streams instead of ``uuid.uuid4``, so they
are reproducible.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

US = 1_000_000
MINUTE_US = 60 * US
HOUR_US = 60 * MINUTE_US
DAY_US = 24 * HOUR_US

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ONE_US = timedelta(microseconds=1)

# Per-record spellings of an instant: (shift applied to the wall time, suffix). Variants 3..5 use
# the same offsets but always print microseconds, even when they are zero.
_SPELLINGS: tuple[tuple[int, str], ...] = ((0, "Z"), (0, "+00:00"), (HOUR_US, "+01:00"))
N_SPELLINGS = 6


def to_us(moment: datetime) -> int:
    """Exact integer microseconds since the epoch; worlds compare instants as integers."""
    if moment.tzinfo is None:
        raise ValueError(f"datetime must be timezone-aware, got naive {moment!r}")
    return (moment - _EPOCH) // ONE_US


def from_us(value: int) -> datetime:
    """The UTC datetime for integer microseconds since the epoch."""
    return _EPOCH + timedelta(microseconds=value)


def format_instant(value_us: int, variant: int) -> str:
    """Spell an instant in RFC 3339 the way record ``variant`` does (exact to the microsecond).

    Clients must compare instants, not strings, so each record picks one of several spellings of
    the same instant: ``Z``, ``+00:00`` or ``+01:00`` (wall time shifted), with or without
    fractional seconds.
    """
    shift, suffix = _SPELLINGS[variant % 3]
    wall = from_us(value_us + shift).replace(tzinfo=None)
    text = wall.isoformat(timespec="microseconds") if variant >= 3 else wall.isoformat()
    return text + suffix


class InstantFormatter:
    """``format_instant`` with the date and clock texts cached: records are built by the thousand."""

    __slots__ = ("_clocks", "_days")

    def __init__(self) -> None:
        self._days: dict[int, str] = {}
        self._clocks: dict[int, str] = {}

    def day_text(self, day: int) -> str:
        """``YYYY-MM-DD`` of a day counted from the epoch."""
        text = self._days.get(day)
        if text is None:
            text = self._days[day] = (date(1970, 1, 1) + timedelta(days=day)).isoformat()
        return text

    def __call__(self, value_us: int, variant: int) -> str:
        """The same text as ``format_instant(value_us, variant)``."""
        shift, suffix = _SPELLINGS[variant % 3]
        seconds, micros = divmod(value_us + shift, US)
        day, second_of_day = divmod(seconds, 86400)
        day_text = self._days.get(day) or self.day_text(day)
        clock = self._clocks.get(second_of_day)
        if clock is None:
            hours, rest = divmod(second_of_day, 3600)
            clock = self._clocks[second_of_day] = f"T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}"
        if micros or variant >= 3:
            return f"{day_text}{clock}.{micros:06d}{suffix}"
        return day_text + clock + suffix


def parse_instant_us(value: Any) -> int | None:
    """Parse a planted record's timestamp leniently (naive means UTC); None if it does not parse."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return to_us(moment)


def madrid_offset_us(utc_us: int) -> int:
    """Europe/Madrid's UTC offset by the EU rule (no tz database needed, so it is reproducible)."""
    year = from_us(utc_us).year
    start = _last_sunday_1am_utc(year, 3)
    end = _last_sunday_1am_utc(year, 10)
    return 2 * HOUR_US if start <= utc_us < end else HOUR_US


def _last_sunday_1am_utc(year: int, month: int) -> int:
    last = date(year, month, 31)
    last -= timedelta(days=(last.weekday() - 6) % 7)
    return to_us(datetime(last.year, last.month, last.day, 1, tzinfo=UTC))


# ----------------------------------------------------------------------------------------------
# Ids

_MASK128 = (1 << 128) - 1
# RFC 4122 variant: the first hex digit of the fourth group is one of 8, 9, a, b.
_UUID_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def uuid_from_int(bits: int) -> str:
    """A version-4 UUID string from 128 random bits (deterministic, unlike ``uuid.uuid4``)."""
    return uuid_from_hex(f"{bits & _MASK128:032x}", 0)


def uuid_from_hex(hexes: str, index: int) -> str:
    """The ``index``-th version-4 UUID from a block of random hex digits (fast bulk ids)."""
    h = hexes[32 * index : 32 * index + 32]
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_UUID_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"


def canonical_uuid(value: Any) -> str | None:
    """The lower-case hyphenated form of a UUID given in any spelling; None if it is not one."""
    if not isinstance(value, str):
        return None
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None
