"""Registered messages and their parts (one provider id per SMS part)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from receiver.db import queries
from receiver.db.pool import Connection

# an item's link to earlier items of its batch (`Link`)
LINK_COLUMNS = ("same_as", "clash_with", "same_as_parts")
STAGING_COLUMNS = (
    "item_no",
    "provider_key",
    "channel",
    "client_ref",
    "destination",
    "submitted_at",
    "body_text",
    "segments",
    "value",
    "cost",
    "currency",
    "submit_response",
    "submit_http_status",
    "provider_message_ids",
    *LINK_COLUMNS,
)


@dataclass(frozen=True, slots=True)
class NewMessage:
    item_no: int
    provider_key: str
    channel: str
    client_ref: str | None
    destination: str | None
    submitted_at: datetime | None
    body_text: str | None
    segments: int | None
    value: Decimal | None
    cost: Decimal | None
    currency: str | None
    submit_response: Any
    submit_http_status: int | None
    provider_message_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Registered:
    item_no: int
    message_id: int | None  # None when the item conflicts with another message
    existed: bool
    conflict_with: int | None = None


# an item's link to earlier items of its batch: (same_as, clash_with, same_as_parts), see
# `receiver.registration.links`
Link = tuple[int | None, int | None, list[int] | None]
NO_LINK: Link = (None, None, None)


def staging_record(m: NewMessage, linked: Link = NO_LINK) -> tuple[Any, ...]:
    """The row of `message_staging` (`STAGING_COLUMNS`) for one item."""
    return (
        m.item_no,
        m.provider_key,
        m.channel,
        m.client_ref,
        m.destination,
        m.submitted_at,
        m.body_text,
        m.segments,
        m.value,
        m.cost,
        m.currency,
        None if m.submit_response is None else json.dumps(m.submit_response, default=str),
        m.submit_http_status,
        list(m.provider_message_ids),
        *linked,
    )


async def stage(
    conn: Connection,
    records: Iterable[tuple[Any, ...]] | bytes,
    columns: Sequence[str] = STAGING_COLUMNS,
) -> None:
    """Fill this transaction's `message_staging` (records, or their COPY text) and resolve every
    item to a message: existing (same client ref or provider id), new (inserted with its
    parts) or in conflict."""
    await conn.execute(queries.get("create_message_staging"))
    if isinstance(records, bytes):
        await conn.copy_to_table(
            "message_staging", source=_once(records), columns=columns, format="text"
        )
    else:
        await conn.copy_records_to_table("message_staging", columns=columns, records=records)
    # one round trip: the statements take no parameters
    await conn.execute("\n".join(queries.get(name) for name in _RESOLVE))


_RESOLVE = (
    "analyze_message_staging",
    "resolve_staged_by_client_ref",
    "resolve_staged_by_provider_id",
    "insert_staged_messages",
    # concurrent registrations resolve to the winner, linked items to their earlier item's
    "resolve_staged_roots_by_client_ref",
    "resolve_staged_by_earlier_item",
    "insert_staged_parts",
)


async def _once(data: bytes) -> AsyncIterator[bytes]:
    """The data as an async source: COPY sends it from the event loop, no thread involved."""
    yield data


async def register(
    conn: Connection, items: Sequence[NewMessage], links: Mapping[int, Link]
) -> list[Registered]:
    """Insert new messages and their parts; items already registered (same client ref or
    provider id) resolve to the existing message, items of the batch as `links` says (as if
    registered one after the other). Must run inside a transaction."""
    await stage(conn, [staging_record(m, links.get(m.item_no, NO_LINK)) for m in items])
    records = await conn.fetch(queries.get("staged_results"))
    return [
        Registered(r["item_no"], r["message_id"], r["existed"], r["conflict_with"]) for r in records
    ]


async def get(conn: Connection, message_id: int) -> dict[str, Any] | None:
    record = await conn.fetchrow(queries.get("get_message"), message_id)
    return dict(record) if record else None


async def find_ids(
    conn: Connection,
    *,
    provider_key: str | None = None,
    provider_message_id: str | None = None,
    client_ref: str | None = None,
    limit: int = 100,
) -> list[int]:
    records = await conn.fetch(
        queries.get("find_message_ids"), provider_key, provider_message_id, client_ref, limit
    )
    return [r["id"] for r in records]
