"""The migrations of issue 17 (0010 on) run on a database with data in it: one at the previous
head (0008), populated as the service did then, migrates to the new schema with every
message's status, every event and every inbox row's state unchanged, and the service then
goes on from there (pending rows processed, quarantined and held ones released). The events,
received over several months, land in their months' partitions (0013), and a repeat of an old
event is still refused after the migration."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import asyncpg

import sql
from receiver import processor
from receiver.db import events as event_store
from receiver.db import inbox as inbox_store
from receiver.db import migrations, queries
from receiver.db.events import EventRow
from receiver.db.inbox import InboxRow
from receiver.db.pool import init_connection
from receiver.metrics import Metrics
from receiver.model import Source
from receiver.registration import register as registration
from tests.support import make_settings

PREVIOUS_HEAD = 8
SETTINGS = make_settings()


def _query(message_id: str, status: str, reason: str = "0") -> str:
    return urlencode(
        {
            "messageId": message_id,
            "channel": "sms",
            "recipient": "6591230000",
            "status": status,
            "reasonCode": reason,
            "messageTimestamp": "2026-06-01T14:30:00+08:00",
            "operatorTimestamp": "2026-06-01T14:31:00+08:00",
        }
    )


async def _migrate_to(conn: asyncpg.Connection, last: int) -> None:
    """Apply the migrations up to `last`, recorded as `migrations.apply` records them."""
    await conn.execute(migrations._CREATE_TABLE)
    for m in sql.migrations():
        if m.version <= last:
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    m.version,
                    m.name,
                )


async def _old_inbox_row(
    conn: asyncpg.Connection,
    key: str,
    query: str,
    at: datetime,
    state: str = "pending",
    verification: str = "unverified",
) -> int:
    """A row of the inbox table as the writer of 0008 stored it."""
    return int(
        await conn.fetchval(
            "INSERT INTO inbox (provider_key, method, path, query, headers, body, remote_addr,"
            " verification, received_at, state) VALUES ($1, 'GET', '/v1/callbacks/' || $1,"
            " $2, $3, ''::bytea, '127.0.0.1', $4, $5, $6) RETURNING id",
            key,
            query,
            {"user-agent": "GenIQ-DLR/1.0"},
            verification,
            at,
            state,
        )
    )


# the events insert of 0008: the unique key refused a duplicate (since 0013 a trigger does)
_OLD_INSERT_EVENTS = queries.get("insert_events").replace(
    "RETURNING", "ON CONFLICT (provider_key, dedupe_key) DO NOTHING\nRETURNING"
)


async def _old_insert(conn: asyncpg.Connection, rows: list[EventRow]) -> list[int]:
    if not rows:
        return []
    records = await conn.fetch(
        _OLD_INSERT_EVENTS,
        [r.provider_key for r in rows],
        [r.source.value for r in rows],
        [r.inbox_id for r in rows],
        *event_store.event_arrays(rows),
    )
    return [r[0] for r in records]


async def _old_process(conn: asyncpg.Connection) -> None:
    """What the processor of 0008 did with the pending rows: parse, store, match, roll up and
    mark each row processed (or quarantined) in place."""
    rows = await conn.fetch(
        "SELECT id, provider_key, method, path, query, headers, body, remote_addr, received_at,"
        " source, poll_request, response_status FROM inbox WHERE state = 'pending' ORDER BY id"
    )
    for r in rows:
        row = InboxRow(*r)
        try:
            parsed = processor.parse_row(row, SETTINGS)
        except Exception as exc:
            await conn.execute(
                "UPDATE inbox SET state = 'quarantined', state_reason = $2, event_count = 0,"
                " processed_at = now() WHERE id = $1",
                row.id,
                str(exc),
            )
            continue
        stored = [
            EventRow(row.provider_key, Source.CALLBACK, e, row.received_at, inbox_id=row.id)
            for e in parsed
        ]
        ids = await _old_insert(conn, stored)
        await event_store.refresh_status(conn, await event_store.match(conn, ids))
        await conn.execute(
            "UPDATE inbox SET state = 'processed', event_count = $2, processed_at = now()"
            " WHERE id = $1",
            row.id,
            len(parsed),
        )


async def _process_again(conn: asyncpg.Connection, inbox_id: int) -> list[int]:
    """The events of a stored request parsed and inserted again (as a replay does): the
    ids stored, none when they are all repeats."""
    r = await conn.fetchrow(
        "SELECT id, provider_key, method, path, query, headers, body, remote_addr, received_at,"
        " source, poll_request, response_status FROM inbox WHERE id = $1",
        inbox_id,
    )
    row = InboxRow(*r)
    parsed = processor.parse_row(row, SETTINGS)
    stored = [
        EventRow(row.provider_key, Source.CALLBACK, e, row.received_at, inbox_id=row.id)
        for e in parsed
    ]
    return await event_store.insert(conn, stored)


async def _snapshot(conn: asyncpg.Connection) -> dict[str, Any]:
    messages = [
        tuple((k, v) for k, v in r.items() if k != "updated_at")
        for r in await conn.fetch("SELECT * FROM messages ORDER BY id")
    ]
    events = [tuple(r.items()) for r in await conn.fetch("SELECT * FROM events ORDER BY id")]
    inbox = [
        tuple(r.items())
        for r in await conn.fetch(
            "SELECT id, provider_key, method, path, query, headers, body, remote_addr,"
            " verification, verification_reason, received_at, state, state_reason, source"
            " FROM inbox ORDER BY id"
        )
    ]
    return {"messages": messages, "events": events, "inbox": inbox}


async def test_a_populated_database_migrates_with_every_status_and_event_kept(
    empty_database_url: str,
) -> None:
    conn = await asyncpg.connect(empty_database_url)
    try:
        await init_connection(conn)
        await _migrate_to(conn, PREVIOUS_HEAD)
        # registered messages, one per provider id, and one by client reference only
        items: list[dict[str, Any]] = [
            {"provider": "open", "provider_message_ids": [f"MIG{n:04d}"], "client_ref": f"r{n}"}
            for n in range(40)
        ]
        items.append({"provider": "open", "client_ref": "by-ref-only"})
        results = await registration.register(conn, SETTINGS, items)
        assert all(r.message_id for r in results)
        at = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
        # callbacks: one or two statuses per message (some failed), an orphan, a repeat; the
        # messages' callbacks received over four months (their events' months)
        months = [at - timedelta(days=31 * k) for k in range(4)]
        for n in range(40):
            month = months[n % 4]
            await _old_inbox_row(conn, "open", _query(f"MIG{n:04d}", "accepted"), month)
            if n % 3:
                final = ("delivered", "0") if n % 5 else ("undeliverable", "5")
                await _old_inbox_row(
                    conn, "open", _query(f"MIG{n:04d}", *final), month + timedelta(minutes=1)
                )
        await _old_inbox_row(conn, "open", _query("NOT-REGISTERED", "delivered"), at)
        await _old_inbox_row(conn, "open", _query("MIG0001", "accepted"), at)  # a repeat
        await _old_inbox_row(conn, "open", "status=delivered", at)  # no messageId: quarantined
        await _old_process(conn)
        # left as they were: pending, and held (failed verification)
        pending = [
            await _old_inbox_row(conn, "open", _query(f"MIG{n:04d}", "delivered"), at)
            for n in (0, 3)
        ]
        held = await _old_inbox_row(
            conn, "held", _query("MIG0006", "delivered"), at, "held", "failed"
        )
        await conn.execute("VACUUM ANALYZE")
        before = await _snapshot(conn)
        states = {dict(r)["state"] for r in before["inbox"]}
        assert states == {"pending", "processed", "quarantined", "held"}
        assert len(before["events"]) > 100  # submit events, callbacks' events, an orphan
        assert any(dict(e)["message_id"] is None for e in before["events"])

        applied = await migrations.apply(conn)
        assert [m.version for m in applied] == [
            m.version for m in sql.migrations() if m.version > PREVIOUS_HEAD
        ]
        after = await _snapshot(conn)
        assert after == before

        # every event in the partition of its month; none left in the default partition
        placed = await conn.fetch(
            "SELECT tableoid::regclass::text AS part, received_at FROM events"
        )
        for e in placed:
            assert e["part"] == "events_" + e["received_at"].astimezone(UTC).strftime("%Y%m")
        assert {e["part"] for e in placed} >= {"events_" + m.strftime("%Y%m") for m in months}
        assert await conn.fetchval("SELECT count(*) FROM event_keys") == len(before["events"])

        # a repeat of an old event (of the oldest month) is refused, by the processor's insert
        # and by any other writer; a new event of that month is stored in its partition
        old = dict(
            await conn.fetchrow(
                "SELECT * FROM events WHERE source = 'callback' ORDER BY received_at LIMIT 1"
            )
        )
        columns = [k for k in old if k not in ("id", "created_at")]
        repeat = (
            f"INSERT INTO events ({', '.join(columns)})"
            f" VALUES ({', '.join(f'${i + 1}' for i in range(len(columns)))}) RETURNING id"
        )
        assert await conn.fetch(repeat, *[old[k] for k in columns]) == []
        assert await conn.fetchval("SELECT count(*) FROM events") == len(before["events"])
        async with conn.transaction():
            stored = await _process_again(conn, old["inbox_id"])
        assert stored == []
        fresh = dict(old, dedupe_key=old["dedupe_key"] + "|new", received_at=months[-1])
        new_id = await conn.fetchval(repeat, *[fresh[k] for k in columns])
        assert new_id > max(dict(e)["id"] for e in before["events"])
        assert await conn.fetchval(
            "SELECT tableoid::regclass::text FROM events WHERE id = $1", new_id
        ) == "events_" + months[-1].strftime("%Y%m")
        await conn.execute("DELETE FROM events WHERE id = $1", new_id)  # its key freed
        assert await conn.fetchval("SELECT count(*) FROM event_keys") == len(before["events"])
        # an event moved to another month (received_at updated) keeps its key, which follows it
        await conn.execute("UPDATE events SET received_at = $2 WHERE id = $1", old["id"], months[0])
        moved = await conn.fetchrow(
            "SELECT e.tableoid::regclass::text AS part, k.received_at FROM events e"
            " JOIN event_keys k ON k.event_id = e.id WHERE e.id = $1",
            old["id"],
        )
        assert moved["part"] == "events_" + months[0].strftime("%Y%m")
        assert moved["received_at"] == months[0]
        assert await conn.fetch(repeat, *[old[k] for k in columns]) == []
        await conn.execute(
            "UPDATE events SET received_at = $2 WHERE id = $1", old["id"], old["received_at"]
        )

        # the statuses are what the events make them, as before
        ids = [r["id"] for r in await conn.fetch("SELECT id FROM messages")]
        async with conn.transaction():
            await event_store.refresh_status(conn, ids)
        assert (await _snapshot(conn))["messages"] == before["messages"]

        # and the service goes on: the pending rows are processed, the held one released
        pool = await asyncpg.create_pool(
            empty_database_url, init=init_connection, min_size=1, max_size=2
        )
        try:
            assert await processor.drain(pool, SETTINGS, Metrics()) == len(pending)
            async with pool.acquire() as c:
                assert await inbox_store.release_ids(c, [held]) == [held]
            assert await processor.drain(pool, SETTINGS, Metrics()) == 1
        finally:
            await pool.close()
        counts = dict(await conn.fetch("SELECT state, count(*) FROM inbox GROUP BY state"))
        assert counts.get("pending", 0) == 0 and counts["quarantined"] == 1
        status = await conn.fetchval(
            "SELECT m.status FROM messages m JOIN message_parts p ON p.message_id = m.id"
            " WHERE p.provider_message_id = 'MIG0000'"
        )
        assert status == "delivered"
    finally:
        await conn.close()
