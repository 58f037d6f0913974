"""Callback verification through the HTTP path: signatures with rotation, Basic, IP allowlists."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from receiver.settings import Settings
from tests.support import SECRETS, make_settings

BODY = json.dumps(
    {
        "event": "message.delivered",
        "mobile_number": "+233241234567",
        "provider_message_id": "abc123",
        "status": "delivered",
        "timestamp": "2026-06-30T10:24:01+00:00",
    }
).encode()


def hellio_headers(secret: str, body: bytes = BODY, timestamp: int | None = None) -> dict[str, str]:
    headers = {
        "Content-Type": "application/json",
        "X-Hellio-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
    }
    if timestamp is not None:
        signed = f"{timestamp}.".encode() + body
        headers["X-Hellio-Timestamp"] = str(timestamp)
        headers["X-Hellio-Signature-V2"] = hmac.new(
            secret.encode(), signed, hashlib.sha256
        ).hexdigest()
    return headers


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        {
            "velip_voice": {
                "adapter": "velip",
                "basic_auth": {"user": "velip", "password": SECRETS["velip_password"]},
            },
            "fenced": {"adapter": "geniq", "allow_ips": ["203.0.113.0/24"]},
            "local": {"adapter": "geniq", "allow_ips": ["127.0.0.0/8", "::1/128"]},
            "hellio_v1": {
                "adapter": "hellio",
                "signing_secrets": ["old-" + SECRETS["hellio"], SECRETS["hellio"]],
                "signature_version": "v1",
            },
            "hellio_held": {
                "adapter": "hellio",
                "signing_secrets": [SECRETS["hellio"]],
                "verify": "quarantine",
            },
        }
    )


async def stored(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM inbox"))


async def test_hellio_signature_and_rotation(client: TestClient, conn: asyncpg.Connection) -> None:
    now = int(time.time())
    for secret in ("old-" + SECRETS["hellio"], SECRETS["hellio"]):  # either secret verifies
        response = await client.post(
            "/v1/callbacks/hellio", data=BODY, headers=hellio_headers(secret, timestamp=now)
        )
        assert response.status == 200
    wrong = await client.post(
        "/v1/callbacks/hellio", data=BODY, headers=hellio_headers("nope", timestamp=now)
    )
    assert wrong.status == 401
    tampered = BODY.replace(b"delivered", b"failed!!!")
    forged = await client.post(
        "/v1/callbacks/hellio",
        data=tampered,
        headers=hellio_headers(SECRETS["hellio"], timestamp=now),
    )
    assert forged.status == 401
    assert await stored(conn) == 2


def without_v2(headers: dict[str, str]) -> dict[str, str]:
    return {
        k: v for k, v in headers.items() if k not in ("X-Hellio-Timestamp", "X-Hellio-Signature-V2")
    }


async def test_hellio_replay_window_cannot_be_bypassed_by_deleting_v2(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    """Issue 16.5: a captured webhook of any age, V2 headers deleted, V1 kept, was stored as
    verified. Hellio keys require V2 by default; V1 alone is a documented opt-in."""
    captured = hellio_headers(SECRETS["hellio"], timestamp=int(time.time()) - 86400 * 30)
    stripped = without_v2(captured)
    refused = await client.post("/v1/callbacks/hellio", data=BODY, headers=stripped)
    assert refused.status == 401
    assert "X-Hellio-Signature-V2" in (await refused.json())["error"]["message"]
    assert (await client.post("/v1/callbacks/hellio", data=BODY, headers=captured)).status == 401
    # a key set to quarantine stores it held, never verified
    held = await client.post("/v1/callbacks/hellio_held", data=BODY, headers=stripped)
    assert held.status == 200
    row = await conn.fetchrow("SELECT state, verification, verification_reason FROM inbox")
    assert (row["state"], row["verification"]) == ("held", "failed")
    assert "X-Hellio-Signature-V2" in row["verification_reason"]
    # the explicit weaker fallback accepts V1 alone, and still refuses a stale V2
    v1_only = await client.post("/v1/callbacks/hellio_v1", data=BODY, headers=stripped)
    assert v1_only.status == 200
    assert (await client.post("/v1/callbacks/hellio_v1", data=BODY, headers=captured)).status == 401
    assert await stored(conn) == 2


async def test_hellio_v2_timestamp_tolerance(client: TestClient, conn: asyncpg.Connection) -> None:
    fresh = hellio_headers(SECRETS["hellio"], timestamp=int(time.time()))
    assert (await client.post("/v1/callbacks/hellio", data=BODY, headers=fresh)).status == 200
    replayed = hellio_headers(SECRETS["hellio"], timestamp=int(time.time()) - 600)
    response = await client.post("/v1/callbacks/hellio", data=BODY, headers=replayed)
    assert response.status == 401
    assert "signature" in (await response.json())["error"]["message"]
    assert await stored(conn) == 1


async def test_basic_auth(client: TestClient, conn: asyncpg.Connection) -> None:
    def basic(user: str, password: str) -> dict[str, str]:
        return {
            "Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        }

    body = {"calls": [{"cd_id": "1_2", "cd_status": "OK", "ctid": "c1"}]}
    ok = await client.post(
        "/v1/callbacks/velip_voice", json=body, headers=basic("velip", SECRETS["velip_password"])
    )
    assert ok.status == 200
    bad = await client.post("/v1/callbacks/velip_voice", json=body, headers=basic("velip", "guess"))
    assert bad.status == 401
    none = await client.post("/v1/callbacks/velip_voice", json=body)
    assert none.status == 401
    row = await conn.fetchrow("SELECT headers FROM inbox")
    assert row["headers"]["authorization"] == "[redacted]"
    assert await stored(conn) == 1


async def test_ip_allowlist(client: TestClient, conn: asyncpg.Connection) -> None:
    params = {"messageId": "IP1", "status": "delivered"}
    assert (await client.get("/v1/callbacks/fenced", params=params)).status == 401
    assert (await client.get("/v1/callbacks/local", params=params)).status == 200
    assert await stored(conn) == 1


async def test_x_forwarded_for_is_not_trusted_by_default(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    """Without `server.trusted_proxies` anyone could claim an allowed address in the header."""
    params = {"messageId": "IP2", "status": "delivered"}
    claimed = {"X-Forwarded-For": "203.0.113.9"}
    assert (await client.get("/v1/callbacks/fenced", params=params, headers=claimed)).status == 401
    assert await stored(conn) == 0


async def test_header_bytes_that_are_not_utf8_fail_verification_not_the_server(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    import asyncio

    async def raw(path: str, header: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
        writer.write(
            b"POST "
            + path.encode()
            + b" HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + header
            + b"\r\nContent-Length: "
            + str(len(BODY)).encode()
            + b"\r\nConnection: close\r\n\r\n"
            + BODY
        )
        await writer.drain()
        status = (await reader.readline()).split(b" ")[1]
        writer.close()
        return status

    assert await raw("/v1/callbacks/hellio", b"X-Hellio-Signature: \xff\xfe\xfd") == b"401"
    assert await raw("/v1/callbacks/velip_voice", b"Authorization: Basic \xff\xfe") == b"401"
    assert await raw("/v1/messages", b"Authorization: Bearer \xff\xfe") == b"401"
    assert await stored(conn) == 0
