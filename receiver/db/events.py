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


_JSON_SCALARS = (str, int, float, bool, type(None))


def _json_safe(value: dict[str, Any]) -> dict[str, Any]:
    if not value:
        return {}
    if all(type(v) in _JSON_SCALARS for v in value.values()):
        return value  # flat and JSON already (most details): no round trip
    result: dict[str, Any] = json.loads(json.dumps(value, default=str))
    return result


def key_of(row: EventRow) -> tuple[str, str]:
    """The unique key an event is stored under (provider key, dedupe key)."""
    return row.provider_key, dedupe_key(row.event, row.source, row.message_id, row.part_no)


def event_arrays(
    rows: Sequence[EventRow], dedupe_keys: Sequence[str] | None = None
) -> list[list[Any]]:
    """The parallel arrays of an events insert, from `dedupe_key` to `aliases` (the columns
    `insert_events` and the import's `insert_import_events` take in the same order);
    `dedupe_keys` when the caller has them already."""
    e = [r.event for r in rows]
    return [
        list(dedupe_keys)
        if dedupe_keys is not None
        else [dedupe_key(r.event, r.source, r.message_id, r.part_no) for r in rows],
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


@dataclass(frozen=True, slots=True)
class Inserted:
    """An event the insert stored (a duplicate of a stored one is not)."""

    id: int
    provider_key: str
    dedupe_key: str
    message_id: int | None = None  # matched as it was stored (its provider id is registered)


async def insert(conn: Connection, rows: Sequence[EventRow]) -> list[int]:
    """Append events, dropping duplicates; return the ids of those actually inserted."""
    return [i.id for i in await insert_new(conn, rows)]


async def insert_new(
    conn: Connection, rows: Sequence[EventRow], dedupe_keys: Sequence[str] | None = None
) -> list[Inserted]:
    """Append events, dropping duplicates; return those actually inserted (with their keys,
    so that the caller can tell new events from duplicates). `dedupe_keys`: each row's, when
    the caller has them already."""
    if not rows:
        return []
    records = await conn.fetch(
        queries.get("insert_events"),
        [r.provider_key for r in rows],
        [r.source.value for r in rows],
        [r.inbox_id for r in rows],
        *event_arrays(rows, dedupe_keys),
    )
    return [Inserted(r[0], r[1], r[2], r[3]) for r in records]


async def match(
    conn: Connection,
    event_ids: Sequence[int] | None,
    *,
    aliases: bool = True,
    stored_matched: bool = True,
) -> set[int]:
    """Attach orphan events (these, or all when None) to messages; return touched message ids.

    Events whose provider id was registered are stored matched (`insert_events`): with
    `stored_matched`, the messages of those among `event_ids` count as touched too.
    `aliases=False` says none of these events carries an alias (nothing to learn)."""
    ids = list(event_ids) if event_ids is not None else None
    touched = {r["message_id"] for r in await conn.fetch(queries.get("match_events_by_id"), ids)}
    if stored_matched and ids:
        touched |= {
            r["message_id"] for r in await conn.fetch(queries.get("messages_of_events"), ids)
        }
    by_ref = {
        r["message_id"] for r in await conn.fetch(queries.get("match_events_by_client_ref"), ids)
    }
    if by_ref:
        await conn.execute(queries.get("learn_part_ids"), list(by_ref))
    touched |= by_ref
    if aliases and touched:
        touched |= await learn_aliases(conn, touched)
    return touched


async def learn_aliases(conn: Connection, message_ids: Iterable[int]) -> set[int]:
    """Teach these messages' parts the other ids their events carry; the messages of the
    orphans that match by a learned id."""
    learned = await conn.fetch(queries.get("learn_alias_ids"), list(message_ids))
    if not learned:
        return set()
    # orphans that carry only a newly learned id match now
    ids_learned = [r["provider_message_id"] for r in learned]
    rematched = await conn.fetch(queries.get("match_events_by_learned_id"), ids_learned)
    return {r["message_id"] for r in rematched}


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
