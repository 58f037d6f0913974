"""Inbox rows: the raw callbacks, stored before they are acknowledged."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

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
    # a poll response (receiver/poll): the request made, and the HTTP status answered
    source: str = "callback"
    poll_request: dict[str, Any] | None = None
    response_status: int | None = None


@dataclass(frozen=True, slots=True)
class StoredRow:
    """An inbox row as stored, with what became of it (for inspection and traces)."""

    id: int
    provider_key: str
    source: str  # callback | poll (a poll's method/path/query are the request made)
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    remote_addr: str | None
    verification: str
    verification_reason: str | None
    received_at: datetime
    state: str
    state_reason: str | None
    processed_at: datetime | None
    event_count: int | None
    response_status: int | None  # a poll's: the HTTP status the provider answered


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
    """Lock up to `limit` pending rows for this transaction (SKIP LOCKED).

    The transaction commits without waiting for its WAL to be flushed (synchronous_commit
    off): all it writes is derived from the inbox, which is durable, and a crash that loses
    it loses its dequeue too, so the rows are claimed and processed again (their events are
    dropped as duplicates where they were kept)."""
    await conn.execute(queries.get("processor_commit_async"))
    records = await conn.fetch(queries.get("claim_pending_inbox"), limit)
    return [InboxRow(*r) for r in records]


async def mark(
    conn: Connection,
    *,
    ids: Sequence[int],
    quarantined: Sequence[tuple[int, str]] = (),
) -> None:
    """Record the outcome of processing claimed rows: out of the queue (processed), those in
    `quarantined` (id, reason) among the exceptions. The rows themselves are not rewritten."""
    await conn.execute(
        queries.get("dequeue_inbox"),
        list(ids),
        [i for i, _ in quarantined],
        [r for _, r in quarantined],
    )


# months of inbox partitions created ahead of the current one
PARTITIONS_AHEAD = 3


async def ensure_partitions(conn: Connection, ahead: int = PARTITIONS_AHEAD) -> int:
    """Create the inbox's monthly partitions up to `ahead` months from now; how many there
    are of those months (migrate, serve, and the processor once a day).

    Creating a partition locks the inbox for a moment: it waits at most 2 s for the lock
    (asyncpg's LockNotAvailableError then), so that the writer is never held behind it long."""
    async with conn.transaction():
        await conn.execute(queries.get("partitions_lock_timeout"))
        return int(await conn.fetchval(queries.get("ensure_inbox_partitions"), ahead))


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
    return len(await release_rows(conn, states=states, provider_key=provider_key, since=since))


async def release_rows(
    conn: Connection,
    *,
    states: Sequence[str],
    provider_key: str | None = None,
    since: datetime | None = None,
) -> list[tuple[int, str]]:
    """Queue stored rows again (replay); return each one's id and the state it had."""
    rows = await conn.fetch(queries.get("release_inbox"), list(states), provider_key, since)
    return [(r["id"], r["was"]) for r in rows]


async def last_event_id(conn: Connection) -> int:
    return int(await conn.fetchval(queries.get("last_event_id")))


@dataclass(frozen=True, slots=True)
class ReplayedOutcome:
    """What became of replayed rows: how many are in each state, and the events made of them."""

    states: dict[str, int]
    new_events: int


async def replayed_outcome(
    conn: Connection, ids: Sequence[int], after_event: int
) -> ReplayedOutcome:
    rows = await conn.fetch(queries.get("replayed_outcome"), list(ids), after_event)
    return ReplayedOutcome(
        {r["state"]: r["rows"] for r in rows}, sum(r["new_events"] for r in rows)
    )


async def of_message(conn: Connection, message_id: int) -> list[StoredRow]:
    """The stored requests the events of a message came from, in arrival order."""
    records = await conn.fetch(queries.get("inbox_requests_of_message"), message_id)
    return [StoredRow(**dict(r)) for r in records]


async def get(conn: Connection, inbox_id: int) -> StoredRow | None:
    record = await conn.fetchrow(queries.get("get_inbox_row"), inbox_id)
    return StoredRow(**dict(record)) if record else None


async def attention(
    conn: Connection,
    *,
    states: Sequence[str],
    provider_key: str | None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> list[StoredRow]:
    """Quarantined and held rows, newest first, after a (received_at, id) cursor."""
    records = await conn.fetch(
        queries.get("inbox_attention"),
        list(states),
        provider_key,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [StoredRow(**dict(r)) for r in records]


async def attention_counts(conn: Connection) -> list[tuple[str, str, int]]:
    """(provider key, state, rows) of every quarantined and held row."""
    records = await conn.fetch(queries.get("inbox_attention_counts"))
    return [(r["provider_key"], r["state"], r["n"]) for r in records]


async def release_ids(conn: Connection, ids: Sequence[int]) -> list[int]:
    """Queue these quarantined or held rows again; the ids released."""
    records = await conn.fetch(queries.get("release_inbox_rows"), list(ids))
    return sorted(r["id"] for r in records)
