"""Inbox rows: the raw callbacks, stored before they are acknowledged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from receiver.db import queries
from receiver.db.pool import Connection


@dataclass(frozen=True, slots=True)
class NewInboxRow:
    provider_key: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    remote_addr: str | None
    verification: str  # verified | unverified | failed
    verification_reason: str | None
    received_at: datetime
    state: str  # pending | held


@dataclass(frozen=True, slots=True)
class InboxRow:
    id: int
    provider_key: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    remote_addr: str | None
    received_at: datetime


async def insert_batch(conn: Connection, rows: Sequence[NewInboxRow]) -> list[int]:
    """Insert one group-commit batch; return the new ids in order."""
    records = await conn.fetch(
        queries.get("insert_inbox_batch"),
        [r.provider_key for r in rows],
        [r.method for r in rows],
        [r.path for r in rows],
        [r.query for r in rows],
        [r.headers for r in rows],
        [r.body for r in rows],
        [r.remote_addr for r in rows],
        [r.verification for r in rows],
        [r.verification_reason for r in rows],
        [r.received_at for r in rows],
        [r.state for r in rows],
    )
    return [r["id"] for r in records]


async def claim_pending(conn: Connection, *, limit: int) -> list[InboxRow]:
    """Lock up to `limit` pending rows for this transaction (SKIP LOCKED)."""
    records = await conn.fetch(queries.get("claim_pending_inbox"), limit)
    return [InboxRow(**dict(r)) for r in records]


async def mark(
    conn: Connection,
    *,
    ids: Sequence[int],
    states: Sequence[str],
    reasons: Sequence[str | None],
    event_counts: Sequence[int],
) -> None:
    """Record the outcome of processing rows (processed or quarantined with a reason)."""
    await conn.execute(
        queries.get("mark_inbox"), list(ids), list(states), list(reasons), list(event_counts)
    )


async def lag_seconds(conn: Connection) -> float:
    """Age of the oldest pending row (0 when none)."""
    value = await conn.fetchval(queries.get("inbox_lag_seconds"))
    return float(value)


async def release(
    conn: Connection,
    *,
    states: Sequence[str],
    provider_key: str | None = None,
    since: datetime | None = None,
) -> int:
    """Queue stored rows again (replay); return how many."""
    rows = await conn.fetch(queries.get("release_inbox"), list(states), provider_key, since)
    return len(rows)
