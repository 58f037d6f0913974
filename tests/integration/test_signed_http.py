"""Issue 15's schemes through the HTTP path with SDK-signed requests: Svix, Twilio HMAC-SHA256
and Twilio JSON callbacks (`bodySHA256`) on a `public_url` with a query of its own. Forged and
stale requests are refused (401), or held by a key set to quarantine."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest
import yarl
from aiohttp.test_utils import TestClient

from receiver.settings import Settings
from tests.support import eventually, make_settings, sdk_signing

TOKEN = "twilio-auth-token"
SHARED_KEY = "twilio-shared-key-secret"
PATH_TOKEN = "twilio-path-token-long-random"
PUBLIC = f"https://dlr.example.com/v1/callbacks/twilio_tok?token={PATH_TOKEN}"
SHA256 = {"X-Twilio-Webhooks-Signature-Settings": "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"}


@pytest.fixture
def settings() -> Settings:
    twilio = {
        "adapter": "twilio",
        "signing_secrets": [TOKEN, SHARED_KEY],
        "public_url": PUBLIC,
        "path_token": PATH_TOKEN,
    }
    svix = {
        "adapter": "generic",
        "scheme": "svix",
        "signing_secrets": [sdk_signing.SW_SECRET],
        "status_map": {"delivered": "delivered"},
    }
    return make_settings(
        {
            "twilio_tok": twilio,
            "twilio_held": {**twilio, "verify": "quarantine"},
            "svix": svix,
            "svix_held": {**svix, "verify": "quarantine"},
        }
    )


async def inbox(conn: asyncpg.Connection) -> list[tuple[Any, ...]]:
    rows = await conn.fetch("SELECT provider_key, state, verification FROM inbox ORDER BY id")
    return [tuple(r) for r in rows]


async def test_svix_signed_by_its_sdk(client: TestClient, conn: asyncpg.Connection) -> None:
    body = json.dumps({"id": "SVX-1", "status": "delivered"}).encode()
    fresh = {**sdk_signing.svix_headers(body, int(time.time())), "Content-Type": "application/json"}
    assert (await client.post("/v1/callbacks/svix", data=body, headers=fresh)).status == 200

    async def delivered() -> str | None:
        return await conn.fetchval("SELECT status FROM events WHERE provider_message_id = 'SVX-1'")

    assert await eventually(delivered) == "delivered"
    forged = body.replace(b"SVX-1", b"SVX-2")
    assert (await client.post("/v1/callbacks/svix", data=forged, headers=fresh)).status == 401
    stale = {
        **sdk_signing.svix_headers(body, int(time.time()) - 600),
        "Content-Type": "application/json",
    }
    response = await client.post("/v1/callbacks/svix", data=body, headers=stale)
    assert response.status == 401 and "older than" in (await response.json())["error"]["message"]
    assert (await client.post("/v1/callbacks/svix_held", data=body, headers=stale)).status == 200
    assert await inbox(conn) == [("svix", "processed", "verified"), ("svix_held", "held", "failed")]


def form_callback(algorithm: str | None, secret: str) -> tuple[bytes, dict[str, str]]:
    params = {"MessageSid": "SMab12", "MessageStatus": "delivered", "To": "whatsapp:+15005550006"}
    signature = sdk_signing.twilio_signature(secret, PUBLIC, params, algorithm)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    return urlencode(params).encode(), {**headers, **(SHA256 if algorithm else {})}


async def test_twilio_hmac_sha256_and_sha1(client: TestClient, conn: asyncpg.Connection) -> None:
    path = f"/v1/callbacks/twilio_tok?token={PATH_TOKEN}"
    body, headers = form_callback("HMAC_SHA256", SHARED_KEY)
    assert (await client.post(path, data=body, headers=headers)).status == 200
    body, headers = form_callback(None, TOKEN)
    assert (await client.post(path, data=body, headers=headers)).status == 200
    # a SHA-256 signature whose settings header was removed is checked as SHA-1: refused
    body, headers = form_callback("HMAC_SHA256", SHARED_KEY)
    del headers["X-Twilio-Webhooks-Signature-Settings"]
    assert (await client.post(path, data=body, headers=headers)).status == 401
    forged = body.replace(b"delivered", b"undelivered")
    _, good = form_callback("HMAC_SHA256", SHARED_KEY)
    assert (await client.post(path, data=forged, headers=good)).status == 401
    held = f"/v1/callbacks/twilio_held?token={PATH_TOKEN}"
    assert (await client.post(held, data=forged, headers=good)).status == 200
    assert [r[0] for r in await inbox(conn)] == ["twilio_tok", "twilio_tok", "twilio_held"]


async def test_twilio_json_callback_on_a_public_url_with_a_query(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    """Issue 15: Twilio calls `…?token=X&bodySHA256=H` and signs that whole URL."""
    body = json.dumps({"sid": "SMjs01", "status": "delivered", "to": "+15005550006"}).encode()
    query = f"token={PATH_TOKEN}&bodySHA256={hashlib.sha256(body).hexdigest()}"
    signature = sdk_signing.twilio_json_signature(TOKEN, f"{PUBLIC.split('?')[0]}?{query}", body)
    headers = {"Content-Type": "application/json", "X-Twilio-Signature": signature}
    path = yarl.URL(f"/v1/callbacks/twilio_tok?{query}", encoded=True)
    assert (await client.post(path, data=body, headers=headers)).status == 200

    async def delivered() -> str | None:
        return await conn.fetchval("SELECT status FROM events WHERE provider_message_id = 'SMjs01'")

    assert await eventually(delivered) == "delivered"
    # the body hash is checked: a changed body with the same URL and signature is refused
    changed = body.replace(b"delivered", b"failed!!!")
    response = await client.post(path, data=changed, headers=headers)
    assert response.status == 401
    assert "bodySHA256" in (await response.json())["error"]["message"]
