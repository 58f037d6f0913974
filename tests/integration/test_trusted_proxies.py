"""`allow_ips` behind a proxy: X-Forwarded-For is read only from `server.trusted_proxies`."""

from __future__ import annotations

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from receiver.settings import Settings
from tests.support import make_settings

PARAMS = {"messageId": "XFF1", "status": "delivered"}


@pytest.fixture
def settings() -> Settings:
    # the test client connects from 127.0.0.1: here, the proxy
    return make_settings(
        {"fenced": {"adapter": "geniq", "allow_ips": ["203.0.113.0/24"]}},
        server={"trusted_proxies": ["127.0.0.0/8", "::1/128", "10.0.0.0/8"]},
    )


async def test_client_address_from_a_trusted_proxy(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    allowed = {"X-Forwarded-For": "203.0.113.9"}
    assert (await client.get("/v1/callbacks/fenced", params=PARAMS, headers=allowed)).status == 200
    # a client-supplied entry on the left does not help: the nearest untrusted hop decides
    spoofed = {"X-Forwarded-For": "203.0.113.9, 198.51.100.7"}
    assert (await client.get("/v1/callbacks/fenced", params=PARAMS, headers=spoofed)).status == 401
    # hops through other trusted proxies are skipped
    chained = {"X-Forwarded-For": "203.0.113.9, 10.1.2.3"}
    assert (await client.get("/v1/callbacks/fenced", params=PARAMS, headers=chained)).status == 200
    garbage = {"X-Forwarded-For": "not-an-address"}
    assert (await client.get("/v1/callbacks/fenced", params=PARAMS, headers=garbage)).status == 401
    # no header: the proxy's own address, which is not allowed here
    assert (await client.get("/v1/callbacks/fenced", params=PARAMS)).status == 401
    rows = await conn.fetch("SELECT remote_addr::text AS client, headers FROM inbox ORDER BY id")
    # the inbox keeps the address allow_ips checked (the client's), and the header as received
    assert [(r["client"].split("/")[0], r["headers"]["x-forwarded-for"]) for r in rows] == [
        ("203.0.113.9", "203.0.113.9"),
        ("203.0.113.9", "203.0.113.9, 10.1.2.3"),
    ]
