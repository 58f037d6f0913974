"""The on-call scenario: one provider key stops calling back and one gets slow, beside one
that is fine. The silent one shows `silent` in provider health while none of its messages has
passed its stuck threshold yet; once they have, both show in stuck, with the learned
threshold stated. `dlrecon stuck --format json` answers what `GET /v1/stuck` answers."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from click.testing import CliRunner

from dlrecon.cli import cli
from dlrecon.settings import Settings
from tests.support import auth, make_settings
from tests.support.traffic import sent, time_passes

KEYS = {
    "calm": {"adapter": "generic", "verify": "off"},
    "quiet": {"adapter": "generic", "verify": "off"},
    "sluggish": {"adapter": "generic", "verify": "off"},
}
MIN = timedelta(minutes=1)


@pytest.fixture
def settings() -> Settings:
    # usual figures and thresholds computed afresh at every request: the data are written
    # after the app starts, and time "passes" between two requests here
    return make_settings(KEYS, oncall={"thresholds_refresh": 0, "health": {"usual_refresh": 0}})


async def _history(conn: asyncpg.Connection) -> None:
    """A week of the usual (8 to 1 days ago): callbacks 20 s after sending, 2% after 40 min."""
    for key in KEYS:
        await sent(
            conn,
            key,
            start=timedelta(days=8),
            stop=timedelta(days=1),
            count=700,
            slow_every=50,
            slow_took=40 * MIN,
            tag="history",
        )
        # and the last day, as usual
        await sent(conn, key, start=timedelta(days=1), stop=60 * MIN, count=150, tag="day")


async def _last_hour(conn: asyncpg.Connection) -> None:
    await sent(conn, "calm", start=60 * MIN, count=360, tag="hour")
    # quiet: no callback for what it sent in the last 14 minutes
    await sent(conn, "quiet", start=60 * MIN, count=360, silent_since=14 * MIN, tag="hour")
    # sluggish: every second callback comes 50 minutes late
    await sent(
        conn, "sluggish", start=60 * MIN, count=360, slow_every=2, slow_took=50 * MIN, tag="hour"
    )


async def _health(client: TestClient, window: str) -> dict[str, dict]:
    response = await client.get(
        "/v1/providers/health", params={"window": window}, headers=auth("read")
    )
    assert response.status == 200, await response.text()
    return {p["provider"]: p for p in (await response.json())["providers"]}


async def _stuck(client: TestClient, **params: str) -> dict:
    response = await client.get("/v1/stuck", params=params, headers=auth("read"))
    assert response.status == 200, await response.text()
    return await response.json()


async def test_silent_before_stuck_then_both_stuck_with_the_learned_threshold(
    client: TestClient, conn: asyncpg.Connection, database_url: str
) -> None:
    await _history(conn)
    await _last_hour(conn)

    health = await _health(client, "15m")
    assert health["calm"]["state"] == "ok", health["calm"]
    assert health["quiet"]["state"] == "silent", health["quiet"]
    assert "usual 1.00" in health["quiet"]["reason"]
    assert health["sluggish"]["state"] == "slow", health["sluggish"]
    assert "still open" in health["sluggish"]["reason"]
    usual = health["quiet"]["usual"]
    assert abs(usual["callbacks_per_sent"] - 1.0) < 0.01 and usual["sent"] == 700

    stuck = await _stuck(client)
    quiet_now = [g for g in stuck["groups"] if g["provider"] == "quiet"]
    assert quiet_now == [], "quiet's messages have not passed the threshold yet"
    assert {g["provider"] for g in stuck["groups"]} <= {"sluggish"}

    await time_passes(conn, 45 * MIN)
    # meanwhile calm's last callbacks came, as usual 20 s after sending
    await conn.execute(
        "UPDATE messages SET status = 'delivered', final = true,"
        " status_at = submitted_at + interval '20 seconds'"
        " WHERE provider_key = 'calm' AND NOT final"
    )
    stuck = await _stuck(client)
    groups = {g["provider"]: g for g in stuck["groups"]}
    assert set(groups) == {"quiet", "sluggish"}, stuck["groups"]
    for key in ("quiet", "sluggish"):
        g = groups[key]
        assert g["threshold_source"] == "learned"
        assert g["samples"] >= 100
        assert f"of {g['samples']} messages" in g["why"]
    # quiet: the 99th percentile of its week (2% took 40 min); sluggish: its late callbacks
    # of the last hour (50 min) made its own 99th percentile longer
    assert groups["quiet"]["threshold"] == "40m"
    assert groups["sluggish"]["threshold"] == "50m"
    # quiet: the 84 messages of its last 14 minutes; sluggish: its late half older than 40 min
    assert groups["quiet"]["count"] == 84
    assert stuck["total"] == sum(g["count"] for g in stuck["groups"])
    assert sum(a["count"] for a in stuck["by_age"]) == stuck["total"]
    assert {m["provider"] for m in stuck["messages"]} == {"quiet", "sluggish"}
    stuck_ats = [m["stuck_at"] for m in stuck["messages"]]
    assert stuck_ats == sorted(stuck_ats, reverse=True)  # newest problems first

    # the command line answers the same, for the same instant
    api_answer = await _stuck(client)
    again = await _stuck(client, as_of=api_answer["as_of"])
    assert again == api_answer
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["stuck", "--format", "json", "--as-of", api_answer["as_of"]],
        env={"DATABASE_URL": database_url, "DLRECON_CONFIG": ""},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == api_answer


async def test_thresholds_kept_from_a_moment_ago_give_the_same_answer(
    conn: asyncpg.Connection,
) -> None:
    """The per-process cache of learned thresholds hands `dlrecon_stuck` explicit thresholds;
    the answer, sources and sample counts included, is the one it gives learning them itself."""
    from datetime import UTC, datetime

    from reconcile.oncall import stuck as stuck_module

    await _history(conn)
    await _last_hour(conn)
    await time_passes(conn, 45 * MIN)
    t = stuck_module.thresholds(make_settings(KEYS))
    now = datetime.now(UTC)
    direct = await stuck_module.stuck(conn, t, now=now, limit=1000)
    cache = stuck_module.ThresholdCache(timedelta(minutes=5))
    cached = await stuck_module.stuck(conn, t, now=now, limit=1000, cache=cache)
    assert cached == direct
    assert direct.total > 0


async def test_messages_registered_without_a_submit_time_count_as_sent_when_registered(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    """A sending system that gives no `submitted_at`: the same scenario, each message
    registered when it was sent. Health and the learned thresholds see the same traffic."""
    await _history(conn)
    await _last_hour(conn)
    submitted = await _health(client, "15m")
    await conn.execute("UPDATE messages SET registered_at = submitted_at, submitted_at = NULL")

    health = await _health(client, "15m")
    assert health["calm"]["state"] == "ok", health["calm"]
    assert health["quiet"]["state"] == "silent", health["quiet"]
    assert health["sluggish"]["state"] == "slow", health["sluggish"]
    for key in KEYS:
        # the same figures, but for a message that crossed the window's start in between
        assert abs(health[key]["figures"]["sent"] - submitted[key]["figures"]["sent"]) <= 1
        assert health[key]["figures"]["sent"] > 80
        assert health[key]["usual"]["sent"] == submitted[key]["usual"]["sent"] == 700

    await time_passes(conn, 45 * MIN)
    stuck = await _stuck(client)
    groups = {g["provider"]: g for g in stuck["groups"]}
    assert groups["quiet"]["threshold_source"] == "learned", groups["quiet"]
    assert groups["quiet"]["threshold"] == "40m"
    assert groups["quiet"]["count"] == 84


async def test_the_oldest_open_message_may_be_one_without_a_submit_time(
    conn: asyncpg.Connection,
) -> None:
    from reconcile.oncall import queries

    await sent(conn, "calm", start=10 * MIN, count=3, took=timedelta(hours=1), tag="submitted")
    await sent(conn, "quiet", start=10 * MIN, count=3, took=timedelta(hours=1), tag="submitted")
    # quiet: one more, registered 20 minutes ago without a submit time, still open
    await sent(conn, "quiet", start=20 * MIN, count=1, took=timedelta(hours=1), tag="unsubmitted")
    await conn.execute("UPDATE messages SET submitted_at = NULL WHERE client_ref LIKE '%unsub%'")
    unsubmitted = await conn.fetchrow(
        "SELECT id, registered_at FROM messages WHERE submitted_at IS NULL"
    )
    oldest = await queries.oldest_open(conn, ["calm", "quiet", "sluggish"])
    assert set(oldest) == {"calm", "quiet"}  # sluggish has no open message
    assert oldest["quiet"] == (unsubmitted["id"], unsubmitted["registered_at"])
    first_calm = await conn.fetchrow(
        "SELECT id, submitted_at FROM messages WHERE provider_key = 'calm' ORDER BY submitted_at"
        " LIMIT 1"
    )
    assert oldest["calm"] == (first_calm["id"], first_calm["submitted_at"])
