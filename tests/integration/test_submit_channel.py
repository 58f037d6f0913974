"""Issue 15: the channel a submit response shows is recorded when the sender registered none
(a Twilio WhatsApp send is not stored as sms); an explicit channel still wins, and a
disagreement is kept in the submit event's details."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from receiver.settings import Settings
from tests.support import auth, make_settings


@pytest.fixture
def settings() -> Settings:
    return make_settings(
        {
            "tw": {"adapter": "twilio", "verify": "off"},
            "wa": {"adapter": "meta", "verify": "off"},
        }
    )


def twilio_resource(sid: str, to: str) -> dict[str, Any]:
    """A Message resource as `POST /2010-04-01/Accounts/{sid}/Messages.json` answers."""
    return {
        "account_sid": "ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
        "sid": sid,
        "status": "queued",
        "to": to,
        "from": "whatsapp:+15005550006" if to.startswith("whatsapp:") else "+15005550006",
        "num_segments": "1",
        "price": None,
        "price_unit": "USD",
        "date_created": "Thu, 24 Aug 2023 05:01:45 +0000",
    }


async def register(client: TestClient, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    response = await client.post("/v1/messages", json=items, headers=auth("send"))
    assert response.status == 200, await response.text()
    results: list[dict[str, Any]] = (await response.json())["results"]
    assert all(r.get("error") is None for r in results), results
    return results


async def channels(conn: asyncpg.Connection) -> dict[str, tuple[str, Any]]:
    rows = await conn.fetch(
        """SELECT m.client_ref, m.channel, e.channel AS event_channel, e.details
           FROM messages m JOIN events e ON e.message_id = m.id AND e.source = 'submit'"""
    )
    return {
        r["client_ref"]: (
            r["channel"],
            r["event_channel"],
            r["details"].get("channel_in_submit_response"),
        )
        for r in rows
    }


async def test_channel_from_the_submit_response(
    client: TestClient, conn: asyncpg.Connection
) -> None:
    await register(
        client,
        [
            # no channel given: the response's `to` says WhatsApp
            {
                "provider": "tw",
                "client_ref": "wa-1",
                "submit_response": twilio_resource("SMwa1", "whatsapp:+14155238886"),
                "submit_http_status": 201,
            },
            # no channel given, plain number: sms
            {
                "provider": "tw",
                "client_ref": "sms-1",
                "submit_response": twilio_resource("SMsm1", "+14155238886"),
                "submit_http_status": 201,
            },
            # explicit channel disagreeing with the response: the sender wins, evidence kept
            {
                "provider": "tw",
                "channel": "sms",
                "client_ref": "wa-2",
                "submit_response": twilio_resource("SMwa2", "whatsapp:+14155238887"),
                "submit_http_status": 201,
            },
            # explicit and agreeing: nothing to note
            {
                "provider": "tw",
                "channel": "whatsapp",
                "client_ref": "wa-3",
                "submit_response": twilio_resource("SMwa3", "whatsapp:+14155238888"),
                "submit_http_status": 201,
            },
            # Meta's Cloud API only sends WhatsApp
            {
                "provider": "wa",
                "client_ref": "meta-1",
                "submit_response": {
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": "+16505551234", "wa_id": "16505551234"}],
                    "messages": [
                        {"id": "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"}
                    ],
                },
                "submit_http_status": 200,
            },
            # a response that shows no channel: the default stays
            {
                "provider": "tw",
                "client_ref": "err-1",
                "submit_response": {
                    "code": 21211,
                    "message": "Invalid 'To' Phone Number",
                    "status": 400,
                },
                "submit_http_status": 400,
            },
        ],
    )
    assert await channels(conn) == {
        "wa-1": ("whatsapp", "whatsapp", None),
        "sms-1": ("sms", "sms", None),
        "wa-2": ("sms", "whatsapp", "whatsapp"),
        "wa-3": ("whatsapp", "whatsapp", None),
        "meta-1": ("whatsapp", "whatsapp", None),
        "err-1": ("sms", "sms", None),
    }
    view = await (
        await client.get("/v1/messages", params={"client_ref": "wa-1"}, headers=auth("read"))
    ).json()
    assert view["messages"][0]["channel"] == "whatsapp"
