"""Callbacks through the real HTTP path into the inbox, the processor, and matching."""

from __future__ import annotations

import asyncpg
from aiohttp.test_utils import TestClient

from tests.support import SECRETS, auth, eventually

GENIQ_IDS = ["43BC206B4610B25F41E7C3E050035473", "43BC206B4610B25F41E7C3E050035474"]


def geniq_report(
    message_id: str, status: str, reason: str = "0", minute: int = 31
) -> dict[str, str]:
    return {
        "messageId": message_id,
        "channel": "sms",
        "recipient": "6591234567",
        "status": status,
        "reasonCode": reason,
        "messageTimestamp": "2017-01-03T14:30:00+08:00",
        "operatorTimestamp": f"2017-01-03T14:{minute:02d}:00+08:00",
    }


def geniq_message(
    client_ref: str = "order-42", key: str = "geniq", ids: list[str] | None = None
) -> dict:
    return {
        "provider": key,
        "client_ref": client_ref,
        "destination": "+6591234567",
        "value": "0.0500",
        "currency": "SGD",
        "submit_http_status": 200,
        "submit_response": {
            "reference": "r1",
            "responseCode": "0",
            "responseMessage": "Success",
            "messageIds": ids or GENIQ_IDS,
        },
    }


async def send(client: TestClient, key: str, params: dict[str, str], **extra: str) -> int:
    query = {**params, **extra}
    if key == "geniq":
        query["token"] = SECRETS["geniq_token"]
    response = await client.get(f"/v1/callbacks/{key}", params=query)
    return response.status


async def message_status(client: TestClient, client_ref: str) -> dict | None:
    response = await client.get(
        "/v1/messages", params={"client_ref": client_ref}, headers=auth("read")
    )
    messages = (await response.json())["messages"]
    return messages[0] if messages else None


