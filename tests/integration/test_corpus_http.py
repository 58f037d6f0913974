"""Every corpus callback example through the real HTTP path: stored, processed, and turned into
exactly the events the adapter makes of the same request (the unit tests check what those
events mean). Signature vectors verify through HTTP too."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from receiver import adapters
from receiver.settings import Settings
from tests.support import eventually, make_settings
from tests.support.corpus_cases import CASES, JSON, SW_SECRET, Case, examples


@pytest.fixture
def settings() -> Settings:
    keys = ("twilio", "vonage", "meta", "gupshup", "infobip", "jasmin", "kannel")
    providers: dict[str, Any] = {k: {"verify": "off"} for k in keys}
    providers["vonage"]["currency"] = "EUR"
    providers["sw"] = {
        "adapter": "generic",
        "scheme": "standard-webhooks",
        "signing_secrets": [SW_SECRET],
        "timestamp_tolerance": 10**10,
        "id_field": "id",
        "status_field": "status",
        "status_map": {"delivered": "delivered"},
    }
    providers["sw_fresh"] = {**providers["sw"], "timestamp_tolerance": 300}
    providers["meta_app"] = {
        "adapter": "meta",
        "signing_secrets": ["app-secret"],
        "verify_token": "subscribe-me",
        "allow_ips": ["127.0.0.0/8"],
    }
    return make_settings(providers)


def comparable(events: list[Any]) -> list[tuple[Any, ...]]:
    return sorted(
        (
            e["provider_message_id"],
            e["raw_status"],
            e["status"],
            e["error_code"],
            str(e["cost"]) if e["cost"] is not None else None,
        )
        for e in events
    )


@pytest.mark.parametrize(("label", "case"), CASES, ids=[label for label, _ in CASES])
async def test_corpus_example_over_http(
    label: str, case: Case, client: TestClient, conn: asyncpg.Connection, settings: Settings
) -> None:
    adapter = adapters.get(settings.adapter_name(case.key))
    expected = adapter.parse_callback(case.raw(), settings.providers[case.key].options())
    assert expected, f"{label}: the adapter makes no event of this example"

    headers = {**case.headers, **({"Content-Type": case.content_type} if case.content_type else {})}
    response = await client.request(
        case.method,
        f"/v1/callbacks/{case.key}",
        params=case.query,
        data=case.body or None,
        headers=headers,
    )
    assert response.status == 200
    ack = adapter.acknowledge(case.raw(), {})
    assert await response.read() == ack.body

    async def processed() -> asyncpg.Record | None:
        row = await conn.fetchrow("SELECT id, state, state_reason FROM inbox")
        return row if row and row["state"] != "pending" else None

    row = await eventually(processed)
    assert row is not None and row["state"] == "processed", row
    stored = await conn.fetch("SELECT * FROM events WHERE inbox_id = $1", row["id"])
    wanted = [
        {
            "provider_message_id": e.provider_message_id,
            "raw_status": e.raw_status,
            "status": e.status.value,
            "error_code": e.error_code,
            "cost": e.cost,
        }
        for e in expected
    ]
    assert comparable(stored) == sorted(set(comparable(wanted)))


def test_jasmin_is_answered_as_it_requires() -> None:
    assert examples("jasmin")[0]["body_verbatim"] == "ACK/Jasmin"


async def test_meta_subscription_handshake(client: TestClient, conn: asyncpg.Connection) -> None:
    def handshake(key: str, token: str) -> Any:
        return client.get(
            f"/v1/callbacks/{key}",
            params={
                "hub.mode": "subscribe",
                "hub.verify_token": token,
                "hub.challenge": "1158201444",
            },
        )

    ok = await handshake("meta_app", "subscribe-me")
    assert ok.status == 200 and await ok.text() == "1158201444"
    assert (await handshake("meta_app", "wrong")).status == 403
    # a key without verify_token never completes a handshake
    assert (await handshake("meta", "")).status in (401, 403)
    assert await conn.fetchval("SELECT count(*) FROM inbox") == 0  # handshakes are not callbacks


async def test_meta_signature_over_http(client: TestClient, conn: asyncpg.Connection) -> None:
    body = examples("meta_whatsapp")[0]["body_verbatim"].encode()
    good = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    headers = {"Content-Type": JSON, "X-Hub-Signature-256": good}
    assert (await client.post("/v1/callbacks/meta_app", data=body, headers=headers)).status == 200
    headers["X-Hub-Signature-256"] = good[:-1] + ("0" if good[-1] != "0" else "1")
    assert (await client.post("/v1/callbacks/meta_app", data=body, headers=headers)).status == 401
    assert await conn.fetchval("SELECT count(*) FROM inbox") == 1


async def test_standard_webhooks_vector_verifies_over_http(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    vector = examples("standard_webhooks")[2]
    headers = {**vector["headers"], "Content-Type": JSON}
    body = vector["body_verbatim"].encode()
    assert (await client.post("/v1/callbacks/sw", data=body, headers=headers)).status == 200
    changed = body.replace(b"2432232314", b"2432232315")
    assert (await client.post("/v1/callbacks/sw", data=changed, headers=headers)).status == 401
    # the vector's timestamp is years old: a key with the usual tolerance refuses it (replay)
    assert (await client.post("/v1/callbacks/sw_fresh", data=body, headers=headers)).status == 401
    assert await conn.fetchval("SELECT count(*) FROM inbox") == 1


async def test_standard_webhooks_fresh_dlr_is_processed(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    body = json.dumps({"id": "SW-1", "status": "delivered"}).encode()
    msg_id, ts = "msg_1", str(int(time.time()))
    key = base64.b64decode(SW_SECRET.removeprefix("whsec_"))
    signature = base64.b64encode(
        hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()
    )
    headers = {
        "webhook-id": msg_id,
        "webhook-timestamp": ts,
        "Content-Type": JSON,
        "webhook-signature": f"v1,bm90IHRoaXMgb25l v1,{signature.decode()}",
    }
    assert (await client.post("/v1/callbacks/sw_fresh", data=body, headers=headers)).status == 200

    async def event() -> str | None:
        return await conn.fetchval("SELECT status FROM events WHERE provider_message_id = 'SW-1'")

    assert await eventually(event) == "delivered"


async def test_provider_reported_cost_reaches_the_message(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    """Vonage reports a price per part: it is stored on the event and summed on the message."""
    from tests.support import auth

    register = {
        "provider": "vonage",
        "client_ref": "cost-1",
        "provider_message_ids": ["0B00000127FDBC63", "0B00000127FDBC64"],
        "value": "0.10",
        "cost": "0.06",
        "currency": "EUR",
    }
    assert (await client.post("/v1/messages", json=register, headers=auth("send"))).status == 200
    body = json.loads(examples("vonage")[0]["body_verbatim"])
    for part_id in ("0B00000127FDBC63", "0B00000127FDBC64"):
        response = await client.post("/v1/callbacks/vonage", json={**body, "messageId": part_id})
        assert response.status == 200

    async def costed() -> asyncpg.Record | None:
        row = await conn.fetchrow(
            "SELECT status, provider_cost, provider_currency FROM messages WHERE client_ref = 'cost-1'"
        )
        return row if row["status"] == "delivered" else None

    row = await eventually(costed)
    assert row is not None
    assert (str(row["provider_cost"]), row["provider_currency"]) == ("0.06660000", "EUR")
    view = await (
        await client.get("/v1/messages", params={"client_ref": "cost-1"}, headers=auth("read"))
    ).json()
    assert view["messages"][0]["provider_cost"] == "0.06660000"
