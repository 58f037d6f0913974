"""Done when: a Twilio message whose callback said `delivered` with no price gets its price by
polling; a poll that says what the callback said is no second event; final and priced
messages are never polled again."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from receiver import adapters
from receiver.db import events as event_store
from receiver.db import pool as db_pool
from receiver.db.events import EventRow
from receiver.metrics import Metrics
from receiver.model import RawRequest, Source
from receiver.poll.poller import Poller
from reconcile import runner
from reconcile.db import runs
from reconcile.settings import ReconcileSettings, run_config
from tests.integration.poll.support import due_now, poll_settings, process, register
from tests.support.poll_fakes import FakeProviders, TwilioMessage

SID = "SMb7c0a2ce80504485a6f653a7110836f5"


async def callback(conn: asyncpg.Connection, body: bytes) -> None:
    """A status callback through the Twilio adapter, stored as the processor stores it."""
    request = RawRequest(
        "POST", "/v1/callbacks/twilio", (), {}, body, "application/x-www-form-urlencoded"
    )
    events = adapters.get("twilio").parse_callback(request, {})
    async with conn.transaction():
        ids = await event_store.insert(
            conn, [EventRow("twilio", Source.CALLBACK, e, datetime.now(UTC)) for e in events]
        )
        await event_store.refresh_status(conn, await event_store.match(conn, ids))


async def events_of(conn: asyncpg.Connection, message_id: int) -> list[tuple[str, str, object]]:
    rows = await conn.fetch(
        "SELECT source, raw_status, cost FROM events WHERE message_id = $1 ORDER BY id", message_id
    )
    return [(r["source"], r["raw_status"], r["cost"]) for r in rows]


async def test_delivered_without_price_gets_its_price_by_polling(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    settings = poll_settings(fake.url)
    [message] = await register(
        conn, settings, {"provider": "twilio", "provider_message_ids": [SID], "client_ref": "t-1"}
    )
    await callback(conn, f"MessageSid={SID}&MessageStatus=delivered".encode())
    row = await conn.fetchrow("SELECT status, final, provider_cost FROM messages")
    assert (row["status"], row["final"], row["provider_cost"]) == ("delivered", True, None)
    # Twilio fills the price in later: the first fetch has none yet
    fake.twilio[SID] = TwilioMessage(status="delivered", price="-0.00750", priced_after=1)

    first = await Poller(pool, settings, Metrics()).once()
    await process(pool, settings)
    assert first.polled == 1 and first.responses == 1
    # the poll said what the callback said (delivered, no error, no price): one event
    assert [e for e in await events_of(conn, message) if e[0] != "submit"] == [
        ("callback", "delivered", None)
    ]
    schedule = await conn.fetchrow("SELECT attempts, next_poll_at, done_at FROM poll_schedule")
    assert schedule["attempts"] == 1 and schedule["done_at"] is None
    assert schedule["next_poll_at"] > datetime.now(UTC)  # a minute later, not at once

    await due_now(conn)
    second = await Poller(pool, settings, Metrics()).once()
    await process(pool, settings)
    assert second.polled == 1
    assert [e for e in await events_of(conn, message) if e[0] != "submit"] == [
        ("callback", "delivered", None),
        ("poll", "delivered", Decimal("0.00750")),
    ]
    row = await conn.fetchrow("SELECT status, provider_cost, provider_currency FROM messages")
    assert (row["status"], row["provider_cost"], row["provider_currency"]) == (
        "delivered",
        Decimal("0.00750"),
        "USD",
    )

    # final and priced: retired, never asked about again
    await due_now(conn)
    third = await Poller(pool, settings, Metrics()).once()
    assert third.polled == 0
    assert fake.twilio[SID].fetches == 2
    done = await conn.fetchrow("SELECT done_reason FROM poll_schedule")
    assert done["done_reason"] == "priced"


async def _unpriced(conn: asyncpg.Connection) -> set[int]:
    """The messages a reconciliation run over the last hour finds `unpriced` (no grace)."""
    now = datetime.now(UTC)
    config = run_config(ReconcileSettings(unpriced_grace=timedelta(0)), {})
    outcome = await runner.reconcile(
        conn,
        window_from=now - timedelta(hours=1),
        window_to=now + timedelta(minutes=1),
        as_of=None,
        config=config,
        requested_by="test",
    )
    found = await runs.findings_page(conn, outcome.run_id, limit=1000)
    return {f.message_id for f in found if f.rule == "unpriced" and f.message_id is not None}


async def test_a_price_found_by_polling_clears_the_unpriced_finding(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    settings = poll_settings(fake.url)
    [message] = await register(
        conn, settings, {"provider": "twilio", "provider_message_ids": [SID], "client_ref": "t-2"}
    )
    await callback(conn, f"MessageSid={SID}&MessageStatus=delivered".encode())
    # delivered, and no cost known from anywhere: reconciliation flags it
    assert message in await _unpriced(conn)
    fake.twilio[SID] = TwilioMessage(status="delivered", price="-0.00750")
    assert (await Poller(pool, settings, Metrics()).once()).polled == 1
    await process(pool, settings)
    # the provider's price came by polling: the next run no longer flags it
    assert message not in await _unpriced(conn)


async def test_a_final_priced_message_is_never_scheduled(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    settings = poll_settings(fake.url)
    submit = {"sid": SID, "status": "delivered", "price": "-0.0075", "price_unit": "USD"}
    await register(
        conn,
        settings,
        {"provider": "twilio", "provider_message_ids": [SID], "submit_response": submit},
    )
    row = await conn.fetchrow("SELECT final, provider_cost FROM messages")
    assert row["final"] and row["provider_cost"] == Decimal("0.0075")
    summary = await Poller(pool, settings, Metrics()).once()
    assert summary.polled == 0 and fake.requests() == []
    assert await conn.fetchval("SELECT count(*) FROM poll_schedule") == 0


async def test_two_pollers_never_poll_one_message_at_the_same_time(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    settings = poll_settings(fake.url, twilio={"batch_size": 7})
    sids = [f"SM{n:032d}" for n in range(60)]
    for sid in sids:
        fake.twilio[sid] = TwilioMessage(status="sent")
    await register(
        conn, settings, *({"provider": "twilio", "provider_message_ids": [s]} for s in sids)
    )
    fake.fail("twilio", *range(1, 61), delay=0.01)  # slow enough for the pollers to overlap

    results = await asyncio.gather(*(Poller(pool, settings, Metrics()).once() for _ in range(3)))
    assert sum(r.polled for r in results) == len(sids)
    assert sorted(m.fetches for m in fake.twilio.values()) == [1] * len(sids)
