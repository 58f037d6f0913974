"""Bad HTTP input against callbacks (every adapter, open and verifying keys) and the messages
API. Each gets a defined answer, never a 500, and the service stays healthy.

Callbacks: stored and acknowledged, then processed or quarantined with a reason (413 for the
oversized body, 401 from keys whose verification it cannot pass). API: 400 with a JSON error or
per-item errors (or 200/404 where the input is odd but valid).
"""

from __future__ import annotations

import asyncio
import io
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from receiver.settings import Settings
from tests.support import SECRETS, auth, eventually, make_settings

ADAPTERS = [
    "velip", "geniq", "hellio", "yellowpush", "generic", "twilio",
    "vonage", "meta", "gupshup", "infobip", "kannel", "jasmin",
]  # fmt: skip
# keys that verify: bad input cannot pass them, so 401 (never 500, never stored)
SIGNED = {
    "s_twilio": {
        "adapter": "twilio",
        "signing_secrets": [SECRETS["hellio"]],
        "public_url": "http://127.0.0.1/v1/callbacks/s_twilio",
    },
    "s_vonage": {"adapter": "vonage", "signing_secrets": [SECRETS["hellio"]]},
    "s_meta": {"adapter": "meta", "signing_secrets": [SECRETS["hellio"]]},
    "s_sw": {
        "adapter": "generic",
        "scheme": "standard-webhooks",
        "signing_secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    },
    "s_svix": {
        "adapter": "generic",
        "scheme": "svix",
        "signing_secrets": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    },
    **{
        f"s_{scheme}": {
            "adapter": "generic",
            "scheme": scheme,
            "signing_secrets": [SECRETS["hellio"]],
            "public_url": f"http://127.0.0.1/v1/callbacks/s_{scheme}",
        }
        for scheme in ("plivo", "messagebird", "bird")
    },
    "s_telnyx": {
        "adapter": "generic",
        "scheme": "telnyx",
        "public_keys": ["O2onvM62pC1io6jQKm8Nc2UyFXcd4kOmOsBIoYtZ2ik="],
    },
}


@pytest.fixture
def settings() -> Settings:
    providers: dict[str, Any] = {f"o_{a}": {"adapter": a, "verify": "off"} for a in ADAPTERS}
    providers.update(SIGNED)
    return make_settings(providers)


@dataclass
class Bad:
    name: str
    body: bytes
    content_type: str
    query: str = ""


SQL = "'; DROP TABLE inbox; -- \" \\ % _ $1 /* */"
UNI = "ü—🙂‮עברית漢字\u200b"
NESTED = b"[" * 100_000 + b"]" * 100_000
NESTED_OBJ = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
FIELDS = "&".join(f"f{i}={i}" for i in range(10_000)).encode()

CALLBACK_CASES = [
    Bad("truncated_json", b'{"messageId": "T1", "status": "deliv', "application/json"),
    Bad("json_as_text", b'{"messageId": "T2", "status": "delivered"}', "text/plain"),
    Bad("form_as_json", b"messageId=T3&status=delivered", "application/json"),
    Bad("invalid_utf8_json", b'{"messageId": "\xff\xfe", "status": "delivered"}', "application/json"),
    Bad("invalid_utf8_form", b"messageId=%FF%FE\xff&status=delivered", "application/x-www-form-urlencoded"),
    Bad("form_10000_fields", FIELDS + b"&messageId=T4&status=delivered", "application/x-www-form-urlencoded"),
    Bad("nested_json", NESTED, "application/json"),
    Bad("nested_object", NESTED_OBJ, "application/json"),
    Bad("nul_json", b'{"messageId": "A\\u0000B", "status": "deliv\\u0000ered", "k\\u0000": 1}', "application/json"),
    Bad("nul_raw", b"messageId=A\x00B&status=delivered\x00", "application/x-www-form-urlencoded"),
    Bad("nul_query", b"", "", "messageId=N%00Q&status=delivered&x%00=1"),
    Bad("invalid_utf8_query", b"", "", "messageId=%FF%FE&status=delivered"),
    Bad("sql_ids", json.dumps({"messageId": SQL, "status": "delivered"}).encode(), "application/json"),
    Bad("sql_query", b"", "", f"messageId={quote(SQL)}&status={quote(SQL)}"),
    Bad("unicode_ids", json.dumps({"messageId": UNI, "status": "delivered"}, ensure_ascii=False).encode(), "application/json"),
    Bad("empty", b"", "application/json"),
    Bad("binary", bytes(range(256)) * 4, "application/octet-stream"),
]  # fmt: skip


async def post(client: TestClient, path: str, bad: Bad, **headers: str) -> Any:
    if bad.content_type:
        headers["Content-Type"] = bad.content_type
    query = f"?{bad.query}" if bad.query else ""
    method = "POST" if bad.body or not bad.query else "GET"
    return await client.request(method, f"{path}{query}", data=bad.body, headers=headers)


async def healthy(client: TestClient) -> None:
    assert (await client.get("/readyz")).status == 200
    response = await client.get("/v1/callbacks/o_geniq?messageId=OK&status=delivered")
    assert response.status == 200


NUL_CASES = {"nul_json", "nul_raw", "nul_query"}


async def send_matrix(client: TestClient, cases: list[Bad]) -> int:
    """Every case to every adapter's open key (200) and to every verifying key (401)."""
    expected_rows = 0
    for bad in cases:
        for adapter in ADAPTERS:
            response = await post(client, f"/v1/callbacks/o_{adapter}", bad)
            assert response.status == 200, (bad.name, adapter, await response.text())
            expected_rows += 1
        for key in SIGNED:
            response = await post(client, f"/v1/callbacks/{key}", bad)
            assert response.status == 401, (bad.name, key, response.status)
            assert "error" in await response.json()
    return expected_rows


async def settled(conn: asyncpg.Connection, timeout: float) -> bool:
    async def check() -> bool:
        n = await conn.fetchval("SELECT count(*) FROM inbox WHERE state = 'pending'")
        return int(n) == 0

    return bool(await eventually(check, timeout=timeout))


async def test_callbacks_bad_input_matrix(client: TestClient, conn: asyncpg.Connection) -> None:
    cases = [c for c in CALLBACK_CASES if c.name not in NUL_CASES]
    expected_rows = await send_matrix(client, cases)
    assert int(await conn.fetchval("SELECT count(*) FROM inbox")) == expected_rows
    assert await settled(conn, 30), "the processor is stuck on bad input"
    rows = await conn.fetch("SELECT provider_key, state, state_reason FROM inbox")
    assert {r["state"] for r in rows} <= {"processed", "quarantined"}
    assert all(r["state_reason"] for r in rows if r["state"] == "quarantined")
    # SQL metacharacters and unicode ids are data: they come back verbatim
    ids = {r["raw_message_id"] for r in await conn.fetch("SELECT raw_message_id FROM events")}
    assert SQL in ids and UNI in ids
    assert int(await conn.fetchval("SELECT count(*) FROM inbox WHERE path LIKE '%o_geniq'")) > 0
    await healthy(client)


async def test_callbacks_with_nul_bytes_are_processed_or_quarantined(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    # acknowledged and stored verbatim: the receive path itself is fine
    for bad in (c for c in CALLBACK_CASES if c.name in NUL_CASES):
        assert (await post(client, "/v1/callbacks/o_geniq", bad)).status == 200
    assert int(await conn.fetchval("SELECT count(*) FROM inbox")) == 3
    await healthy(client)
    assert await settled(conn, 3), "the processor is stuck on a NUL byte"
    reasons = [
        r["state_reason"]
        for r in await conn.fetch("SELECT state_reason FROM inbox WHERE state = 'quarantined'")
    ]
    assert reasons and all(reason for reason in reasons), reasons
    # a good callback right after is processed: nothing is blocked
    response = await client.get(
        "/v1/callbacks/o_geniq", params={"messageId": "AFTER", "status": "delivered"}
    )
    assert response.status == 200
    assert await settled(conn, 4)


async def test_oversized_callback_is_413_and_not_stored(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    body = b"x" * (10 * 1024 * 1024)
    for key in ("o_geniq", "o_jasmin", "s_vonage"):
        response = await client.post(f"/v1/callbacks/{key}", data=io.BytesIO(body))
        assert response.status == 413
        assert (await response.json())["error"]["code"] == "too_large"

    # chunked, without a Content-Length
    async def chunks() -> Any:
        for _ in range(160):
            yield b"y" * 65536

    response = await client.post("/v1/callbacks/o_geniq", data=chunks())
    assert response.status == 413
    assert int(await conn.fetchval("SELECT count(*) FROM inbox")) == 0
    await healthy(client)


def message(**fields: Any) -> dict[str, Any]:
    return {"provider": "o_geniq", "provider_message_ids": ["P1"], **fields}


API_CASES = [
    Bad("truncated_json", b'{"provider": "o_geniq", "client_ref": "x', "application/json"),
    Bad("form", b"provider=o_geniq&client_ref=x", "application/x-www-form-urlencoded"),
    Bad("form_10000_fields", FIELDS, "application/x-www-form-urlencoded"),
    Bad("invalid_utf8", b'{"provider": "o_geniq", "client_ref": "\xff\xfe"}', "application/json"),
    Bad("nested_json", NESTED, "application/json"),
    Bad("nested_object", NESTED_OBJ, "application/json"),
    Bad("nul_raw", b'{"provider": "o_geniq", "client_ref": "a\x00b"}', "application/json"),
    Bad("nul_escaped", json.dumps(message(client_ref="a\u0000b", destination="\u0000")).encode(), "application/json"),
    Bad("nul_key", json.dumps(message(client_ref="nk", **{"k\u0000": 1})).encode(), "application/json"),
    Bad("nul_submit_response", json.dumps(message(client_ref="ns", submit_response={"e": "\u0000"})).encode(), "application/json"),
    Bad("nul_ndjson", b'{"provider": "o_geniq", "client_ref": "a\\u0000c"}\n{"provider": "o_geniq", "client_ref": "nd2"}', "application/x-ndjson"),
    Bad("not_object", b"[1, null, \"x\", []]", "application/json"),
    Bad("empty", b"", "application/json"),
    Bad("huge_number", b'{"provider": "o_geniq", "client_ref": "hn", "value": 1e999999, "segments": 1' + b"0" * 5000 + b"}", "application/json"),
    Bad("nan", b'{"provider": "o_geniq", "client_ref": "nan", "value": NaN}', "application/json"),
    Bad("binary", bytes(range(256)), "application/octet-stream"),
]  # fmt: skip


@pytest.mark.parametrize("bad", API_CASES, ids=lambda b: b.name)
async def test_register_bad_input(client: TestClient, bad: Bad) -> None:
    response = await post(client, "/v1/messages", bad, **auth("send"))
    assert response.status in (200, 400), (response.status, await response.text())
    body = await response.json()
    if "error" in body:
        assert response.status == 400 and body["error"]["message"]
    else:
        # per-item results; a 200 has at least one good item, a 400 none
        assert body["errors"] == sum(1 for r in body["results"] if "error" in r)
        assert (response.status == 400) == (body["errors"] == len(body["results"]))
    await healthy(client)


async def test_register_odd_but_valid_values_round_trip(client: TestClient) -> None:
    items = [
        message(client_ref=SQL, provider_message_ids=[SQL]),
        message(client_ref=UNI, provider_message_ids=[UNI], destination="+6591234567", text=UNI),
        message(client_ref="long-" + "x" * 100_000, provider_message_ids=["L" * 10_000]),
    ]
    response = await client.post("/v1/messages", json=items, headers=auth("send"))
    assert response.status == 200, await response.text()
    for ref in (SQL, UNI):
        found = await client.get("/v1/messages", params={"client_ref": ref}, headers=auth("read"))
        assert found.status == 200
        assert [m["client_ref"] for m in (await found.json())["messages"]] == [ref]
    big = (
        b"["
        + b",".join(
            [
                json.dumps(
                    message(client_ref=f"b{i}", provider_message_ids=[f"B{i}"], text="t" * 1000)
                ).encode()
                for i in range(10_000)
            ]
        )
        + b"]"
    )
    assert len(big) > 10 * 1024 * 1024
    response = await client.post(
        "/v1/messages",
        data=io.BytesIO(big),
        headers={**auth("send"), "Content-Type": "application/json"},
    )
    assert response.status == 200, await response.text()
    assert (await response.json())["created"] == 10_000
    await healthy(client)


LOOKUPS = [
    {"client_ref": "a\x00b"},
    {"provider_message_id": "\x00"},
    {"provider": "o_geniq\x00", "client_ref": "x"},
    {"client_ref": SQL},
    {"provider_message_id": SQL, "provider": SQL},
    {"client_ref": UNI},
    {"client_ref": "x" * 4000},
    {"client_ref": ""},
    {},
]


@pytest.mark.parametrize("params", LOOKUPS, ids=range(len(LOOKUPS)))
async def test_find_messages_bad_input(client: TestClient, params: dict[str, str]) -> None:
    response = await client.get("/v1/messages", params=params, headers=auth("read"))
    assert response.status in (200, 400), (response.status, await response.text())
    body = await response.json()
    assert ("messages" in body) if response.status == 200 else body["error"]["message"]
    await healthy(client)


@pytest.mark.parametrize(
    "raw", ["%FF%FE", "a%00b", "%C0%80", "%ED%A0%80", quote(SQL, safe=""), "x" * 4000], ids=range(6)
)
async def test_find_messages_raw_query(client: TestClient, raw: str) -> None:
    response = await client.get(f"/v1/messages?client_ref={raw}", headers=auth("read"))
    assert response.status in (200, 400), (response.status, await response.text())
    response = await client.get(f"/v1/messages/{raw}", headers=auth("read"))
    assert response.status == 404, (response.status, await response.text())
    await healthy(client)


async def raw_http(client: TestClient, request: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(request)
        await writer.drain()
        return await asyncio.wait_for(reader.read(65536), 10)
    finally:
        writer.close()


async def test_non_utf8_header_does_not_poison_its_batch(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    """A header the JSON column cannot hold verbatim must not fail the batch it shares."""
    bad = (
        b"GET /v1/callbacks/o_geniq?messageId=HDR1&status=delivered HTTP/1.1\r\n"
        b"Host: 127.0.0.1\r\nX-Odd: \xff\xfe\xed\xa0\x80 latin1 \xe9\r\nConnection: close\r\n\r\n"
    )
    good = [
        client.get("/v1/callbacks/o_geniq", params={"messageId": f"HDR{n}", "status": "sent"})
        for n in range(2, 12)
    ]
    answers = await asyncio.gather(raw_http(client, bad), *good)
    assert answers[0].startswith(b"HTTP/1.1 200"), answers[0][:200]
    assert [r.status for r in answers[1:]] == [200] * 10
    assert int(await conn.fetchval("SELECT count(*) FROM inbox")) == 11
    await healthy(client)


async def test_a_row_the_database_refuses_fails_alone(database_url: str) -> None:
    """Group commit: a row the database refuses (here a lone surrogate, which jsonb rejects)
    fails its own request only; the others of its batch are stored and acknowledged."""
    from datetime import UTC, datetime

    from receiver.db import pool as db_pool
    from receiver.db.inbox import NewInboxRow
    from receiver.errors import DatabaseUnavailable
    from receiver.inbox.writer import InboxWriter
    from receiver.metrics import Metrics
    from receiver.settings import InboxSettings

    def row(n: int, header: str) -> NewInboxRow:
        return NewInboxRow(
            provider_key="o_geniq", method="GET", path="/v1/callbacks/o_geniq",
            query=f"messageId=ISO{n}", headers={"x-odd": header}, body=b"",
            remote_addr="127.0.0.1", verification="unverified", verification_reason=None,
            received_at=datetime.now(UTC), state="pending",
        )  # fmt: skip

    pool = await db_pool.create(database_url, min_size=1, max_size=2, timeout=5)
    writer = InboxWriter(pool, InboxSettings(batch_delay_ms=50), Metrics())
    writer.start()
    try:
        results = await asyncio.gather(
            *(writer.append(row(n, "\udcff" if n == 3 else "ok")) for n in range(6)),
            return_exceptions=True,
        )
    finally:
        await writer.stop()
        await pool.close()
    assert isinstance(results[3], DatabaseUnavailable)
    assert all(isinstance(r, int) for i, r in enumerate(results) if i != 3), results


async def test_hellio_webhook_with_its_v2_headers_deleted_is_refused(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    """Issue 16.5, as an outsider does it over a raw socket: a captured Hellio webhook of any
    age, `X-Hellio-Timestamp` and `X-Hellio-Signature-V2` removed and the V1 signature kept,
    was stored as verified. Hellio keys require V2: it is refused and nothing is stored."""
    import hashlib
    import hmac as hmac_module

    body = json.dumps({"provider_message_id": "CAPTURED-1", "status": "delivered"}).encode()
    v1 = hmac_module.new(SECRETS["hellio"].encode(), body, hashlib.sha256).hexdigest()
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    writer.write(
        b"POST /v1/callbacks/hellio HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"X-Hellio-Signature: {v1}\r\nContent-Length: {len(body)}\r\n".encode()
        + b"Connection: close\r\n\r\n"
        + body
    )
    await writer.drain()
    status = (await reader.readline()).split(b" ")[1]
    writer.close()
    assert status == b"401"
    assert await conn.fetchval("SELECT count(*) FROM inbox") == 0
