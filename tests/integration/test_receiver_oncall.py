"""What the receiver records for on-call: refused callbacks counted per key and minute, new
events counted once (a replay is not a new callback), and the stored requests in a trace."""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from receiver import processor
from receiver.db import inbox as inbox_store
from receiver.db.pool import connection
from receiver.http import keys
from receiver.metrics import Metrics
from tests.integration.test_ingestion import GENIQ_IDS, geniq_message, geniq_report, send
from tests.support import SECRETS, auth, eventually


def _sample(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


async def test_refused_callbacks_are_counted_per_key_and_minute(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    for _ in range(3):
        response = await client.get("/v1/callbacks/geniq", params={"token": "wrong"})
        assert response.status == 401
    await client.app[keys.REFUSALS].flush()
    rows = await conn.fetch("SELECT provider_key, minute, refused FROM callback_refusals")
    assert sum(r["refused"] for r in rows) == 3
    assert {r["provider_key"] for r in rows} == {"geniq"}
    assert all(r["minute"].second == 0 and r["minute"].microsecond == 0 for r in rows)
    assert await conn.fetchval("SELECT count(*) FROM inbox") == 0  # never stored raw


async def test_a_replay_adds_no_new_events_to_the_counter(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    response = await client.post("/v1/messages", json=geniq_message(), headers=auth("send"))
    assert response.status == 200
    for status in ("sent", "delivered"):
        assert await send(client, "geniq", geniq_report(GENIQ_IDS[0], status)) == 200
    app = client.app
    pool = app[keys.POOL]
    await eventually(lambda: _pending_is_zero(conn))
    metrics = app[keys.METRICS]
    before = metrics.exposition().decode()
    new_before = _sample(before, "dlrecon_events_total", provider="geniq", status="delivered")
    assert new_before == 1

    async with connection(pool) as c:
        released = await inbox_store.release(c, states=["processed"])
    assert released == 2
    # the app's own processor runs too and may claim the released rows first: wait for
    # both to be done (counters move after the batch commits) rather than read once
    await processor.drain(pool, app[keys.SETTINGS], metrics)
    await eventually(lambda: _pending_is_zero(conn))

    async def duplicates_counted() -> bool:
        text = metrics.exposition().decode()
        return _sample(text, "dlrecon_duplicate_events_total", provider="geniq") >= 2

    await eventually(duplicates_counted)
    after = metrics.exposition().decode()
    assert _sample(after, "dlrecon_events_total", provider="geniq", status="delivered") == 1
    assert _sample(after, "dlrecon_events_total", provider="geniq", status="sent") == 1
    assert _sample(after, "dlrecon_duplicate_events_total", provider="geniq") == 2
    assert await conn.fetchval("SELECT count(*) FROM events WHERE source = 'callback'") == 2


async def _pending_is_zero(conn: asyncpg.Connection) -> bool:
    return bool(await conn.fetchval("SELECT count(*) = 0 FROM inbox WHERE state = 'pending'"))


async def test_the_trace_shows_the_stored_request_of_each_event(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    response = await client.post("/v1/messages", json=geniq_message(), headers=auth("send"))
    message_id = (await response.json())["results"][0]["message_id"]
    assert await send(client, "geniq", geniq_report(GENIQ_IDS[0], "delivered")) == 200
    await eventually(lambda: _pending_is_zero(conn))
    response = await client.get(f"/v1/messages/{message_id}", headers=auth("read"))
    trace = await response.json()
    callback_events = [e for e in trace["events"] if e["source"] == "callback"]
    assert len(callback_events) == 1
    (stored,) = trace["requests"]
    assert stored["id"] == callback_events[0]["inbox_id"]
    assert stored["method"] == "GET"
    assert stored["path"] == "/v1/callbacks/geniq"
    assert "messageId=" + GENIQ_IDS[0] in stored["query"]
    assert SECRETS["geniq_token"] not in stored["query"]  # redacted when stored
    assert stored["state"] == "processed"
    assert stored["body"] == "" and stored["body_bytes"] == 0
    assert trace["sections"] == {"findings": []}  # reconciliation's section: none found yet


def test_metrics_registry_has_the_duplicate_counter() -> None:
    names = {m.name for m in Metrics().registry.collect()}
    assert "dlrecon_duplicate_events" in names
