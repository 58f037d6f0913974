"""Status and cost roll-up edge cases: messages without ids, parts learned from a client
ref, mixed currencies, equal ranks without provider times."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import asyncpg
import pytest

from receiver.db import events as event_store
from receiver.db.events import EventRow
from receiver.model import Event, Source, Status
from receiver.registration import register as registration
from receiver.settings import Settings
from tests.support import make_settings


@pytest.fixture
def settings() -> Settings:
    return make_settings({"vonage": {"verify": "off", "currency": "EUR"}})


async def deliver(conn: asyncpg.Connection, *events: Event, key: str = "open") -> None:
    async with conn.transaction():
        ids = await event_store.insert(
            conn, [EventRow(key, Source.CALLBACK, e, datetime.now(UTC)) for e in events]
        )
        await event_store.refresh_status(conn, await event_store.match(conn, ids))


async def test_rejected_submits_of_messages_without_ids_are_each_kept(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    item = {
        "provider": "hellio",
        "submit_http_status": 422,
        "submit_response": {
            "message": "None of the supplied numbers were valid.",
            "error": "no_valid_recipients",
        },
    }
    results = await registration.register(conn, settings, [item, item])
    assert [r.created for r in results] == [True, True]
    rows = await conn.fetch(
        "SELECT status, (SELECT count(*) FROM events e WHERE e.message_id = m.id) AS n FROM messages m ORDER BY id"
    )
    assert [(r["status"], r["n"]) for r in rows] == [("rejected", 1), ("rejected", 1)]


async def test_cost_is_not_counted_twice_when_the_part_is_learned(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    await registration.register(conn, settings, [{"provider": "vonage", "client_ref": "ref-1"}])
    price = {"cost": Decimal("0.0333"), "currency": "EUR"}
    # first by client ref only (the id is learned from it), then by the id
    await deliver(
        conn,
        Event("accepted", Status.SENT, provider_message_id="ABC", client_ref="ref-1", **price),
        key="vonage",
    )
    await deliver(
        conn, Event("delivered", Status.DELIVERED, provider_message_id="ABC", **price), key="vonage"
    )
    row = await conn.fetchrow("SELECT status, provider_cost, provider_currency FROM messages")
    assert (row["status"], row["provider_cost"], row["provider_currency"]) == (
        "delivered",
        Decimal("0.0333"),
        "EUR",
    )


async def test_mixed_currencies_are_not_summed(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    await registration.register(
        conn,
        settings,
        [{"provider": "open", "client_ref": "mc", "provider_message_ids": ["P1", "P2"]}],
    )
    await deliver(
        conn,
        Event(
            "delivered",
            Status.DELIVERED,
            provider_message_id="P1",
            cost=Decimal("0.01"),
            currency="EUR",
        ),
        Event(
            "delivered",
            Status.DELIVERED,
            provider_message_id="P2",
            cost=Decimal("0.01"),
            currency="USD",
        ),
    )
    row = await conn.fetchrow("SELECT status, provider_cost, provider_currency FROM messages")
    assert (row["status"], row["provider_cost"], row["provider_currency"]) == (
        "delivered",
        None,
        None,
    )


async def test_error_code_and_class_come_from_the_same_part(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    await registration.register(
        conn,
        settings,
        [{"provider": "open", "client_ref": "e", "provider_message_ids": ["E1", "E2"]}],
    )
    t1, t2 = datetime(2026, 1, 1, 10, tzinfo=UTC), datetime(2026, 1, 1, 11, tzinfo=UTC)
    await deliver(
        conn,
        Event(
            "undeliverable",
            Status.FAILED,
            provider_message_id="E1",
            error_code="5",
            provider_time=t1,
        ),
        Event(
            "expired", Status.EXPIRED, provider_message_id="E2", error_class=None, provider_time=t2
        ),
    )
    row = await conn.fetchrow("SELECT status, error_code, error_class FROM messages")
    # the latest failing part decides; its error (none) is not mixed with the other part's code
    assert row["status"] == "expired"
    assert (row["error_code"], row["error_class"]) == ("5", None)
