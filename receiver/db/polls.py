"""The poller's tables: each message's poll schedule, the poll log, poll responses in the inbox."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from receiver.db import queries
from receiver.db.pool import Connection


@dataclass(frozen=True, slots=True)
class Claimed:
    """A message leased for polling, with what a request can name it by."""

    message_id: int
    attempts: int
    failures: int
    status: str
    channel: str
    client_ref: str | None
    submitted_at: datetime | None
    final: bool
    priced: bool
    submit_response: Any
    provider_message_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Finished:
    """What became of one claimed message's poll."""

    message_id: int
    next_at: datetime
    outcome: str
    answered: bool  # the provider answered (a step of the schedule is used up)
    unpollable: bool = False  # nothing names the message for this API: never again


@dataclass(frozen=True, slots=True)
class PollLog:
    """One request sent (the `polls` table)."""

    provider_key: str
    message_id: int | None
    kind: str
    requested_at: datetime
    duration_ms: int | None
    request: dict[str, Any]
    outcome: str
    http_status: int | None
    error: str | None
    inbox_id: int | None


@dataclass(frozen=True, slots=True)
class PollResponseRow:
    """A poll response to store in the inbox (the request made is described, no secrets)."""

    provider_key: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes
    remote_addr: str | None
    received_at: datetime
    request: dict[str, Any]
    status: int


async def retire(conn: Connection, *, provider_key: str, gives_price: bool, horizon: float) -> int:
    """Mark the key's messages that need no more polls done; return how many."""
    result = await conn.execute(queries.get("retire_polls"), provider_key, gives_price, horizon)
    return int(result.split()[-1])


async def seed(
    conn: Connection,
    *,
    provider_key: str,
    poll_after: float,
    horizon: float,
    gives_price: bool,
    limit: int,
    window: float | None,
) -> int:
    """Schedule the key's messages that became worth polling; return how many. With `window`,
    only those that crossed the poll_after threshold in the last `window` seconds."""
    result = await conn.execute(
        queries.get("seed_polls"), provider_key, poll_after, horizon, gives_price, limit, window
    )
    return int(result.split()[-1])


async def claim(conn: Connection, *, provider_key: str, limit: int, lease: float) -> list[Claimed]:
    """Lease up to `limit` due messages of the key (FOR UPDATE SKIP LOCKED)."""
    records = await conn.fetch(queries.get("claim_polls"), provider_key, limit, lease)
    return [
        Claimed(**{**dict(r), "provider_message_ids": tuple(r["provider_message_ids"])})
        for r in records
    ]


async def finish(conn: Connection, rows: Sequence[Finished]) -> None:
    """Record the outcome of claimed messages' polls and end their leases."""
    if not rows:
        return
    await conn.execute(
        queries.get("finish_polls"),
        [r.message_id for r in rows],
        [r.next_at for r in rows],
        [r.outcome for r in rows],
        [r.answered for r in rows],
        [r.unpollable for r in rows],
    )


async def release(conn: Connection, message_ids: Sequence[int]) -> None:
    """End the leases of claimed messages without recording a poll."""
    if message_ids:
        await conn.execute(queries.get("release_polls"), list(message_ids))


async def store_response(conn: Connection, row: PollResponseRow) -> int:
    """Store one poll response in the inbox (pending, for the processor); return its id."""
    inbox_id: int = await conn.fetchval(
        queries.get("insert_poll_inbox"),
        row.provider_key,
        row.method,
        row.path,
        row.query,
        row.headers,
        row.body,
        row.remote_addr,
        row.received_at,
        row.request,
        row.status,
    )
    return inbox_id


async def log(conn: Connection, rows: Sequence[PollLog]) -> None:
    """Append to the poll log."""
    if not rows:
        return
    await conn.execute(
        queries.get("insert_polls"),
        [r.provider_key for r in rows],
        [r.message_id for r in rows],
        [r.kind for r in rows],
        [r.requested_at for r in rows],
        [r.duration_ms for r in rows],
        [r.request for r in rows],
        [r.outcome for r in rows],
        [r.http_status for r in rows],
        [r.error for r in rows],
        [r.inbox_id for r in rows],
    )


async def backlog(conn: Connection) -> dict[str, tuple[int, int]]:
    """Per provider key: (due now, scheduled in all) messages waiting for a poll."""
    records = await conn.fetch(queries.get("poll_backlog"))
    return {r["provider_key"]: (r["due"], r["scheduled"]) for r in records}


async def for_message(conn: Connection, message_id: int) -> list[dict[str, Any]]:
    """The polls that asked about a message (look-ups, and pages that reported on it)."""
    return [dict(r) for r in await conn.fetch(queries.get("message_polls"), message_id)]


async def schedule_of(conn: Connection, message_id: int) -> dict[str, Any] | None:
    """The message's poll schedule, None when it was never polled."""
    record = await conn.fetchrow(queries.get("message_poll_schedule"), message_id)
    return dict(record) if record else None


async def states(conn: Connection, message_ids: Sequence[int]) -> dict[int, tuple[str, bool]]:
    """(status, priced) of these messages."""
    records = await conn.fetch(queries.get("message_states"), list(message_ids))
    return {r["id"]: (r["status"], r["priced"]) for r in records}
