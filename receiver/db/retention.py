"""The inbox's monthly partitions: which there are, their rows, dropping an archived one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from receiver.db import queries
from receiver.db.pool import Connection


@dataclass(frozen=True, slots=True)
class Month:
    """One monthly partition of the inbox, and how many of its rows still need processing."""

    name: str
    lower: datetime
    upper: datetime
    pending: int  # queued for the processor
    exceptions: int  # held or quarantined

    @property
    def needed(self) -> bool:
        return bool(self.pending or self.exceptions)


async def months(conn: Connection) -> list[Month]:
    return [Month(*r) for r in await conn.fetch(queries.get("inbox_months"))]


async def rows(conn: Connection, month: Month) -> AsyncIterator[asyncpg.Record]:
    """The month's stored requests in id order, read with a cursor (in a transaction)."""
    async for record in conn.cursor(
        queries.get("inbox_month_rows"), month.lower, month.upper, prefetch=500
    ):
        yield record


class MonthRefused(Exception):
    """The database refused to drop a month (it changed, or rows still need it)."""


async def drop(conn: Connection, month: Month, archived: int) -> int:
    """Detach and drop the month's partition (its `archived` rows are in the archive)."""
    try:
        async with conn.transaction():
            await conn.execute(queries.get("retention_lock_timeout"))
            return int(await conn.fetchval(queries.get("drop_inbox_month"), month.name, archived))
    except (
        asyncpg.exceptions.ObjectInUseError,
        asyncpg.exceptions.ObjectNotInPrerequisiteStateError,
        asyncpg.exceptions.LockNotAvailableError,
    ) as exc:
        raise MonthRefused(str(exc).strip().splitlines()[0]) from exc
