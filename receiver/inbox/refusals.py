"""Callbacks refused because their verification failed: counted in memory per provider key and
minute, and added to `callback_refusals` about once a second, so that provider health can say
how many a window had without the refused requests themselves ever being stored (anyone can
send them) and without a database write per refusal."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from datetime import datetime, timedelta

import structlog

from receiver.db import refusals as refusal_store
from receiver.db.pool import Pool, connection, describe
from receiver.errors import DatabaseUnavailable

log = structlog.get_logger(__name__)

# counts kept while the database is away, at most this old (then dropped, and logged)
KEEP = timedelta(hours=1)


class Refusals:
    """Counts refusals and writes them in the background (`start`, `stop` flushes)."""

    def __init__(self, pool: Pool, interval: float = 1.0) -> None:
        self._pool = pool
        self._interval = interval
        self._counts: Counter[tuple[str, datetime]] = Counter()
        self._task: asyncio.Task[None] | None = None

    def record(self, provider_key: str, at: datetime) -> None:
        self._counts[(provider_key, at.replace(second=0, microsecond=0))] += 1

    async def flush(self) -> None:
        """Write what was counted; on a database outage keep it for the next flush."""
        taken, self._counts = self._counts, Counter()
        if not taken:
            return
        try:
            async with connection(self._pool) as conn:
                await refusal_store.add(conn, taken)
        except DatabaseUnavailable as exc:
            newest = max(minute for _, minute in taken)
            kept = Counter({k: n for k, n in taken.items() if k[1] >= newest - KEEP})
            if len(kept) < len(taken):
                log.warning("callback_refusals_dropped", minutes=len(taken) - len(kept))
            self._counts.update(kept)
            log.warning("callback_refusals_not_written", error=describe(exc))

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="callback-refusals")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(DatabaseUnavailable):
            await self.flush()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            try:
                await self.flush()
            except Exception:
                log.exception("callback_refusals_failed")
