"""A message part known by two ids (Gupshup: its own id and the WhatsApp id): once an event
carrying both is matched, events carrying only the other id match the same part, in any order."""

from __future__ import annotations

from datetime import UTC, datetime

import asyncpg
import pytest

from receiver.db import events as event_store
from receiver.db.events import EventRow
from receiver.model import Event, Source, Status
from receiver.registration import register as registration
from receiver.settings import Settings


def row(event: Event) -> EventRow:
    return EventRow("open", Source.CALLBACK, event, received_at=datetime.now(UTC))


@pytest.fixture
def settings() -> Settings:
    from tests.support import make_settings

    return make_settings({"gupshup": {"verify": "off"}})


ENQUEUED = Event("enqueued", Status.ACCEPTED, provider_message_id="G1", aliases=("W1",))
LATE = Event("delivered", Status.DELIVERED, provider_message_id="W1")


@pytest.mark.parametrize("late_first", [False, True])
async def test_alias_learned_from_a_matched_event(
    conn: asyncpg.Connection, settings: Settings, late_first: bool
) -> None:
    await registration.register(
        conn, settings, [{"provider": "open", "client_ref": "a1", "provider_message_ids": ["G1"]}]
    )
    order = [LATE, ENQUEUED] if late_first else [ENQUEUED, LATE]
    for event in order:
        async with conn.transaction():
            ids = await event_store.insert(conn, [row(event)])
            touched = await event_store.match(conn, ids)
            await event_store.refresh_status(conn, touched)
    parts = await conn.fetch("SELECT provider_message_id, part_no FROM message_parts ORDER BY 1")
    assert [(r["provider_message_id"], r["part_no"]) for r in parts] == [("G1", 0), ("W1", 0)]
    assert await conn.fetchval("SELECT count(*) FROM events WHERE message_id IS NULL") == 0
    assert await conn.fetchval("SELECT status FROM messages") == "delivered"


async def test_gupshup_late_report_with_only_the_whatsapp_id(
    client, conn: asyncpg.Connection
) -> None:
    """Gupshup drops gsId from reports a week after sending; the enqueued event taught the
    message its WhatsApp id, so the late report still matches."""
    from tests.support import auth, eventually

    gupshup_id, whatsapp_id = "59f8db90-c37e-4408-90ab-cc54ef8246ad", "gBEGkYaYVSEEAgkD7bRi9syGnBk"
    message = {
        "provider": "gupshup",
        "channel": "whatsapp",
        "client_ref": "wa-1",
        "provider_message_ids": [gupshup_id],
    }
    assert (await client.post("/v1/messages", json=message, headers=auth("send"))).status == 200
    enqueued = {
        "app": "DemoAPI",
        "timestamp": 1580546677791,
        "version": 2,
        "type": "message-event",
        "payload": {
            "id": gupshup_id,
            "type": "enqueued",
            "destination": "91XX985XX10X",
            "payload": {"whatsappMessageId": whatsapp_id, "type": "session"},
        },
    }
    late = {
        "app": "DemoAPI",
        "timestamp": 1581246677791,
        "version": 2,
        "type": "message-event",
        "payload": {
            "id": whatsapp_id,
            "type": "delivered",
            "destination": "91XX985XX10X",
            "payload": {"ts": 1581246677},
        },
    }
    for body in (late, enqueued):  # the late one even arrives first
        assert (await client.post("/v1/callbacks/gupshup", json=body)).status == 200

    async def delivered() -> bool:
        return (
            await conn.fetchval("SELECT status FROM messages WHERE client_ref = 'wa-1'")
            == "delivered"
        )

    assert await eventually(delivered)
