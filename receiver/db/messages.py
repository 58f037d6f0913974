"""Registered messages and their parts (one provider id per SMS part)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from receiver.db import queries
from receiver.db.pool import Connection

_STAGING_COLUMNS = (
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


async def register(conn: Connection, items: Sequence[NewMessage]) -> list[Registered]:
    """Insert new messages and their parts; items already registered (same client ref or
    provider id) resolve to the existing message. Must run inside a transaction."""
    await conn.execute(queries.get("create_message_staging"))
    await conn.copy_records_to_table(
        "message_staging",
        columns=_STAGING_COLUMNS,
        records=[
            (
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
            )
            for m in items
        ],
    )
    for name in (
        "analyze_message_staging",
        "resolve_staged_by_client_ref",
        "resolve_staged_by_provider_id",
        "allocate_staged_ids",
        "insert_staged_messages",
        # in-batch duplicates and concurrent registrations resolve to the winner
        "resolve_staged_by_client_ref",
        "insert_staged_parts",
    ):
        await conn.execute(queries.get(name))
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
