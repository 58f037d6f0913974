"""Done when: a voice message only GetCallStatus knows about reaches its final status and exact
cost through polling, against a fake Velip with a 429 in the middle and several pages."""

from __future__ import annotations

from decimal import Decimal

import asyncpg

from receiver.db import pool as db_pool
from receiver.metrics import Metrics
from receiver.poll.poller import Poller
from tests.integration.poll.support import poll_settings, process, register
from tests.support.poll_fakes import FakeProviders

ENVELOPE = {"return": {"status": "OK", "status_code": "0", "cd_id": ""}}


def voice(cd_id: str, ref: str) -> dict[str, object]:
    return {
        "provider": "velip_voice",
        "channel": "voice",
        "client_ref": ref,
        "submit_response": {"return": {**ENVELOPE["return"], "cd_id": cd_id}},
    }


async def test_voice_results_by_date_range_with_a_429_and_pages(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    settings = poll_settings(fake.url, velip_voice={"list_min": 2, "page_size": 2})
    ids = await register(
        conn,
        settings,
        voice("db1_101", "call-1"),
        voice("db1_102", "call-2"),
        voice("db1_103", "c3"),
    )
    assert [r["status"] for r in await conn.fetch("SELECT status FROM messages ORDER BY id")] == [
        "accepted"
    ] * 3
    # five calls in the range: two of other messages, three of ours (one failed: busy)
    fake.add_velip_call(cd_id="db1_099", ctid="other-1", cd_status="OK", value="0,100", dur="30")
    fake.add_velip_call(cd_id="db1_101", ctid="call-1", cd_status="OK", rate="0,050", value="0,050")
    fake.add_velip_call(cd_id="db1_100", ctid="other-2", cd_status="NOANSWER", value="0,000")
    fake.add_velip_call(cd_id="db1_102", ctid="call-2", cd_status="BUSY", value="0,000", dur="0")
    fake.add_velip_call(cd_id="db1_103", ctid="c3", cd_status="OK", value="1,235", dur="62")
    fake.fail("/api/v2/GetCallStatus.php", 2, status=429, retry_after="1")

    summary = await Poller(pool, settings, Metrics()).once()
    await process(pool, settings)

    rows = await conn.fetch(
        "SELECT id, status, final, error_code, error_class, provider_cost, provider_currency"
        " FROM messages ORDER BY id"
    )
    by_id = {r["id"]: r for r in rows}
    assert [by_id[i]["status"] for i in ids] == ["delivered", "failed", "delivered"]
    assert all(by_id[i]["final"] for i in ids)
    assert by_id[ids[1]]["error_code"] == "BUSY"
    # comma decimals become exact amounts
    assert by_id[ids[0]]["provider_cost"] == Decimal("0.050")
    assert by_id[ids[2]]["provider_cost"] == Decimal("1.235")
    assert {by_id[i]["provider_currency"] for i in ids} == {"BRL"}

    bodies = [s.body for s in fake.requests("/api/v2/GetCallStatus.php")]
    # page 1, page 2 refused with 429, page 2 again, page 3: the cursor moves on
    assert [b.get("last_id") for b in bodies] == [None, 2, 2, 4]
    assert all(b["maxreg"] == 2 for b in bodies)
    assert summary.responses == 3 and summary.polled == 3
    logged = await conn.fetch("SELECT kind, outcome, http_status FROM polls ORDER BY id")
    assert [(r["kind"], r["outcome"], r["http_status"]) for r in logged] == [
        ("list", "ok", 200),
        ("list", "rate_limited", 429),
        ("list", "ok", 200),
        ("list", "ok", 200),
    ]
    pages = await conn.fetch(
        "SELECT source, state, event_count FROM inbox WHERE source = 'poll' ORDER BY id"
    )
    assert [(p["state"], p["event_count"]) for p in pages] == [("processed", 2)] * 2 + [
        ("processed", 1)
    ]
    # answered: the next poll follows the schedule; final and priced: never polled again
    again = await Poller(pool, settings, Metrics()).once()
    assert again.polled == 0
    done = await conn.fetch("SELECT done_reason FROM poll_schedule ORDER BY message_id")
    assert [d["done_reason"] for d in done] == ["priced"] * 3


async def test_a_lookup_by_cd_id_when_few_messages_are_due(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    settings = poll_settings(fake.url, velip_voice={"list_min": 5})
    [message] = await register(conn, settings, voice("db1_7", "only-one"))
    fake.add_velip_call(cd_id="db1_7", ctid="only-one", cd_status="CHANUNAVAIL", value="0,000")

    await Poller(pool, settings, Metrics()).once()
    await process(pool, settings)

    row = await conn.fetchrow("SELECT status, error_code FROM messages WHERE id = $1", message)
    assert (row["status"], row["error_code"]) == ("failed", "CHANUNAVAIL")
    [seen] = fake.requests("/api/v2/GetCallStatus.php")
    assert seen.body == {"cd_id": "db1_7"}
    poll = await conn.fetchrow("SELECT kind, message_id FROM polls")
    assert (poll["kind"], poll["message_id"]) == ("lookup", message)
