"""Apply the numbered migrations of `sql/migrations`, under an advisory lock."""

from __future__ import annotations

import structlog

import sql
from receiver.db import inbox
from receiver.db.pool import Connection

log = structlog.get_logger(__name__)

# any constant works; it only has to be the same for every dlrecon process
_LOCK_ID = 0x646C7265636F6E  # "dlrecon"

_CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version int PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
)
"""


async def applied_versions(conn: Connection) -> set[int]:
    """Versions recorded in `schema_migrations` (empty when the table does not exist)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    if not exists:
        return set()
    return {row["version"] for row in await conn.fetch("SELECT version FROM schema_migrations")}


async def pending(conn: Connection) -> list[sql.Migration]:
    """Migrations not yet applied."""
    done = await applied_versions(conn)
    return [m for m in sql.migrations() if m.version not in done]


async def apply(conn: Connection) -> list[sql.Migration]:
    """Apply every pending migration, each in its own transaction; return those applied."""
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_ID)
    try:
        await conn.execute(_CREATE_TABLE)
        todo = await pending(conn)
        for migration in todo:
            async with conn.transaction():
                await conn.execute(migration.sql)
                await conn.execute(
                    "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                    migration.version,
                    migration.name,
                )
            log.info("migration_applied", version=migration.version, name=migration.name)
        if await conn.fetchval("SELECT to_regproc('dlrecon_inbox_partitions') IS NOT NULL"):
            # the inbox's monthly partitions, ahead of the rows that will need them (0012)
            await inbox.ensure_partitions(conn)
        return todo
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_ID)
