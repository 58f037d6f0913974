"""Migration 0006 rewrites the dedupe keys of events that report a price exactly as Python
now writes them, so a callback replayed after the upgrade is still a duplicate."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg

import sql
from receiver.db.pool import init_connection
from receiver.model import Event, Source, Status, dedupe_key

AMOUNTS = [
    "0.03330000",
    "0.0333",
    "100",
    "1E+2",
    "0E-8",
    "0.00750",
    "-0.5",
    "7",
    "12345678901234567890.123456789",
    "1E-10",
    "0.10",
    "250.000",
]


async def test_rewritten_keys_equal_the_keys_python_writes(empty_database_url: str) -> None:
    conn = await asyncpg.connect(empty_database_url)
    await init_connection(conn)
    try:
        for migration in sql.migrations():
            if migration.version < 6:
                await conn.execute(migration.sql)
        when = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
        events = [
            Event(
                "delivered",
                Status.DELIVERED,
                provider_message_id=f"M{i}",
                provider_time=when,
                cost=Decimal(a),
                currency="EUR",
            )
            for i, a in enumerate(AMOUNTS)
        ]
        events.append(Event("delivered", Status.DELIVERED, provider_message_id="no-price"))
        old_keys = [dedupe_key(e, Source.CALLBACK).split("|price:")[0] for e in events]
        for event, key in zip(events, old_keys, strict=True):
            await conn.execute(
                "INSERT INTO events (provider_key, source, dedupe_key, provider_message_id,"
                " raw_status, status, received_at, cost, currency)"
                " VALUES ('p', 'callback', $1, $2, $3, $4, now(), $5, $6)",
                key,
                event.provider_message_id,
                event.raw_status,
                event.status.value,
                event.cost,
                event.currency,
            )
        await conn.execute(next(m.sql for m in sql.migrations() if m.version == 6))
        stored = [
            r["dedupe_key"] for r in await conn.fetch("SELECT dedupe_key FROM events ORDER BY id")
        ]
        assert stored == [dedupe_key(e, Source.CALLBACK) for e in events]
        assert stored[-1] == old_keys[-1]  # no price: unchanged
    finally:
        await conn.close()


async def test_amount_key_is_trim_scale_for_random_amounts(conn: asyncpg.Connection) -> None:
    import random

    from receiver.model import amount_key

    rng = random.Random(13)
    amounts = [
        Decimal(rng.randint(-(10**30), 10**30)).scaleb(-rng.randint(-5, 30)) for _ in range(2000)
    ]
    rows = await conn.fetch(
        "SELECT trim_scale(a)::text AS t FROM unnest($1::numeric[]) WITH ORDINALITY AS u(a, n)"
        " ORDER BY n",
        amounts,
    )
    assert [r["t"] for r in rows] == [amount_key(a) for a in amounts]