async def test_callback_is_in_the_inbox_when_acknowledged(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    assert await send(client, "geniq", geniq_report(GENIQ_IDS[0], "delivered")) == 200
    row = await conn.fetchrow("SELECT * FROM inbox")
    assert row["provider_key"] == "geniq"
    assert row["verification"] == "verified"
    assert SECRETS["geniq_token"] not in row["query"]  # the path token is stored redacted
    assert "messageId=43BC206B4610B25F41E7C3E050035473" in row["query"]


async def test_failed_verification_is_401_and_not_stored(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    response = await client.get("/v1/callbacks/geniq", params={"token": "wrong", "messageId": "x"})
    assert response.status == 401
    assert await conn.fetchval("SELECT count(*) FROM inbox") == 0


async def test_quarantine_mode_holds_until_replayed(
    client: TestClient, conn: asyncpg.Connection, settings, database_url
) -> None:
    from receiver import processor
    from receiver.db import inbox as inbox_store
    from receiver.db import pool as db_pool
    from receiver.metrics import Metrics

    assert await send(client, "held", geniq_report("AA01", "delivered"), token="bad") == 200
    row = await conn.fetchrow("SELECT * FROM inbox")
    assert (row["state"], row["verification"]) == ("held", "failed")
    assert "path token" in row["verification_reason"]
    await client.post(
        "/v1/messages", json=geniq_message("held-1", "held", ["AA01"]), headers=auth("send")
    )
    assert await conn.fetchval("SELECT count(*) FROM events WHERE source = 'callback'") == 0

    released = await inbox_store.release(conn, states=["held", "quarantined"])
    assert released == 1
    pool = await db_pool.create(database_url, min_size=1, max_size=2, timeout=5)
    try:
        await processor.drain(pool, settings, Metrics())
    finally:
        await pool.close()
    assert (await message_status(client, "held-1"))["status"] == "delivered"


async def test_unparseable_body_is_quarantined_and_others_proceed(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    bad = await client.post(
        "/v1/callbacks/open", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert bad.status == 200
    assert await send(client, "open", geniq_report("BB01", "delivered")) == 200

    async def settled() -> bool:
        states = {r["state"] for r in await conn.fetch("SELECT state FROM inbox")}
        return states == {"quarantined", "processed"}

    assert await eventually(settled)
    reason = await conn.fetchval("SELECT state_reason FROM inbox WHERE state = 'quarantined'")
    assert "JSON" in reason
    metrics = await (await client.get("/metrics")).text()
    assert 'dlrecon_quarantined_total{provider="open"} 1.0' in metrics


async def test_duplicates_make_one_event(client: TestClient, conn: asyncpg.Connection) -> None:
    for _ in range(3):
        assert await send(client, "open", geniq_report("CC01", "delivered")) == 200

    async def processed() -> bool:
        return await conn.fetchval("SELECT count(*) FROM inbox WHERE state = 'processed'") == 3

    assert await eventually(processed)
    assert await conn.fetchval("SELECT count(*) FROM events") == 1


async def test_orphans_match_when_the_message_arrives_and_parts_roll_up(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    assert await send(client, "geniq", geniq_report(GENIQ_IDS[0], "delivered")) == 200

    async def orphan() -> bool:
        return await conn.fetchval("SELECT count(*) FROM events WHERE message_id IS NULL") == 1

    assert await eventually(orphan)
    response = await client.post("/v1/messages", json=geniq_message(), headers=auth("send"))
    assert (await response.json())["created"] == 1
    view = await message_status(client, "order-42")
    # part 1 delivered, part 2 only accepted: the message is as far as its slowest part
    assert view["status"] == "accepted" and not view["final"]
    assert [e["source"] for e in view["events"]].count("callback") == 1

    assert await send(client, "geniq", geniq_report(GENIQ_IDS[1], "delivered", minute=32)) == 200

    async def delivered() -> bool:
        v = await message_status(client, "order-42")
        return v["status"] == "delivered"

    assert await eventually(delivered)


async def test_one_failed_part_fails_the_message(client: TestClient) -> None:
    await client.post("/v1/messages", json=geniq_message(), headers=auth("send"))
    await send(client, "geniq", geniq_report(GENIQ_IDS[0], "delivered"))
    await send(client, "geniq", geniq_report(GENIQ_IDS[1], "undeliverable", reason="5"))

    async def failed() -> dict | None:
        v = await message_status(client, "order-42")
        return v if v["status"] == "failed" else None

    view = await eventually(failed)
    assert view and view["final"] and view["error"]["code"] == "5"
    assert view["error"]["class"] == "recipient"
    assert not view["conflict"]


async def test_contradictions_are_kept_and_flagged(client: TestClient) -> None:
    await client.post("/v1/messages", json=geniq_message(ids=["DD01"]), headers=auth("send"))
    await send(client, "geniq", geniq_report("DD01", "delivered", minute=31))
    await send(client, "geniq", geniq_report("DD01", "undeliverable", reason="5", minute=35))

    async def conflict() -> dict | None:
        v = await message_status(client, "order-42")
        return v if v["conflict"] else None

    view = await eventually(conflict)
    assert view is not None
    assert view["status"] == "failed"  # same rank: the later provider time wins
    assert {e["status"] for e in view["events"]} >= {"delivered", "failed"}


async def test_registration_is_idempotent_with_per_item_errors(client: TestClient) -> None:
    first = await client.post("/v1/messages", json=geniq_message(), headers=auth("send"))
    body = await first.json()
    message_id = body["results"][0]["message_id"]
    ndjson = "\n".join(
        [
            '{"provider": "geniq", "client_ref": "order-42"}',
            "{broken",
            '{"provider": "geniq", "provider_message_ids": ["43BC206B4610B25F41E7C3E050035474"]}',
            '{"provider": "geniq", "value": "0.05"}',
            '{"provider": "geniq", "client_ref": "new-one", "value": "1.20", "currency": "SGD"}',
        ]
    )
    second = await client.post(
        "/v1/messages",
        data=ndjson,
        headers={**auth("send"), "Content-Type": "application/x-ndjson"},
    )
    assert second.status == 200
    results = (await second.json())["results"]
    assert results[0] == {"index": 0, "message_id": message_id, "created": False}
    assert "line 2" in results[1]["error"]
    assert results[2]["message_id"] == message_id and results[2]["created"] is False
    assert "currency is required" in results[3]["error"]
    assert results[4]["created"] is True


async def test_lookup_by_provider_id_and_by_id(client: TestClient) -> None:
    created = await (
        await client.post("/v1/messages", json=geniq_message(), headers=auth("send"))
    ).json()
    message_id = created["results"][0]["message_id"]
    found = await client.get(
        "/v1/messages",
        params={"provider": "geniq", "provider_message_id": GENIQ_IDS[1].lower()},
        headers=auth("read"),
    )
    messages = (await found.json())["messages"]
    assert [m["id"] for m in messages] == [message_id]
    one = await (await client.get(f"/v1/messages/{message_id}", headers=auth("read"))).json()
    assert one["value"] == "0.0500" and one["currency"] == "SGD"
    assert one["events"][0]["source"] == "submit"
    assert (
        await client.get("/v1/messages/99999999999999999999", headers=auth("read"))
    ).status == 404


async def test_provider_id_of_another_client_ref_is_a_conflict(client: TestClient) -> None:
    first = await (
        await client.post("/v1/messages", json=geniq_message("order-1"), headers=auth("send"))
    ).json()
    second = await client.post("/v1/messages", json=geniq_message("order-2"), headers=auth("send"))
    assert second.status == 400
    [result] = (await second.json())["results"]
    assert "already registered to message" in result["error"]
    assert str(first["results"][0]["message_id"]) in result["error"]
    assert await message_status(client, "order-2") is None


async def test_query_is_stored_as_received(client: TestClient, conn: asyncpg.Connection) -> None:
    response = await client.get(
        "/v1/callbacks/open?messageId=A%26B%20C&status=delivered&token=kept"
    )
    assert response.status == 200
    # no path token on this key: nothing to redact, and the encoding is the provider's own
    assert (
        await conn.fetchval("SELECT query FROM inbox")
        == "messageId=A%26B%20C&status=delivered&token=kept"
    )

    async def event_id() -> str | None:
        return await conn.fetchval("SELECT provider_message_id FROM events")

    assert await eventually(event_id) == "A&B C"


async def test_unmapped_codes_are_counted_on_metrics(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    """An event whose code no table maps is counted, by the event's flag (not by its text)."""
    assert await send(client, "open", geniq_report("UM01", "weird-new-status")) == 200
    assert await send(client, "open", geniq_report("UM02", "delivered")) == 200

    async def processed() -> bool:
        count = await conn.fetchval("SELECT count(*) FROM events WHERE source = 'callback'")
        return bool(count == 2)

    assert await eventually(processed)

    async def counted() -> str:  # the counters move just after the batch commits
        text = await (await client.get("/metrics")).text()
        return text if 'dlrecon_unmapped_codes_total{provider="open"} 1.0' in text else ""

    text = await eventually(counted)
    assert 'dlrecon_unmapped_codes_total{provider="open"} 1.0' in text
    assert 'dlrecon_events_total{provider="open",status="delivered"} 1.0' in text


async def test_provider_id_shared_inside_one_batch(client: TestClient) -> None:
    """Within one request, as across requests: an item whose provider id an earlier item of
    the batch carries is that message (no client ref of its own) or a conflict (another one)."""
    items = [
        {"provider": "open", "client_ref": "in-1", "provider_message_ids": ["SHARED1"]},
        {"provider": "open", "client_ref": "in-2", "provider_message_ids": ["SHARED1"]},
        {"provider": "open", "provider_message_ids": ["SHARED1"]},
    ]
    response = await client.post("/v1/messages", json=items, headers=auth("send"))
    results = (await response.json())["results"]
    first = results[0]["message_id"]
    assert first is not None and results[0]["created"]
    assert "already registered to message" in results[1]["error"]
    assert str(first) in results[1]["error"]
    assert await message_status(client, "in-2") is None
    assert results[2]["message_id"] == first and not results[2]["created"]
