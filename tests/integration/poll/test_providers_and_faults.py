"""Vonage, Hellio and YellowPush look-ups end to end; transient failures, timeouts, the circuit
breaker; credentials never stored; a restart does not poll everything again."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from receiver.db import pool as db_pool
from receiver.metrics import Metrics
from receiver.poll.poller import Poller
from tests.integration.poll.support import due_now, poll_settings, process, register
from tests.support.poll_fakes import POLL_SECRETS, FakeProviders, TwilioMessage


async def test_vonage_record_gives_status_and_price(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    settings = poll_settings(fake.url)
    [message] = await register(
        conn, settings, {"provider": "vonage", "provider_message_ids": ["0B00000127FDBC63"]}
    )
    fake.vonage_records["0B00000127FDBC63"] = {
        "message_id": "0b00000127fdbc63",
        "status": "delivered",
        "error_code": "0",
        "total_price": "0.03330000",
        "currency": "EUR",
        "to": "447547232824",
        "date_finalized": "2018-10-25T12:10:29Z",
    }
    await Poller(pool, settings, Metrics()).once()
    await process(pool, settings)
    row = await conn.fetchrow(
        "SELECT status, provider_cost, provider_currency FROM messages WHERE id = $1", message
    )
    assert (row["status"], row["provider_cost"], row["provider_currency"]) == (
        "delivered",
        Decimal("0.03330000"),
        "EUR",
    )
    [seen] = fake.requests("/v2/reports/records")
    assert seen.query["id"] == "0B00000127FDBC63" and seen.query["product"] == "SMS"


async def test_hellio_by_send_reference_and_yellowpush_by_client_ref(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    settings = poll_settings(fake.url)
    reference = "3f0d7a9e-5a55-4c0e-9a51-0e6f3f0c1a11"
    hellio, yellow = await register(
        conn,
        settings,
        {
            "provider": "hellio",
            "client_ref": "h-1",
            "submit_http_status": 202,
            "submit_response": {"data": {"reference": reference, "status": "queued"}},
        },
        {"provider": "yellowpush", "client_ref": "y-1", "submit_http_status": 200},
    )
    fake.hellio[reference] = {
        "provider_message_id": "abc123",
        "status": "delivered",
        "timestamp": "2026-06-30T10:24:01+00:00",
    }
    fake.yellowpush["y-1"] = [{"edr_id": "E-9", "state": "FAILED"}]

    await Poller(pool, settings, Metrics()).once()
    await process(pool, settings)

    rows = {r["id"]: r["status"] for r in await conn.fetch("SELECT id, status FROM messages")}
    assert rows == {hellio: "delivered", yellow: "failed"}
    # the ids the responses named are learned: a later webhook with them matches directly
    parts = await conn.fetch("SELECT message_id, provider_message_id FROM message_parts ORDER BY 1")
    assert [(p["message_id"], p["provider_message_id"]) for p in parts] == [
        (hellio, "abc123"),
        (yellow, "E-9"),
    ]
    [edr] = fake.requests("/rest/sms_edr")
    assert edr.query["client_message_id"] == "y-1" and "start_date" in edr.query


async def test_transient_failures_and_timeouts_are_retried(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    settings = poll_settings(fake.url, twilio={"retries": 3, "read_timeout": 0.3})
    sid = "SM000000000000000000000000000000aa"
    fake.twilio[sid] = TwilioMessage(status="delivered")
    [message] = await register(
        conn, settings, {"provider": "twilio", "provider_message_ids": [sid]}
    )
    fake.fail("twilio", 1, status=500)
    fake.fail("twilio", 2, delay=1.0)  # longer than the read timeout
    fake.fail("twilio", 3, status=429)  # no Retry-After: back-off

    summary = await Poller(pool, settings, Metrics()).once()
    await process(pool, settings)

    assert summary.responses == 1 and summary.requests == 4 and not summary.failed
    logged = await conn.fetch(
        "SELECT outcome FROM polls WHERE message_id = $1 ORDER BY id", message
    )
    assert [r["outcome"] for r in logged] == ["server_error", "timeout", "rate_limited", "ok"]
    assert await conn.fetchval("SELECT status FROM messages WHERE id = $1", message) == "delivered"


async def test_the_breaker_opens_after_repeated_failures_and_a_probe_closes_it(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    settings = poll_settings(
        fake.url, twilio={"retries": 0, "breaker_failures": 3, "breaker_reset": 0.3}
    )
    sids = [f"SM{n:032d}" for n in range(10)]
    for sid in sids:
        fake.twilio[sid] = TwilioMessage(status="sent")
    await register(
        conn, settings, *({"provider": "twilio", "provider_message_ids": [s]} for s in sids)
    )
    fake.fail("twilio", *range(1, 100), status=503)
    metrics = Metrics()
    poller = Poller(pool, settings, metrics)

    first = await poller.once()
    # three failures open the breaker: the other messages are not sent at all, and stay due
    assert len(fake.requests("twilio")) <= 3 + settings.providers["twilio"].poll.max_in_flight
    assert first.failed["server_error"] == len(fake.requests("twilio"))
    state = metrics.registry.get_sample_value("dlrecon_poll_breaker_state", {"provider": "twilio"})
    assert state == 1.0  # open
    due = await conn.fetchval(
        "SELECT count(*) FROM poll_schedule WHERE next_poll_at <= now() AND lease_until IS NULL"
    )
    assert due == len(sids) - len(fake.requests("twilio"))

    # the provider is back; once the reset time has passed, one probe goes, then the rest
    fake.faults.clear()
    await _sleep(0.35)
    await due_now(conn)
    sent_before = len(fake.requests("twilio"))
    second = await poller.once()
    assert second.polled == len(sids)
    assert len(fake.requests("twilio")) - sent_before == len(sids)
    state = metrics.registry.get_sample_value("dlrecon_poll_breaker_state", {"provider": "twilio"})
    assert state == 0.0  # closed


async def _sleep(seconds: float) -> None:
    import asyncio

    await asyncio.sleep(seconds)


async def test_credentials_are_never_stored(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    settings = poll_settings(fake.url, velip_voice={"list_min": 5})
    await register(
        conn,
        settings,
        {"provider": "twilio", "provider_message_ids": ["SM1"]},
        {"provider": "vonage", "provider_message_ids": ["ABC"]},
        {"provider": "yellowpush", "client_ref": "y-2", "submit_http_status": 200},
        {
            "provider": "velip_voice",
            "channel": "voice",
            "submit_response": {"return": {"status": "OK", "status_code": "0", "cd_id": "db_1"}},
        },
        {"provider": "infobip", "provider_message_ids": ["IB-1"]},
    )
    fake.twilio["SM1"] = TwilioMessage(status="delivered")
    fake.fail("/v2/reports/records", 1, status=500)  # a failed attempt is logged too
    await Poller(pool, settings, Metrics()).once()

    stored = await conn.fetch("SELECT * FROM inbox")
    logged = await conn.fetch("SELECT * FROM polls")
    assert {r["provider_key"] for r in stored} == {
        "twilio",
        "vonage",
        "yellowpush",
        "velip_voice",
        "infobip",
    }
    # every request was authenticated (the fake refuses others) ...
    assert all(s.authorization for s in fake.requests())
    # ... and no credential reached the database, in any column
    text = repr([dict(r) for r in stored]) + repr([dict(r) for r in logged])
    for name, value in POLL_SECRETS.items():
        assert value not in text, name


async def test_a_restart_does_not_poll_everything_again(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    settings = poll_settings(fake.url)
    sids = [f"SM{n:032d}" for n in range(5)]
    for sid in sids:
        fake.twilio[sid] = TwilioMessage(status="sent")
    await register(
        conn, settings, *({"provider": "twilio", "provider_message_ids": [s]} for s in sids)
    )
    await Poller(pool, settings, Metrics()).once()
    assert len(fake.requests("twilio")) == len(sids)
    # a new poller (a restarted process) reads the schedule: nothing is due for a minute
    again = await Poller(pool, settings, Metrics()).once()
    assert again.polled == 0 and len(fake.requests("twilio")) == len(sids)
    rows = await conn.fetch(
        "SELECT attempts, next_poll_at - last_polled_at AS wait FROM poll_schedule"
    )
    assert {r["attempts"] for r in rows} == {1}
    # the first step of the schedule (60 s), with up to 10% jitter either way
    assert all(54 <= r["wait"].total_seconds() <= 66 for r in rows)


async def test_retry_after_pauses_the_whole_key(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    # no retries: the message that got the 429 waits for its next poll, and the key's other
    # message waits out the pause before it is asked about (a lower bound: slowness only adds)
    settings = poll_settings(fake.url, twilio={"retries": 0, "max_in_flight": 1})
    for sid in ("SM1", "SM2"):
        fake.twilio[sid] = TwilioMessage(status="sent")
    await register(
        conn,
        settings,
        *({"provider": "twilio", "provider_message_ids": [s]} for s in ("SM1", "SM2")),
    )
    fake.fail("twilio", 1, status=429, retry_after="1")
    summary = await Poller(pool, settings, Metrics()).once()
    first, second = fake.requests("twilio")
    assert second.at - first.at >= 0.95
    assert summary.failed == {"rate_limited": 1} and summary.responses == 1
