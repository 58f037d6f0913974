"""The poller: every configured key polled on its interval until stopped (`serve`'s poller
role, `dlrecon poll`), or once until nothing is due (`dlrecon poll --once`)."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Sequence
from typing import Any

import aiohttp
import structlog

from receiver.db import polls as poll_store
from receiver.db import pool as db_pool
from receiver.db.pool import Pool, connection, describe
from receiver.errors import DatabaseUnavailable
from receiver.metrics import Metrics
from receiver.poll.rounds import KeyPoller
from receiver.poll.summary import Summary
from receiver.roles import Role
from receiver.settings import Settings

log = structlog.get_logger(__name__)

BACKLOG_SECONDS = 5.0  # how often the backlog gauge is refreshed


def polled_keys(settings: Settings, only: Sequence[str] | None = None) -> list[str]:
    """The provider keys configured for polling (`[providers.KEY.poll]`), or those of `only`."""
    keys = [
        key
        for key, provider in settings.providers.items()
        if provider.poll is not None and provider.poll.enabled
    ]
    if only:
        unknown = sorted(set(only) - set(keys))
        if unknown:
            raise ValueError(f"not configured for polling: {', '.join(unknown)}")
        keys = [k for k in keys if k in only]
    return keys


@contextlib.asynccontextmanager
async def client_session(settings: Settings) -> AsyncIterator[aiohttp.ClientSession]:
    """The HTTP client of the poller (its connections are bounded by `[poller] max_in_flight`)."""
    connector = aiohttp.TCPConnector(limit=settings.poller.max_in_flight)
    async with aiohttp.ClientSession(connector=connector) as session:
        yield session


class Poller:
    """Polls every configured key (or `only` those): in a loop until stopped, or once."""

    def __init__(
        self,
        pool: Pool,
        settings: Settings,
        metrics: Metrics,
        *,
        only: Sequence[str] | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._metrics = metrics
        self._keys = polled_keys(settings, only)
        self._rng = rng or random.Random()

    @property
    def keys(self) -> list[str]:
        return list(self._keys)

    def _pollers(self, session: aiohttp.ClientSession) -> list[KeyPoller]:
        shared = asyncio.Semaphore(self._settings.poller.max_in_flight)
        return [
            KeyPoller(
                key,
                self._settings,
                self._pool,
                session,
                self._metrics,
                shared_slots=shared,
                rng=self._rng,
            )
            for key in self._keys
        ]

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every key on its interval until `stop` is set."""
        async with client_session(self._settings) as session:
            tasks = [asyncio.create_task(self._loop(p, stop)) for p in self._pollers(session)]
            tasks.append(asyncio.create_task(self._report_backlog(stop)))
            try:
                await stop.wait()
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    async def once(self, *, dry_run: bool = False, progress: Any = None) -> Summary:
        """Poll every key until none of its messages is due (`dlrecon poll --once`)."""
        total = Summary()
        async with client_session(self._settings) as session:
            for poller in self._pollers(session):
                while True:
                    summary = await poller.round(dry_run=dry_run)
                    total.add(summary)
                    if progress is not None:
                        progress(poller.key, summary)
                    if dry_run or not (summary.polled or summary.unpollable):
                        break
        await self.report_backlog()
        return total

    async def _loop(self, poller: KeyPoller, stop: asyncio.Event) -> None:
        pause = poller.poll.interval
        while not stop.is_set():
            busy = False
            try:
                summary = await poller.round()
                busy = summary.polled + summary.unpollable >= poller.poll.batch_size
                pause = poller.poll.interval
            except DatabaseUnavailable as exc:
                log.warning("poller_database_unavailable", provider=poller.key, error=describe(exc))
                pause = min(pause * 2, 60.0)
            except Exception:
                log.exception("poller_failed", provider=poller.key)
                pause = min(pause * 2, 60.0)
            if not busy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), pause)

    async def report_backlog(self) -> dict[str, tuple[int, int]]:
        """Set the backlog gauge from the schedule; return it."""
        async with connection(self._pool) as conn:
            backlog = await poll_store.backlog(conn)
        for key in self._keys:
            due, scheduled = backlog.get(key, (0, 0))
            self._metrics.poll_backlog.labels(key, "due").set(due)
            self._metrics.poll_backlog.labels(key, "scheduled").set(scheduled)
        return backlog

    async def _report_backlog(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(DatabaseUnavailable):
                await self.report_backlog()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), BACKLOG_SECONDS)


# how long a stopping poller may take: requests in flight are abandoned (their messages are
# claimed again once their lease runs out) and the pool is closed
STOP_SECONDS = 10.0


async def run(
    settings: Settings,
    url: str,
    stop: asyncio.Event,
    *,
    only: Sequence[str] | None = None,
    wait_for_database: bool = True,
) -> None:
    """The poller until `stop` is set (`serve`'s poller role, `dlrecon poll`)."""
    timeout = settings.database.connect_timeout
    pool: Pool | None
    if wait_for_database:
        pool = await db_pool.create_when_available(
            url, min_size=1, max_size=4, timeout=timeout, stop=stop, role="poller"
        )
        if pool is None:
            return
    else:
        pool = await db_pool.create(url, min_size=1, max_size=4, timeout=timeout)
    try:
        await Poller(pool, settings, Metrics(), only=only).run(stop)
    finally:
        try:
            async with asyncio.timeout(STOP_SECONDS):
                await pool.close()
        except TimeoutError:
            log.warning("poller_stop_timed_out")
            pool.terminate()


async def _run_role(settings: Settings, url: str, stop: asyncio.Event) -> None:
    await run(settings, url, stop)


def _processes(settings: Settings) -> int:
    """One poller process when `[poller] enabled` and a key is configured for polling."""
    return 1 if settings.poller.enabled and polled_keys(settings) else 0


ROLE = Role("poller", _run_role, _processes)
