"""`dlrecon retention` end to end: months of the inbox past the window archived and dropped
(never one with a row still to process), and `dlrecon replay --from-archive` making the same
events from the archive as the stored rows made."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import asyncpg
import pytest
from click.testing import CliRunner

from dlrecon import settings as dlrecon_settings
from dlrecon.cli import cli
from receiver.db import events as event_store
from receiver.db.pool import init_connection
from receiver.registration import register as registration

CONFIG = """
[api]
tokens = [{ token = "cli-test-token", scopes = ["admin"] }]
[providers.geniq]
verify = "off"
"""
# what an event is, whenever and however it was stored
EVENT = (
    "provider_key, source, inbox_id, dedupe_key, provider_message_id, raw_message_id, client_ref,"
    " raw_status, status, error_code, error_class, retryable, description, provider_time,"
    " received_at, cost, currency, channel, recipient, details, message_id, part_no, aliases"
)


def _query(message_id: str, status: str) -> str:
    return urlencode(
        {
            "messageId": message_id,
            "channel": "sms",
            "recipient": "6591230000",
            "status": status,
            "reasonCode": "0" if status == "delivered" else "5",
            "messageTimestamp": "2026-06-01T14:30:00+08:00",
            "operatorTimestamp": "2026-06-01T14:31:00+08:00",
        }
    )


@pytest.fixture
def run(tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    config = tmp_path / "dlrecon.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv("DATABASE_URL", database_url)

    def invoke(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["--config", str(config), *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout + result.stderr

    invoke.config = config  # type: ignore[attr-defined]
    return invoke


def _db(url: str, work: Callable[[asyncpg.Connection], Any]) -> Any:
    async def go() -> Any:
        conn = await asyncpg.connect(url)
        try:
            await init_connection(conn)
            return await work(conn)
        finally:
            await conn.close()

    return asyncio.run(go())


async def _snapshot(conn: asyncpg.Connection) -> dict[str, Any]:
    return {
        "events": [
            tuple(r.values())
            for r in await conn.fetch(
                f"SELECT {EVENT} FROM events WHERE source = 'callback' ORDER BY dedupe_key"
            )
        ],
        "messages": [
            tuple(r.values())
            for r in await conn.fetch(
                "SELECT id, status, final, status_at, error_code, error_class FROM messages"
                " ORDER BY id"
            )
        ],
    }


def test_retention_archives_drops_and_replays_the_same_events(
    run: Any, database_url: str, tmp_path: Path
) -> None:
    settings = dlrecon_settings.load(run.config)

    async def populate(conn: asyncpg.Connection) -> tuple[str, str]:
        old, older = await conn.fetchrow(
            "SELECT dlrecon_inbox_partition(now() - interval '6 months'),"
            " dlrecon_inbox_partition(now() - interval '5 months')"
        )
        items = [{"provider": "geniq", "provider_message_ids": [f"RET{n}"]} for n in range(10)]
        await registration.register(conn, settings, items)
        for n in range(10):
            for status in ("accepted", "delivered" if n % 4 else "undeliverable"):
                await conn.execute(
                    "INSERT INTO inbox (provider_key, method, path, query, headers, body,"
                    " verification, received_at) VALUES ('geniq', 'GET', '/v1/callbacks/geniq',"
                    " $1, '{}', '', 'unverified', now() - interval '6 months')",
                    _query(f"RET{n}", status),
                )
        # the month after holds a row that does not parse: quarantined, so it is kept
        await conn.execute(
            "INSERT INTO inbox (provider_key, method, path, query, headers, body, verification,"
            " received_at) VALUES ('geniq', 'GET', '/v1/callbacks/geniq', 'status=delivered',"
            " '{}', '', 'unverified', now() - interval '5 months')"
        )
        return str(old), str(older)

    old, kept = _db(database_url, populate)
    code, out = run("process", "--once")
    assert code == 0 and "processed 21 inbox rows" in out, out
    before = _db(database_url, _snapshot)
    assert len(before["events"]) == 20
    assert {m[1] for m in before["messages"]} == {"delivered", "failed"}

    archive = tmp_path / "archive"
    code, out = run("retention", "--older-than", "90d", "--archive", str(archive))
    assert code == 0, out
    assert f"archived 20 rows of {old} to {archive}" in out
    assert f"kept {kept}: 0 pending, 1 held or quarantined" in out
    [path] = archive.glob("inbox-*.ndjson.gz")
    assert len(gzip.decompress(path.read_bytes()).splitlines()) == 20

    async def gone(conn: asyncpg.Connection) -> tuple[Any, ...]:
        return (
            await conn.fetchval("SELECT to_regclass($1)", old),
            await conn.fetchval("SELECT to_regclass($1)::text", kept),
            await conn.fetchval("SELECT count(*) FROM inbox"),
        )

    assert _db(database_url, gone) == (None, kept, 1)
    # archived rows are not dropped twice, and a month that still has work is never dropped
    code, out = run("retention", "--older-than", "90d", "--archive", str(archive))
    assert code == 0 and f"kept {kept}" in out and "archived" not in out

    async def forget(conn: asyncpg.Connection) -> None:
        # as in a database restored without them: the callbacks' events are made again
        async with conn.transaction():
            await conn.execute("DELETE FROM events WHERE source = 'callback'")
            ids = [r["id"] for r in await conn.fetch("SELECT id FROM messages")]
            await event_store.refresh_status(conn, ids)

    _db(database_url, forget)
    assert {m[1] for m in _db(database_url, _snapshot)["messages"]} == {"submitted"}

    code, out = run("replay", "--from-archive", str(archive))
    assert code == 0, out
    assert "replayed 20 archived inbox rows from 1 files; 20 events, 20 new" in out
    assert _db(database_url, _snapshot) == before

    code, out = run("replay", "--from-archive", str(archive))
    assert code == 0 and "20 events, 0 new" in out
    assert _db(database_url, _snapshot) == before


def test_retention_drops_nothing_without_an_archive(run: Any) -> None:
    code, out = run("retention", "--older-than", "90d")
    assert code == 2 and "nothing is dropped without an archive" in out


async def test_migrate_creates_the_months_ahead_and_the_processor_the_missing_ones(
    conn: asyncpg.Connection,
) -> None:
    from datetime import UTC, datetime

    from receiver.db import inbox as inbox_store

    def month_names(first: datetime, count: int) -> list[str]:
        y, m = first.year, first.month
        names = []
        for _ in range(count):
            names.append(f"inbox_requests_{y:04d}{m:02d}")
            y, m = (y + 1, 1) if m == 12 else (y, m + 1)
        return names

    months = [r["name"] for r in await conn.fetch("SELECT name FROM dlrecon_inbox_months()")]
    now = datetime.now(UTC)
    assert month_names(now, 4) == months[-4:]  # this month and three ahead
    # a month dropped by mistake (or never created) comes back
    await conn.execute(f"DROP TABLE {months[-1]}")
    assert await inbox_store.ensure_partitions(conn) == 4
    after = [r["name"] for r in await conn.fetch("SELECT name FROM dlrecon_inbox_months()")]
    assert after == months

    # the events' months (0013) come with the inbox's, and come back the same way
    def event_months() -> list[str]:
        return [n.replace("inbox_requests_", "events_") for n in month_names(now, 4)]

    async def present() -> list[str]:
        return [n for n in event_months() if await conn.fetchval("SELECT to_regclass($1)", n)]

    assert await present() == event_months()
    await conn.execute(f"DROP TABLE {event_months()[-1]}")
    assert await inbox_store.ensure_partitions(conn) == 4
    assert await present() == event_months()
    # retention sees the inbox's months only: an event partition is never one of them
    assert not any(n.startswith("events") for n in after)
