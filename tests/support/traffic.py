"""Traffic written straight into the tables as the receiver writes them (messages, their
callbacks in the inbox), for on-call's tests and bench: `sent(...)` adds messages sent
evenly over a period ago, each final (and called back) after its own delay, or still open
when that delay has not passed yet; `time_passes(...)` moves everything back in time."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

# one message per row of the series; the i-th is sent at `now - start + i * step`; its callback
# arrives `took` later (a `slow_every`-th one `slow_took` later; never when `silent_since` is
# given and it was sent after `now - silent_since`)
_SENT = """
WITH params AS (
    SELECT now() AS now, $3::interval AS start, $4::interval AS stop, $5::int AS n
),
planned AS (
    SELECT g, p.now - p.start + (p.start - p.stop) * (g - 1) / greatest(p.n, 1) AS submitted_at,
           CASE WHEN $8::int > 0 AND g % $8 = 0 THEN $9::interval ELSE $6::interval END AS took,
           p.now
    FROM params p, generate_series(1, (SELECT n FROM params)) g
),
shaped AS (
    SELECT g, submitted_at, took,
           submitted_at + took <= now
           AND ($7::interval IS NULL OR submitted_at < now - $7) AS called_back
    FROM planned
),
inserted AS (
    INSERT INTO messages (provider_key, channel, client_ref, submitted_at, registered_at, status,
                          final, status_at)
    SELECT $1, $2, $10 || '-' || g, submitted_at, submitted_at,
           CASE WHEN called_back THEN $11 ELSE 'accepted' END,
           called_back,
           CASE WHEN called_back THEN submitted_at + took ELSE submitted_at END
    FROM shaped
    RETURNING id, provider_key, final, status_at
)
INSERT INTO inbox (provider_key, method, path, query, headers, body, verification, received_at,
                   state, processed_at, event_count)
SELECT provider_key, 'POST', '/v1/callbacks/' || provider_key, '', '{}'::jsonb,
       convert_to('{"id": ' || id || '}', 'UTF8'), 'verified', status_at, 'processed',
       status_at, 1
FROM inserted
WHERE final
"""


async def sent(
    conn: Any,
    key: str,
    *,
    start: timedelta,
    stop: timedelta = timedelta(0),
    count: int,
    took: timedelta = timedelta(seconds=20),
    channel: str = "sms",
    silent_since: timedelta | None = None,
    slow_every: int = 0,
    slow_took: timedelta = timedelta(0),
    tag: str = "t",
    status: str = "delivered",
) -> None:
    """`count` messages of `key` sent evenly from `start` ago to `stop` ago."""
    await conn.execute(
        _SENT,
        key,
        channel,
        start,
        stop,
        count,
        took,
        silent_since,
        slow_every,
        slow_took,
        f"{key}-{tag}",
        status,
    )


async def time_passes(conn: Any, by: timedelta) -> None:
    """As if `by` had passed with nothing arriving: every time stored moves back by `by`."""
    await conn.execute(
        "UPDATE messages SET submitted_at = submitted_at - $1::interval, registered_at = registered_at - $1::interval,"
        " status_at = status_at - $1::interval",
        by,
    )
    await conn.execute(
        "UPDATE inbox_requests SET received_at = received_at - $1::interval",
        by,
    )
    await conn.execute(
        "UPDATE inbox_queue SET received_at = received_at - $1::interval",
        by,
    )
    await conn.execute(
        "UPDATE inbox_exceptions SET received_at = received_at - $1::interval,"
        " processed_at = processed_at - $1::interval",
        by,
    )
    await conn.execute(
        "UPDATE events SET received_at = received_at - $1::interval, matched_at = matched_at - $1::interval",
        by,
    )
