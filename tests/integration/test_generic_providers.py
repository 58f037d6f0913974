"""The worked configurations of docs/providers.md (Plivo, Telnyx, Sinch, Bird, MessageBird),
read from that file, with each provider's documented example callbacks (tests/data/generic/)
through the HTTP path, signed as the provider signs: stored verified, processed, and mapped
to the documented statuses and error classes. Forged and stale ones are refused (401), or held
by a key set to `verify = "quarantine"`."""

from __future__ import annotations

import json
import re
import time
import tomllib
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest
import yarl
from aiohttp.test_utils import TestClient

from receiver import adapters
from receiver.model import RawRequest
from receiver.settings import Settings
from tests.support import DATA, ROOT, eventually, make_settings, sdk_signing

PLIVO_TOKEN = "plivo-auth-token"
TELNYX = sdk_signing.TelnyxKey(seed=bytes(range(32)))
SINCH_TOKEN = "sinch-path-token-long-and-random"
BIRD_KEY = "bird-signing-key-with-32-bytes-or-more"
MB_KEY = "messagebird-signing-key-with-32-bytes-or-more"
PROVIDERS = ("plivo", "telnyx", "sinch", "bird", "messagebird")


def worked_configurations() -> dict[str, dict[str, Any]]:
    """The `[providers.*]` TOML blocks of docs/providers.md's worked configurations."""
    text = (ROOT / "docs" / "providers.md").read_text()
    found: dict[str, dict[str, Any]] = {}
    for block in re.findall(r"```toml\n(.*?)```", text, re.S):
        providers = tomllib.loads(block).get("providers", {})
        for key in PROVIDERS:
            if key in providers and providers[key].get("adapter") == "generic":
                found[key] = providers[key]
    assert set(found) == set(PROVIDERS), "a worked configuration is missing from providers.md"
    return found


def configured() -> dict[str, dict[str, Any]]:
    docs = worked_configurations()
    docs["plivo"]["signing_secrets"] = [PLIVO_TOKEN]
    docs["telnyx"]["public_keys"] = [TELNYX.public]
    docs["sinch"]["path_token"] = SINCH_TOKEN
    docs["bird"]["signing_secrets"] = [BIRD_KEY]
    docs["messagebird"]["signing_secrets"] = [MB_KEY]
    held = {f"{key}_held": {**docs[key], "verify": "quarantine"} for key in PROVIDERS}
    return {**docs, **held}


def examples(provider: str) -> list[dict[str, Any]]:
    data: dict[str, Any] = json.loads((DATA / "generic" / f"{provider}.json").read_text())
    return data["examples"]


CASES = [(p, i) for p in PROVIDERS for i in range(len(examples(p)))]


@pytest.fixture
def settings() -> Settings:
    return make_settings(configured())


def signed(
    provider: str, example: dict[str, Any], config: dict[str, Any], now: float
) -> tuple[str, dict[str, str], bytes]:
    """(query string, headers, body) of the example as the provider sends it."""
    body = example.get("body", "").encode()
    query = [tuple(pair) for pair in example.get("query", [])]
    if provider == "sinch":
        query.append(("token", SINCH_TOKEN))
    # as the HTTP client puts it on the wire (yarl normalises the encoding): that is signed
    query_string = yarl.URL("/?" + urlencode(query)).raw_query_string if query else ""
    url = config.get("public_url", "")
    full_url = f"{url}?{query_string}" if query_string else url
    headers = {"Content-Type": example["content_type"]} if example.get("content_type") else {}
    if provider == "plivo":
        params = dict(query) if example["method"] == "GET" else dict(_form(body))
        headers.update(
            sdk_signing.plivo_v3_headers(PLIVO_TOKEN, example["method"], full_url, params)
        )
    elif provider == "telnyx":
        headers.update(TELNYX.headers(body, int(now)))
    elif provider == "bird":
        headers.update(sdk_signing.bird_headers(BIRD_KEY, full_url, body, int(now)))
    elif provider == "messagebird":
        token = sdk_signing.messagebird_jwt(MB_KEY, full_url, body, now)
        headers["MessageBird-Signature-JWT"] = token
    return query_string, headers, body


def _form(body: bytes) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(body.decode(), keep_blank_values=True)


