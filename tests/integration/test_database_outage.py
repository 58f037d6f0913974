"""With the database stopped, callbacks get 503 (never 2xx); after it returns they are
accepted again without restarting dlrecon."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from dlrecon.app import build_app
from receiver.db.embedded import EmbeddedPostgres
from tests.support import make_settings


@pytest.fixture
async def outage_client(own_postgres: EmbeddedPostgres) -> AsyncIterator[TestClient]:
    settings = make_settings(
        inbox={"commit_timeout": 2, "batch_delay_ms": 1}, database={"connect_timeout": 1}
    )
    app = build_app(settings, own_postgres.url)
    async with TestClient(TestServer(app)) as client:
        yield client


async def post(client: TestClient, n: int) -> int:
    response = await client.get(
        "/v1/callbacks/open", params={"messageId": f"OUT{n}", "status": "delivered"}
    )
    return response.status


async def test_outage_gives_503_and_recovers(
    own_postgres: EmbeddedPostgres, outage_client: TestClient
) -> None:
    assert await post(outage_client, 0) == 200

    await asyncio.to_thread(own_postgres.stop)
    statuses = await asyncio.gather(*(post(outage_client, n) for n in range(1, 21)))
    assert set(statuses) == {503}
    response = await outage_client.get("/v1/callbacks/open", params={"messageId": "OUTx"})
    assert response.headers["Retry-After"] == "5"
    assert (await outage_client.get("/readyz")).status == 503

    await asyncio.to_thread(own_postgres.start)
    recovered = []
    for n in range(100, 160):
        recovered.append(await post(outage_client, n))
        if recovered[-1] == 200:
            break
        await asyncio.sleep(0.25)
    assert recovered[-1] == 200, recovered
    statuses = await asyncio.gather(*(post(outage_client, n) for n in range(200, 220)))
    assert set(statuses) == {200}

    conn = await asyncpg.connect(own_postgres.url)
    try:
        stored = {r["q"] for r in await conn.fetch("SELECT query AS q FROM inbox")}
    finally:
        await conn.close()
    # nothing refused during the outage was stored; everything acknowledged was
    assert not any(f"messageId=OUT{n}&" in q for q in stored for n in range(1, 21))
    assert any("messageId=OUT0&" in q for q in stored)
    assert sum(1 for q in stored for n in range(200, 220) if f"messageId=OUT{n}&" in q) == 20
