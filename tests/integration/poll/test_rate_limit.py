"""Done when: the poller never exceeds the configured request rate, as the provider's server
measures it over several hundred polls (a check of the limiter's correctness: requests are
counted per window on the server side, nothing is asserted about our speed)."""

from __future__ import annotations

import asyncpg

from receiver.db import pool as db_pool
from receiver.metrics import Metrics
from receiver.poll.poller import Poller
from tests.integration.poll.support import poll_settings, register
from tests.support.poll_fakes import FakeProviders, TwilioMessage, max_in_window

MESSAGES = 300
RATE = 40.0  # requests per second
BURST = 1
IN_FLIGHT = 4


async def test_the_server_never_sees_more_than_the_configured_rate(
    conn: asyncpg.Connection, pool: db_pool.Pool, fake: FakeProviders
) -> None:
    settings = poll_settings(
        fake.url,
        twilio={
            "rate_limit": RATE,
            "burst": BURST,
            "max_in_flight": IN_FLIGHT,
            "batch_size": 50,
            "retries": 0,
        },
    )
    sids = [f"SM{n:032x}" for n in range(MESSAGES)]
    for sid in sids:
        fake.twilio[sid] = TwilioMessage(status="sent")
    await register(
        conn, settings, *({"provider": "twilio", "provider_message_ids": [s]} for s in sids)
    )

    metrics = Metrics()
    summary = await Poller(pool, settings, metrics).once()

    assert summary.polled == MESSAGES
    arrivals = [s.at for s in fake.requests("twilio")]
    assert len(arrivals) == MESSAGES
    # a bucket of BURST tokens refilled at RATE lets at most BURST + RATE * W requests go in
    # any W seconds; a request sent before the window may arrive in it only while in flight,
    # and at most IN_FLIGHT are
    for window in (0.5, 1.0, 2.0):
        bound = BURST + RATE * window + IN_FLIGHT
        seen = max_in_window(arrivals, window)
        assert seen <= bound, f"{seen} requests within {window} s (bound {bound})"
    waits = metrics.registry.get_sample_value(
        "dlrecon_poll_rate_limit_waits_total", {"provider": "twilio"}
    )
    assert waits is not None and waits > MESSAGES / 2  # the limiter, not luck, held them back
