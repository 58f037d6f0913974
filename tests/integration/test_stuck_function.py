"""`dlrecon_stuck` and `dlrecon_stuck_thresholds`: configured, learned and default thresholds;
a message final now but not at an earlier cut-off is stuck as of that cut-off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg

from receiver.model import Event, Status
from receiver.settings import Settings
from tests.support.reconcile_world import GENIQ_OK, callback, delivered, register

H = timedelta(hours=1)


async def stuck(
    conn: asyncpg.Connection, as_of: datetime, configured: dict[str, object], min_samples: int = 3
) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT * FROM dlrecon_stuck($1, $2::jsonb, interval '1 hour', $3)",
        as_of,
        configured,
        min_samples,
    )


async def message(
    conn: asyncpg.Connection, settings: Settings, pid: str, sent: datetime, provider: str = "geniq"
) -> int:
    return await register(
        conn,
        settings,
        provider=provider,
        client_ref=f"ref-{pid}",
        provider_message_ids=[pid],
        submitted_at=sent.isoformat(),
        submit_response={**GENIQ_OK, "messageIds": [pid]},
    )


async def test_thresholds_are_configured_learned_or_default(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    now = datetime.now(UTC)
    # four finals of geniq sms in the last 7 days taking 10 min each: learned p99 = 10 min
    for n in range(4):
        await message(conn, settings, f"F{n}", now - 5 * H)
        await callback(
            conn,
            "geniq",
            now - 5 * H + timedelta(minutes=10),
            delivered(f"F{n}", now - 5 * H + timedelta(minutes=10)),
        )
    slow = await message(conn, settings, "S1", now - timedelta(minutes=20))
    fresh = await message(conn, settings, "S2", now - timedelta(minutes=5))
    hel = await register(
        conn,
        settings,
        provider="hellio",
        client_ref="h",
        submitted_at=(now - 30 * timedelta(minutes=1)).isoformat(),
    )

    at = datetime.now(UTC)  # after everything was registered
    rows = await stuck(conn, at, {})
    assert [
        (r["message_id"], r["threshold_source"], r["threshold"], r["samples"]) for r in rows
    ] == [
        (slow, "learned", timedelta(minutes=10), 4),
    ]
    assert fresh not in {r["message_id"] for r in rows}
    # hellio: no samples, the 1 h default; configured per key ('*') or per channel wins
    rows = await stuck(conn, at, {"hellio": {"*": 600}, "geniq": {"sms": 3600}})
    assert [(r["message_id"], r["threshold_source"], r["threshold"]) for r in rows] == [
        (hel, "configured", timedelta(minutes=10)),
    ]
    thresholds = await conn.fetch(
        "SELECT * FROM dlrecon_stuck_thresholds($1, $2::jsonb, interval '1 hour', 3)",
        at,
        {"velip": {"voice": 60}},
    )
    assert [
        (t["provider_key"], t["channel"], t["threshold_source"], t["samples"]) for t in thresholds
    ] == [
        ("geniq", "sms", "learned", 4),
        ("hellio", "sms", "default", 0),
        ("velip", "voice", "configured", None),
    ]


async def test_a_message_final_now_is_stuck_as_of_a_time_before_it_was(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    now = datetime.now(UTC)
    m = await message(conn, settings, "L1", now - 5 * H)
    before = datetime.now(UTC)  # registered, not delivered yet
    await callback(conn, "geniq", before, delivered("L1", now - 5 * H + timedelta(minutes=1)))
    assert await stuck(conn, datetime.now(UTC), {}) == []
    rows = await stuck(conn, before, {})
    assert [(r["message_id"], r["status"]) for r in rows] == [(m, "accepted")]
    # registered after the cut-off: not there yet
    assert await stuck(conn, now - timedelta(seconds=1), {}) == []


async def test_status_as_of_agrees_with_the_stored_roll_up(
    conn: asyncpg.Connection, settings: Settings
) -> None:
    now = datetime.now(UTC)
    ids = []
    for n, events in enumerate(
        [
            [delivered("M0", now)],
            [
                Event(
                    "failed",
                    Status.FAILED,
                    provider_message_id="M1",
                    error_code="E1",
                    provider_time=now,
                ),
                delivered("M1", now - H),
            ],
            [
                Event(
                    "sent",
                    Status.SENT,
                    provider_message_id="M2",
                    cost=__import__("decimal").Decimal("0.01"),
                    currency="EUR",
                )
            ],
            [],
        ]
    ):
        ids.append(await message(conn, settings, f"M{n}", now - 2 * H))
        if events:
            await callback(conn, "geniq", now - H, *events)
    derived = await conn.fetch(
        "SELECT * FROM dlrecon_status_as_of($1, 'infinity') ORDER BY message_id", ids
    )
    stored = await conn.fetch(
        "SELECT id AS message_id, status, final, status_at, error_code, error_class, conflict, provider_cost, provider_currency FROM messages WHERE id = ANY($1) ORDER BY id",
        ids,
    )
    assert [dict(r) for r in derived] == [dict(r) for r in stored]