async def post(
    client: TestClient, key: str, method: str, query: str, headers: dict[str, str], body: bytes
) -> Any:
    path = f"/v1/callbacks/{key}" + (f"?{query}" if query else "")
    return await client.request(method, path, data=body or None, headers=headers)


@pytest.mark.parametrize(("provider", "index"), CASES, ids=[f"{p}-{i}" for p, i in CASES])
async def test_documented_example_through_http(
    provider: str, index: int, client: TestClient, conn: asyncpg.Connection, settings: Settings
) -> None:
    example = examples(provider)[index]
    config = settings.providers[provider]
    query, headers, body = signed(provider, example, configured()[provider], time.time())
    response = await post(client, provider, example["method"], query, headers, body)
    assert response.status == 200, await response.text()

    async def processed() -> asyncpg.Record | None:
        row = await conn.fetchrow("SELECT id, state, verification, query FROM inbox")
        return row if row and row["state"] != "pending" else None

    row = await eventually(processed)
    assert row is not None and (row["state"], row["verification"]) == ("processed", "verified"), row
    [event] = await conn.fetch("SELECT * FROM events WHERE inbox_id = $1", row["id"])
    want = example["expect"]
    assert (event["provider_message_id"], event["raw_status"], event["status"]) == (
        want["provider_message_id"],
        want["raw_status"],
        want["status"],
    )
    assert (event["error_code"], event["error_class"]) == (want["error_code"], want["error_class"])
    if "retryable" in want:
        assert event["retryable"] is want["retryable"]
    cost = Decimal(want["cost"]) if want["cost"] is not None else None
    assert (event["cost"], event["currency"]) == (cost, want["currency"])
    # what /metrics counts as an unmapped code (the table needs a row)
    raw = RawRequest(
        example["method"],
        f"/v1/callbacks/{provider}",
        tuple(_form(query.encode())),
        {},
        body,
        example.get("content_type", ""),
        None,
        query,
    )
    [parsed] = adapters.get("generic").parse_callback(raw, config.options())
    assert parsed.unmapped is want.get("unmapped", False)


@pytest.mark.parametrize("provider", ["plivo", "telnyx", "bird", "messagebird"])
async def test_forged_and_stale_examples_are_refused_or_held(
    provider: str, client: TestClient, conn: asyncpg.Connection
) -> None:
    example = examples(provider)[-1]
    config = configured()[provider]
    now = time.time()
    query, headers, body = signed(provider, example, config, now)
    tampered = body.replace(b"failed", b"faile_") if body else body
    changed_query = query.replace("Status=failed", "Status=delivered").replace(
        "status=expired", "status=delivered"
    )
    assert tampered != body or changed_query != query
    forged = await post(client, provider, example["method"], changed_query, headers, tampered)
    assert forged.status == 401
    if provider != "plivo":  # Plivo's signatures carry no time: nothing is stale (see docs)
        _, old, _ = signed(provider, example, config, now - 3600)
        stale = await post(client, provider, example["method"], query, old, body)
        assert stale.status == 401
        assert re.search("older than|expired", (await stale.json())["error"]["message"])
    if provider == "plivo":
        # no time in Plivo's signature: a replay is accepted (it cannot be told from Plivo's
        # own retry) and stored, but makes no second event
        for _ in range(2):
            replayed = await post(client, provider, example["method"], query, headers, body)
            assert replayed.status == 200

        async def drained() -> bool:
            pending = await conn.fetchval("SELECT count(*) FROM inbox WHERE state = 'pending'")
            return bool(pending == 0)

        assert await eventually(drained)
        assert await conn.fetchval("SELECT count(*) FROM inbox") == 2
        assert await conn.fetchval("SELECT count(*) FROM events") == 1
    held = await post(
        client, f"{provider}_held", example["method"], changed_query, headers, tampered
    )
    assert held.status == 200
    rows = await conn.fetch(
        "SELECT provider_key, state, verification FROM inbox WHERE provider_key LIKE '%_held'"
    )
    assert [tuple(r) for r in rows] == [(f"{provider}_held", "held", "failed")]
    # forged and stale requests were never stored for the enforcing key
    unheld = await conn.fetchval("SELECT count(*) FROM inbox WHERE provider_key = $1", provider)
    assert unheld == (2 if provider == "plivo" else 0)
