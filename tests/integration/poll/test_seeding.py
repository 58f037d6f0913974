"""Which messages are scheduled, and when: rounds look at what just crossed poll_after; a full
look over the horizon (at start, then every ten minutes) finds late registrations; messages
registered without a submit time are taken by their registration time; nothing past the horizon."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from receiver.db import pool as db_pool
from receiver.metrics import Metrics
from receiver.poll.poller import client_session
from receiver.poll.rounds import KeyPoller
from receiver.registration import register as registration
from tests.integration.poll.support import poll_settings
from tests.support.poll_fakes import FakeProviders


async def scheduled(conn: asyncpg.Connection) -> set[int]:
    return {r["message_id"] for r in await conn.fetch("SELECT message_id FROM poll_schedule")}


async def test_rounds_and_full_looks(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    settings = poll_settings(fake.url, twilio={"horizon": "2d"})
    now = datetime.now(UTC)

    async def add(sid: str, submitted: datetime | None) -> int:
        item = {"provider": "twilio", "provider_message_ids": [sid]}
        if submitted is not None:
            item["submitted_at"] = submitted.isoformat()
        [result] = await registration.register(conn, settings, [item])
        assert result.message_id is not None
        return result.message_id

    recent = await add("SM1", now - timedelta(minutes=1))
    old = await add("SM2", now - timedelta(hours=5))
    too_old = await add("SM3", now - timedelta(days=3))
    async with client_session(settings) as session:
        poller = KeyPoller("twilio", settings, pool, session, Metrics())
        await poller.round()  # the first round looks over the whole horizon
        assert await scheduled(conn) == {recent, old}

        late = await add("SM4", now - timedelta(hours=6))  # registered late
        unsent = await add("SM5", None)  # no submit time: by registration time, at once
        long_unsent = await add("SM7", None)
        await conn.execute(
            "UPDATE messages SET registered_at = now() - interval '1 hour' WHERE id = $1",
            long_unsent,
        )
        just = await add("SM6", now - timedelta(seconds=30))
        await poller.round()  # a round's short look: only what just crossed poll_after
        assert await scheduled(conn) == {recent, old, just, unsent}

        poller._full_seed_at = 0.0  # ten minutes later
        await poller.round()
        assert await scheduled(conn) == {recent, old, just, unsent, late, long_unsent}
    assert too_old not in await scheduled(conn)
