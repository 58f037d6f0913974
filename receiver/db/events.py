"""Canonical events: append, match to messages, derive message status."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from receiver.db import queries
from receiver.db.pool import Connection
from receiver.model import Event, Source, dedupe_key


@dataclass(frozen=True, slots=True)
class EventRow:
    """An event with where it came from, ready to be stored."""

    provider_key: str
    source: Source
    event: Event
    received_at: datetime
    inbox_id: int | None = None
    message_id: int | None = None
    part_no: int | None = None


def _json_safe(value: dict[str, Any]) -> dict[str, Any]:
    if not value:
        return {}
    result: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return result


def event_arrays(rows: Sequence[EventRow]) -> list[list[Any]]:
    """The parallel arrays of an events insert, from `dedupe_key` to `aliases` (the columns
    `insert_events` and the import's `insert_import_events` take in the same order)."""
    e = [r.event for r in rows]
    return [
        [dedupe_key(r.event, r.source, r.message_id, r.part_no) for r in rows],
        [x.provider_message_id for x in e],
        [x.raw_message_id for x in e],
        [x.client_ref for x in e],
        [x.raw_status for x in e],
        [x.status.value for x in e],
        [x.error_code for x in e],
        [x.error_class.value if x.error_class else None for x in e],
        [x.retryable for x in e],
        [x.description for x in e],
        [x.provider_time for x in e],
        [r.received_at for r in rows],
        [x.cost for x in e],
        [x.currency for x in e],
        [x.channel.value if x.channel else None for x in e],
        [x.recipient for x in e],
        [_json_safe(x.details) for x in e],
        [r.message_id for r in rows],
        [r.part_no for r in rows],
        # aliases travel as one '\x1f'-separated string: unnest cannot take ragged arrays
        ["\x1f".join(x.aliases) for x in e],
    ]


async def insert(conn: Connection, rows: Sequence[EventRow]) -> list[int]:
    """Append events, dropping duplicates; return the ids of those actually inserted."""
    if not rows:
        return []
    records = await conn.fetch(
        queries.get("insert_events"),
        [r.provider_key for r in rows],
        [r.source.value for r in rows],
        [r.inbox_id for r in rows],
        *event_arrays(rows),
    )
    return [r["id"] for r in records]


async def match(
    conn: Connection, event_ids: Sequence[int] | None, *, aliases: bool = True
) -> set[int]:
    """Attach orphan events (these, or all when None) to messages; return touched message ids.

    `aliases=False` says none of these events carries an alias (nothing to learn)."""
    ids = list(event_ids) if event_ids is not None else None
    touched = {r["message_id"] for r in await conn.fetch(queries.get("match_events_by_id"), ids)}
    by_ref = {
        r["message_id"] for r in await conn.fetch(queries.get("match_events_by_client_ref"), ids)
    }
    if by_ref:
        await conn.execute(queries.get("learn_part_ids"), list(by_ref))
    touched |= by_ref
    if aliases and touched:
        learned = await conn.fetch(queries.get("learn_alias_ids"), list(touched))
        if learned:  # orphans that carry only a newly learned id match now
            ids_learned = [r["provider_message_id"] for r in learned]
            rematched = await conn.fetch(queries.get("match_events_by_learned_id"), ids_learned)
            touched |= {r["message_id"] for r in rematched}
    return touched


async def orphans_for(conn: Connection, message_ids: Iterable[int]) -> list[int]:
    """Ids of orphan events that these (new) messages can claim."""
    records = await conn.fetch(queries.get("orphan_events_for_messages"), list(message_ids))
    return [r["id"] for r in records]


async def refresh_status(conn: Connection, message_ids: Iterable[int]) -> None:
    """Recompute status, error and provider cost of these messages from all their events.

    The message rows are locked first (in id order) so that concurrent processors see
    each other's committed events and never write a stale status.
    """
    ids = sorted(set(message_ids))
    if not ids:
        return
    await conn.fetch(queries.get("lock_messages"), ids)
    await conn.execute(queries.get("refresh_message_status"), ids)


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    id: int
    source: str
    inbox_id: int | None
    provider_message_id: str | None
    raw_message_id: str | None
    client_ref: str | None
    raw_status: str
    status: str
    error_code: str | None
    error_class: str | None
    retryable: bool | None
    description: str | None
    provider_time: datetime | None
    received_at: datetime
    cost: Decimal | None
    currency: str | None
    part_no: int | None
    details: dict[str, Any]


async def timeline(conn: Connection, message_id: int) -> list[TimelineEntry]:
    records = await conn.fetch(queries.get("message_timeline"), message_id)
    return [TimelineEntry(**dict(r)) for r in records]
