"""Registered messages and their parts (one provider id per SMS part)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from receiver.db import queries
from receiver.db.pool import Connection

# an item's link to earlier items of its batch (`link`)
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


# (same_as, clash_with, same_as_parts): see `link`
Link = tuple[int | None, int | None, list[int] | None]
NO_LINK: Link = (None, None, None)


def link(items: Iterable[tuple[int, str, str | None, Sequence[str]]]) -> dict[int, Link]:
    """How the items of one batch (item_no, provider key, client ref, provider ids; in item
    order) stand to each other, as if they were registered one after the other into a database
    that knows none of them (`stage` resolves against existing messages first).

    An item is the message of an earlier item with its provider key and client ref, else of the
    first of its provider ids an earlier message holds (a conflict instead when both have client
    refs that differ), else a new message. Items linked to an earlier one map to the item that
    makes that message (same_as, with the part numbers it adds to it: same_as_parts), or that it
    conflicts with (clash_with); the others are left out. A message takes an item's provider id
    as part number n (its place) unless another message holds the id or the message has a part
    n already, as `insert_staged_parts` does.
    """
    links: dict[int, Link] = {}
    by_ref: dict[tuple[str, str], int] = {}
    owner: dict[tuple[str, str], int] = {}
    root_ref: dict[int, str | None] = {}
    parts: dict[int, set[int]] = {}
    for item_no, provider_key, client_ref, ids in items:
        root = None if client_ref is None else by_ref.get((provider_key, client_ref))
        if root is None:
            root = next(
                (r for pid in ids if (r := owner.get((provider_key, pid))) is not None), None
            )
            other_ref = None if root is None else root_ref[root]
            if client_ref is not None and other_ref is not None and other_ref != client_ref:
                links[item_no] = (None, root, None)
                continue
        if root is None:
            root = item_no
            root_ref[root] = client_ref
            parts[root] = set()
            if client_ref is not None:
                by_ref[provider_key, client_ref] = root
        taken = parts[root]
        added = []
        for n, pid in enumerate(ids):
            if n not in taken and (provider_key, pid) not in owner:
                owner[provider_key, pid] = root
                taken.add(n)
                added.append(n)
        if root != item_no:
            links[item_no] = (root, None, added)
    return links


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


async def register(conn: Connection, items: Sequence[NewMessage]) -> list[Registered]:
    """Insert new messages and their parts; items already registered (same client ref or
    provider id) resolve to the existing message, items of the batch as if registered one
    after the other (`link`). Must run inside a transaction."""
    links = link((m.item_no, m.provider_key, m.client_ref, m.provider_message_ids) for m in items)
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
