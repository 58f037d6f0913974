"""Settings and helpers shared by the poller's integration tests."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg

from receiver import processor
from receiver.db import pool as db_pool
from receiver.metrics import Metrics
from receiver.registration import register as registration
from receiver.settings import Settings
from tests.support import ROOT, SECRETS, make_settings
from tests.support.poll_fakes import (
    HELLIO_TOKEN,
    INFOBIP_KEY,
    TWILIO_SID,
    TWILIO_TOKEN,
    VELIP_TOKEN,
    VONAGE_KEY,
    VONAGE_SECRET,
    YELLOWPUSH_TOKEN,
)
from tests.support.service import own_env

# fast schedules and back-offs: the tests wait for nothing they do not have to
FAST: dict[str, Any] = {
    "schedule": [60, 300],
    "interval": 0.05,
    "retries": 3,
    "backoff_base": 0.01,
    "backoff_max": 0.05,
    "rate_limit": 1000,
    "burst": 20,
    "max_in_flight": 8,
    "breaker_failures": 5,
    "breaker_reset": 0.2,
    "connect_timeout": 1,
    "read_timeout": 0.5,
    "retry_after_max": 1,
    "list_min": 0,
    "list_per_hour": 360000,  # Velip's 200 an hour would make the paging test wait minutes
}


def poll_providers(url: str, **poll: dict[str, Any]) -> dict[str, Any]:
    """Provider keys for every polled provider, pointing at the fake server."""

    def table(key: str) -> dict[str, Any]:
        return {**FAST, **poll.get(key, {})}

    return {
        "velip_voice": {
            "adapter": "velip",
            "verify": "off",
            "api_base_url": url,
            "api_token": VELIP_TOKEN,
            "poll_after": 0,
            "poll": table("velip_voice"),
        },
        "twilio": {
            "verify": "off",
            "api_base_url": url,
            "account_sid": TWILIO_SID,
            "auth_token": TWILIO_TOKEN,
            "poll_after": 0,
            "poll": table("twilio"),
        },
        "infobip": {
            "verify": "off",
            "api_base_url": url,
            "api_key": INFOBIP_KEY,
            "poll_after": 0,
            "poll": table("infobip"),
        },
        "vonage": {
            "verify": "off",
            "api_base_url": url,
            "api_key": VONAGE_KEY,
            "api_secret": VONAGE_SECRET,
            "poll_after": 0,
            "poll": table("vonage"),
        },
        "hellio": {
            "signing_secrets": [SECRETS["hellio"]],
            "api_base_url": url,
            "api_token": HELLIO_TOKEN,
            "poll_after": 0,
            "poll": table("hellio"),
        },
        "yellowpush": {
            "verify": "off",
            "api_base_url": url,
            "api_token": YELLOWPUSH_TOKEN,
            "poll_after": 0,
            "poll_fields": {"items_field": "data", "id_field": "edr_id", "status_field": "state"},
            "status_map": {"DELIVERED": "delivered", "FAILED": "failed"},
            "poll": table("yellowpush"),
        },
    }


def poll_settings(url: str, **poll: dict[str, Any]) -> Settings:
    return make_settings(poll_providers(url, **poll))


async def register(
    conn: asyncpg.Connection, settings: Settings, *items: dict[str, Any]
) -> list[int]:
    """Register messages submitted a minute ago; return their ids."""
    sent = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    results = await registration.register(
        conn, settings, [{"submitted_at": sent, **i} for i in items]
    )
    ids = [r.message_id for r in results]
    assert all(ids), results
    return [int(i) for i in ids if i is not None]


async def process(pool: db_pool.Pool, settings: Settings) -> int:
    return await processor.drain(pool, settings, Metrics())


async def due_now(conn: asyncpg.Connection) -> None:
    """Time passes: every scheduled poll is due (the schedule's minutes are not waited for)."""
    await conn.execute("UPDATE poll_schedule SET next_poll_at = now() WHERE done_at IS NULL")


async def dlrecon(cfg: Path, *args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "dlrecon",
        "--config",
        str(cfg),
        *args,
        cwd=ROOT,
        # the configuration names this test's database; the suite's DATABASE_URL must not win
        env=own_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
