"""Property: any arrival order and duplication of a message's callbacks, with the registration
at any point and processing at any points, gives the same events and the same final status."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from receiver import processor
from receiver.db import inbox as inbox_store
from receiver.db import pool as db_pool
from receiver.db.inbox import NewInboxRow
from receiver.metrics import Metrics
from receiver.registration import register as registration
from tests.support import make_settings

EXAMPLES = 200 if os.environ.get("DLRECON_FULL") else 25
APP_SETTINGS = make_settings()


def reports(prefix: str, second_part_fails: bool) -> list[dict[str, str]]:
    """The distinct callbacks GenIQ sends for a 2-part SMS."""
    a, b = f"{prefix}A", f"{prefix}B"

    def report(mid: str, status: str, reason: str, minute: int) -> dict[str, str]:
        return {
            "messageId": mid,
            "channel": "sms",
            "status": status,
            "reasonCode": reason,
            "operatorTimestamp": f"2026-01-03T14:{minute:02d}:00+00:00",
        }

    last = (
        report(b, "undeliverable", "5", 33)
        if second_part_fails
        else report(b, "delivered", "0", 33)
    )
    return [
        report(a, "processed", "0", 30),
        report(a, "delivered", "0", 31),
        report(b, "processed", "0", 30),
        last,
    ]


def message(prefix: str) -> dict[str, Any]:
    return {
        "provider": "open",
        "client_ref": f"{prefix}ref",
        "destination": "+6591234567",
        "submit_http_status": 200,
        "submit_response": {
            "reference": "r",
            "responseCode": "0",
            "responseMessage": "ok",
            "messageIds": [f"{prefix}A", f"{prefix}B"],
        },
    }


async def run(
    url: str, prefix: str, arrivals: list[dict[str, str]], register_at: int, drain_after: list[bool]
) -> tuple[Any, ...]:
    pool = await db_pool.create(url, min_size=1, max_size=2, timeout=5)
    metrics = Metrics()
    try:
        async with pool.acquire() as conn:
            for i, report in enumerate(arrivals):
                if i == register_at:
                    await registration.register(conn, APP_SETTINGS, [message(prefix)])
                row = NewInboxRow(
                    "open",
                    "GET",
                    "/v1/callbacks/open",
                    urlencode(report),
                    {},
                    b"",
                    "127.0.0.1",
                    "unverified",
                    None,
                    datetime.now(UTC),
                    "pending",
                )
                await inbox_store.insert_batch(conn, [row])
                if drain_after[i]:
                    await processor.drain(pool, APP_SETTINGS, metrics)
            if register_at >= len(arrivals):
                await registration.register(conn, APP_SETTINGS, [message(prefix)])
        await processor.drain(pool, APP_SETTINGS, metrics)
        async with pool.acquire() as conn:
            m = await conn.fetchrow(
                "SELECT id, status, final, conflict, error_code FROM messages WHERE client_ref = $1",
                f"{prefix}ref",
            )
            events = await conn.fetch(
                "SELECT part_no, source, raw_status, status, error_code FROM events "
                "WHERE message_id = $1 ORDER BY 1, 2, 3, 4",
                m["id"],
            )
            orphans = await conn.fetchval(
                "SELECT count(*) FROM events WHERE message_id IS NULL AND provider_message_id LIKE $1",
                f"{prefix}%",
            )
        return (
            m["status"],
            m["final"],
            m["conflict"],
            m["error_code"],
            [tuple(e) for e in events],
            orphans,
        )
    finally:
        await pool.close()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data(), second_part_fails=st.booleans())
def test_any_arrival_order_gives_the_same_outcome(
    database_url: str, data: st.DataObject, second_part_fails: bool
) -> None:
    prefix = uuid.uuid4().hex[:10].upper()
    distinct = reports(prefix, second_part_fails)
    copies = data.draw(st.lists(st.integers(1, 3), min_size=len(distinct), max_size=len(distinct)))
    arrivals = data.draw(
        st.permutations([r for r, n in zip(distinct, copies, strict=True) for _ in range(n)])
    )
    register_at = data.draw(st.integers(0, len(arrivals)))
    drain_after = data.draw(st.lists(st.booleans(), min_size=len(arrivals), max_size=len(arrivals)))

    reference_prefix = uuid.uuid4().hex[:10].upper()
    reference = asyncio.run(
        run(
            database_url,
            reference_prefix,
            reports(reference_prefix, second_part_fails),
            0,
            [False] * len(distinct),
        )
    )
    outcome = asyncio.run(run(database_url, prefix, arrivals, register_at, drain_after))
    assert outcome == reference
    assert reference[0] == ("failed" if second_part_fails else "delivered")
    assert reference[5] == 0  # no orphan left behind
