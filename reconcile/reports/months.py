"""Calendar months of finance periods (UTC): `2026-11` is [2026-11-01, 2026-12-01)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from receiver.errors import InvalidInput

_MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
# the years a period or a report window may be in (a month's neighbours stay valid dates)
FIRST_YEAR, LAST_YEAR = 1900, 9998


def parse(text: str) -> date:
    """`2026-11` as its first day; InvalidInput otherwise."""
    match = _MONTH.match(text.strip())
    if match is None:
        raise InvalidInput(f"month {text!r} is not YYYY-MM (e.g. 2026-11)")
    if not FIRST_YEAR <= int(match[1]) <= LAST_YEAR:
        raise InvalidInput(f"month {text!r} is not between {FIRST_YEAR} and {LAST_YEAR}")
    return date(int(match[1]), int(match[2]), 1)


def name(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def following(month: date) -> date:
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def preceding(month: date) -> date:
    return date(month.year - (month.month == 1), (month.month - 2) % 12 + 1, 1)


def of(day: date) -> date:
    return day.replace(day=1)


def between(start: date, end: date) -> list[date]:
    """The months that overlap the days [start, end)."""
    found, month = [], of(start)
    while month < end:
        found.append(month)
        month = following(month)
    return found


def midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
