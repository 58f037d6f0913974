"""The on-call wing's database reads: one typed function per named query of
`sql/queries/oncall.sql`, plain dataclasses back."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from receiver.db import queries
from receiver.db.pool import Connection


@dataclass(frozen=True, slots=True)
class WindowRow:
    """What one provider key sent and got back over a window (`provider_window`)."""

    provider_key: str
    sent: int
    finals: int
    failures: int
    failures_by_class: dict[str, int]
    median_final: float | None
    p95_final: float | None
    open_late: int
    callbacks: int
    quarantined: int
    held: int
    refused: int
    orphans: int


async def provider_window(
    conn: Connection,
    *,
    start: datetime,
    end: datetime,
    keys: Sequence[str],
    late_after: Mapping[str, float],
) -> list[WindowRow]:
    """Per key, the window [start, end); `late_after`: per key, the age (seconds) past which a
    message sent in the window and still open counts as late."""
    records = await conn.fetch(
        queries.get("provider_window"),
        start,
        end,
        list(keys),
        list(late_after),
        list(late_after.values()),
    )
    return [WindowRow(**dict(r)) for r in records]


async def oldest_open(conn: Connection, keys: Sequence[str]) -> dict[str, tuple[int, datetime]]:
    """Per key, its message open the longest: (id, submitted at, else registered at)."""
    records = await conn.fetch(queries.get("oldest_open"), list(keys))
    return {r["provider_key"]: (r["id"], r["since"]) for r in records}


async def orphans_now(conn: Connection) -> dict[str, int]:
    """Per key, the events that match no message yet."""
    records = await conn.fetch(queries.get("orphans_now"))
    return {r["provider_key"]: r["n"] for r in records}
