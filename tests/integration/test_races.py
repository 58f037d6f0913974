"""Races: processors side by side, and registrations racing their own callbacks."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from urllib.parse import urlencode

import asyncpg

from receiver import processor
from receiver.db import inbox as inbox_store
from receiver.db import pool as db_pool
from receiver.db.inbox import NewInboxRow
from receiver.metrics import Metrics
from receiver.registration import register as registration
from receiver.settings import Settings


def row(message_id: str, status: str = "delivered") -> NewInboxRow:
    query = urlencode({"messageId": message_id, "status": status, "reasonCode": "0"})
    return NewInboxRow(
        "open",
        "GET",
        "/v1/callbacks/open",
        query,
        {},
        b"",
        "127.0.0.1",
        "unverified",
        None,
        datetime.now(UTC),
        "pending",
    )


async def test_processors_side_by_side_process_each_row_once(
    database_url: str, settings: Settings, conn: asyncpg.Connection
) -> None:
    s = settings.model_copy(
        update={"processor": settings.processor.model_copy(update={"batch_size": 50})}
    )
    messages = [
        {"provider": "open", "client_ref": f"p{n}", "provider_message_ids": [f"P{n}"]}
        for n in range(300)
    ]
    await registration.register(conn, s, messages)
    rows = [row(f"P{n}", status) for n in range(300) for status in ("processed", "delivered")]
    await inbox_store.insert_batch(conn, rows)
    await inbox_store.insert_batch(conn, rows[:100])  # duplicates of the first 50 messages

    pools = [
        await db_pool.create(database_url, min_size=1, max_size=2, timeout=5) for _ in range(3)
    ]
    try:
        counts = await asyncio.gather(*(processor.drain(p, s, Metrics()) for p in pools))
    finally:
        for p in pools:
            await p.close()
    assert sum(counts) == 700
    assert await conn.fetchval("SELECT count(*) FROM inbox WHERE state = 'processed'") == 700
    assert await conn.fetchval("SELECT count(*) FROM events WHERE source = 'callback'") == 600
    statuses = await conn.fetch("SELECT status, count(*) FROM messages GROUP BY status")
    assert [(r["status"], r["count"]) for r in statuses] == [("delivered", 300)]


async def test_registration_racing_its_callbacks_ends_matched(
    database_url: str, settings: Settings, conn: asyncpg.Connection
) -> None:
    """A callback processed while its message's registration is uncommitted is an orphan for a
    moment; the sweep matches it, so nothing stays orphaned."""
    pool = await db_pool.create(database_url, min_size=2, max_size=6, timeout=5)
    metrics = Metrics()
    try:

        async def register(n: int) -> None:
            async with pool.acquire() as c:
                await registration.register(
                    c,
                    settings,
                    [
                        {
                            "provider": "open",
                            "client_ref": f"r{n}",
                            "provider_message_ids": [f"R{n}"],
                        }
                    ],
                )

        async def deliver(n: int) -> None:
            async with pool.acquire() as c:
                await inbox_store.insert_batch(c, [row(f"R{n}")])
            await processor.process_batch(pool, settings, metrics)

        await asyncio.gather(*(f(n) for n in range(150) for f in (register, deliver)))
        await processor.drain(pool, settings, metrics)
    finally:
        await pool.close()
    assert await conn.fetchval("SELECT count(*) FROM events WHERE message_id IS NULL") == 0
    assert await conn.fetchval("SELECT count(*) FROM messages WHERE status <> 'delivered'") == 0
