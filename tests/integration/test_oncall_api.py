"""Provider health's failing state, the inbox inspection API and CLI, and /metrics with the
on-call gauges."""

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
from receiver.http import keys
from tests.support import auth, eventually, make_settings
from tests.support.traffic import sent


@pytest.fixture
def settings() -> Settings:
    # the refresher inside the app (no role process in these tests), every second
    return make_settings(oncall={"processes": 0, "refresh_every": "1s"})


async def test_callbacks_failing_verification_make_a_key_failing(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    await sent(conn, "geniq", start=timedelta(minutes=10), count=30)
    for _ in range(8):
        assert (await client.get("/v1/callbacks/geniq", params={"token": "wrong"})).status == 401
    await client.app[keys.REFUSALS].flush()
    response = await client.get(
        "/v1/providers/health", params={"window": "15m", "provider": "geniq"}, headers=auth("read")
    )
    answer = await response.json()
    (geniq,) = answer["providers"]
    assert geniq["state"] == "failing"
    assert geniq["figures"]["verification_failures"] == 8
    assert "failed verification" in geniq["reason"]
    assert geniq["figures"]["sent"] == 30


async def test_a_bad_window_is_a_clear_error(client: TestClient) -> None:
    response = await client.get(
        "/v1/providers/health", params={"window": "fortnight"}, headers=auth("read")
    )
    assert response.status == 400
    assert "window" in (await response.json())["error"]["message"]


async def test_held_callbacks_are_listed_shown_and_released(
    client: TestClient, conn: asyncpg.Connection, database_url: str
) -> None:
    for n in range(3):
        response = await client.get(
            "/v1/callbacks/held", params={"token": "wrong", "messageId": f"m{n}"}
        )
        assert response.status == 200  # verify = quarantine: stored, held, acknowledged
    listed = await (
        await client.get("/v1/inbox", params={"state": "held"}, headers=auth("read"))
    ).json()
    assert listed["counts"] == [{"provider": "held", "state": "held", "count": 3}]
    ids = [r["id"] for r in listed["requests"]]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert all(r["verification"] == "failed" for r in listed["requests"])
    page = await (await client.get("/v1/inbox", params={"limit": "2"}, headers=auth("read"))).json()
    rest = await (
        await client.get(
            "/v1/inbox", params={"limit": "2", "cursor": page["next_cursor"]}, headers=auth("read")
        )
    ).json()
    assert [r["id"] for r in page["requests"] + rest["requests"]] == ids
    one = await (await client.get(f"/v1/inbox/{ids[0]}", headers=auth("read"))).json()
    assert "messageId=m2" in one["query"] and "token=[redacted]" in one["query"]

    env = {"DATABASE_URL": database_url, "DLRECON_CONFIG": ""}
    runner = CliRunner()
    result = await asyncio.to_thread(
        runner.invoke, cli, ["inbox", "list", "--format", "json"], env=env, catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    assert [r["id"] for r in json.loads(result.output)["requests"]] == ids
    shown = await asyncio.to_thread(
        runner.invoke, cli, ["inbox", "show", str(ids[0])], env=env, catch_exceptions=False
    )
    assert shown.exit_code == 0 and "verification: failed" in shown.output
    shown_json = await asyncio.to_thread(
        runner.invoke, cli, ["inbox", "show", str(ids[0]), "--format", "json"], env=env
    )
    assert json.loads(shown_json.output) == one
    released = await asyncio.to_thread(
        runner.invoke, cli, ["inbox", "release", str(ids[0]), "999999"], env=env
    )
    assert released.exit_code == 1, released.output
    assert "released 1 inbox rows" in released.output

    # no longer held: it went through a processor (the command's, or the app's running here)
    async def done() -> str | None:
        state = await conn.fetchval("SELECT state FROM inbox WHERE id = $1", ids[0])
        return state if state in ("processed", "quarantined") else None

    assert await eventually(done)


async def test_metrics_show_the_on_call_gauges(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    await sent(conn, "open", start=timedelta(minutes=10), count=5)
    refreshed = None
    for _ in range(100):
        text = await (await client.get("/metrics")).text()
        if 'dlrecon_sent_messages{provider="open",window="15m"} 5.0' in text:
            refreshed = text
            break
        await asyncio.sleep(0.1)
    assert refreshed is not None, "the refresher did not set the gauges"
    assert 'dlrecon_provider_state{provider="open",state="ok",window="15m"} 1.0' in refreshed
    assert "dlrecon_oncall_refreshed_timestamp_seconds" in refreshed
    assert "dlrecon_database_up 1.0" in refreshed


async def test_the_warmer_computes_the_kept_figures_before_any_request(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    from reconcile.oncall.http import keys as oncall_keys

    usual = client.app[oncall_keys.USUAL]
    for _ in range(100):
        if usual.age() != float("inf"):
            break
        await asyncio.sleep(0.05)
    assert usual.age() < 60, "the usual figures were not computed in the background"


async def test_health_json_is_the_api_answer(
    client: TestClient, conn: asyncpg.Connection, database_url: str
) -> None:
    await sent(conn, "open", start=timedelta(minutes=10), stop=timedelta(minutes=2), count=25)
    api = await (
        await client.get(
            "/v1/providers/health",
            params={"window": "15m", "provider": "open"},
            headers=auth("read"),
        )
    ).json()
    config = database_url  # the CLI reads the same database, with the test's provider keys
    result = await asyncio.to_thread(
        CliRunner().invoke,
        cli,
        ["health", "--window", "15m", "--provider", "open", "--format", "json"],
        env={"DATABASE_URL": config, "DLRECON_CONFIG": ""},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    cli_answer = json.loads(result.output)
    # the same figures and verdict (computed a moment apart: as_of and figures_at differ)
    for answer in (api, cli_answer):
        answer.pop("as_of")
        for p in answer["providers"]:
            p.pop("figures_at")
    assert cli_answer == api
    assert api["providers"][0]["figures"]["sent"] == 25
