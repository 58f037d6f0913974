import asyncio
import os
import subprocess
import sys

import asyncpg

import sql
from receiver.db import migrations


async def test_apply_from_empty_then_rerun_is_noop(empty_database_url: str) -> None:
    conn = await asyncpg.connect(empty_database_url)
    try:
        applied = await migrations.apply(conn)
        assert [m.version for m in applied] == [m.version for m in sql.migrations()]
        assert await migrations.apply(conn) == []
        assert await migrations.pending(conn) == []
        tables = {
            r["tablename"]
            for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        }
        assert {
            "schema_migrations",
            "inbox_requests",
            "inbox_queue",
            "inbox_exceptions",
            "messages",
            "message_parts",
            "events",
        } <= tables
        # the inbox as it reads (each row with its state) is a view over those (0010)
        assert await conn.fetchval("SELECT to_regclass('inbox')::text") == "inbox"
    finally:
        await conn.close()


async def test_two_concurrent_migrate_processes_apply_once(empty_database_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": empty_database_url}
    env.pop("DLRECON_CONFIG", None)

    def run() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "dlrecon", "migrate"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    first, second = await asyncio.gather(asyncio.to_thread(run), asyncio.to_thread(run))
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    outputs = first.stdout + second.stdout
    for m in sql.migrations():
        assert outputs.count(f"applied {m.name}") == 1
    conn = await asyncpg.connect(empty_database_url)
    try:
        count = await conn.fetchval("SELECT count(*) FROM schema_migrations")
        assert count == len(sql.migrations())
    finally:
        await conn.close()
