"""Security: replayed and forged signatures refused, and every /v1 route's scope enforced
(found by walking the router, so a new route is covered without editing this file)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from dlrecon.app import build_app
from receiver.http import auth as http_auth
from receiver.settings import Scope, Settings
from tests.support import SECRETS, TOKENS, make_settings

SW_SECRET = "whsec_" + base64.b64encode(b"standard-webhooks-test-key-0123").decode()
TWILIO_URL = "https://dlr.example.com/v1/callbacks/twilio"


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        {
            "sw": {
                "adapter": "generic",
                "scheme": "standard-webhooks",
                "signing_secrets": [SW_SECRET],
            },
            "twilio": {"signing_secrets": [SECRETS["hellio"]], "public_url": TWILIO_URL},
        }
    )


async def inbox_count(conn: asyncpg.Connection) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM inbox"))


# ---- replayed and forged signatures -------------------------------------------------------

SW_BODY = json.dumps({"message_id": "SW1", "status": "delivered"}).encode()


def sw_headers(stamp: int, msg_id: str = "msg_1", body: bytes = SW_BODY) -> dict[str, str]:
    key = base64.b64decode(SW_SECRET.removeprefix("whsec_"))
    signed = f"{msg_id}.{stamp}.".encode() + body
    sig = base64.b64encode(hmac.new(key, signed, "sha256").digest()).decode()
    return {
        "Content-Type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": f"v1,{sig}",
    }


async def test_standard_webhooks_replay_and_forgery(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    now = int(time.time())
    ok = await client.post("/v1/callbacks/sw", data=SW_BODY, headers=sw_headers(now))
    assert ok.status == 200
    # the same, correctly signed request captured and replayed ten minutes later
    old = sw_headers(now - 600)
    assert (await client.post("/v1/callbacks/sw", data=SW_BODY, headers=old)).status == 401
    # signed for the future (a clock trick to extend a capture's life)
    future = sw_headers(now + 600)
    assert (await client.post("/v1/callbacks/sw", data=SW_BODY, headers=future)).status == 401
    # the old signature with a fresh timestamp pasted in: the signature covers the timestamp
    pasted = {**old, "webhook-timestamp": str(now)}
    assert (await client.post("/v1/callbacks/sw", data=SW_BODY, headers=pasted)).status == 401
    # a fresh signature moved to another body, or another message id
    other = SW_BODY.replace(b"delivered", b"failed")
    assert (
        await client.post("/v1/callbacks/sw", data=other, headers=sw_headers(now))
    ).status == 401
    moved = {**sw_headers(now), "webhook-id": "msg_2"}
    assert (await client.post("/v1/callbacks/sw", data=SW_BODY, headers=moved)).status == 401
    assert await inbox_count(conn) == 1


def hellio_v2(stamp: int, body: bytes, secret: str = SECRETS["hellio"]) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-Hellio-Signature": hmac.new(secret.encode(), body, hashlib.sha256).hexdigest(),
        "X-Hellio-Timestamp": str(stamp),
        "X-Hellio-Signature-V2": hmac.new(
            secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256
        ).hexdigest(),
    }


async def test_hellio_v2_replay_and_forgery(client: TestClient, conn: asyncpg.Connection) -> None:
    body = json.dumps({"provider_message_id": "H1", "status": "delivered"}).encode()
    now = int(time.time())
    assert (
        await client.post("/v1/callbacks/hellio", data=body, headers=hellio_v2(now, body))
    ).status == 200
    captured = hellio_v2(now - 3600, body)
    assert (await client.post("/v1/callbacks/hellio", data=body, headers=captured)).status == 401
    # the captured request with its timestamp header refreshed: V2 no longer matches
    refreshed = {**captured, "X-Hellio-Timestamp": str(now)}
    assert (await client.post("/v1/callbacks/hellio", data=body, headers=refreshed)).status == 401
    # signed with a secret that is not configured
    wrong = hellio_v2(now, body, secret="not-" + SECRETS["hellio"])
    assert (await client.post("/v1/callbacks/hellio", data=body, headers=wrong)).status == 401
    assert await inbox_count(conn) == 1


def twilio_signature(url: str, params: dict[str, str], secret: str = SECRETS["hellio"]) -> str:
    message = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(secret.encode(), message.encode(), "sha1").digest()).decode()


async def test_twilio_signature_for_another_url_is_refused(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    params = {"MessageSid": "SM1", "MessageStatus": "delivered", "AccountSid": "AC1"}
    body = urlencode(params).encode()
    form = {"Content-Type": "application/x-www-form-urlencoded"}

    async def post(signature: str) -> int:
        headers = {**form, "X-Twilio-Signature": signature}
        return (await client.post("/v1/callbacks/twilio", data=body, headers=headers)).status

    assert await post(twilio_signature(TWILIO_URL, params)) == 200
    # a genuine Twilio signature, but for somebody else's webhook URL (or another of ours)
    for url in (
        "https://evil.example.com/v1/callbacks/twilio",
        "https://dlr.example.com/v1/callbacks/other",
        TWILIO_URL + "?x=1",
        TWILIO_URL.replace("https", "http"),
    ):
        assert await post(twilio_signature(url, params)) == 401, url
    # the right URL, other parameters
    assert await post(twilio_signature(TWILIO_URL, {**params, "MessageStatus": "failed"})) == 401
    assert await inbox_count(conn) == 1


# ---- every /v1 route's scope --------------------------------------------------------------


def v1_routes() -> list[tuple[str, str, Any]]:
    app = build_app(make_settings(), "postgresql://unused/x")
    routes = []
    for route in app.router.routes():
        resource = route.resource
        if resource is None or route.method in ("HEAD", "*"):
            continue
        path = resource.canonical
        if path.startswith("/v1/") and not path.startswith("/v1/callbacks/"):
            routes.append((route.method, path, http_auth.required_scope(route.handler)))
    return routes


ROUTES = v1_routes()


def test_every_v1_route_needs_a_scope() -> None:
    assert ROUTES, "no /v1 routes found"
    for method, path, scope in ROUTES:
        assert scope in set(Scope), f"{method} {path} is not protected by a scope ({scope!r})"


def concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


@pytest.mark.parametrize(
    ("method", "path", "scope"), ROUTES, ids=[f"{m} {p}" for m, p, _ in ROUTES]
)
async def test_route_scope_is_enforced(
    client: TestClient, method: str, path: str, scope: Scope
) -> None:
    url = concrete(path)

    async def status(headers: dict[str, str]) -> int:
        response = await client.request(method, url, headers=headers, data=b"{}")
        if response.status in (401, 403):
            assert (await response.json())["error"]["code"]
        return response.status

    assert await status({}) == 401
    assert await status({"Authorization": "Bearer not-a-configured-token"}) == 401
    assert await status({"Authorization": f"Basic {TOKENS[str(scope)]}"}) == 401
    for name, token in TOKENS.items():
        allowed = name == str(scope) or name == "admin"
        got = await status({"Authorization": f"Bearer {token}"})
        if allowed:
            assert got not in (401, 403), f"{name} refused on {method} {path}"
        else:
            assert got == 403, f"{name} got {got} on {method} {path}"
