"""The reconciler role: a process beside the processor that starts the scheduled runs and
executes queued ones (`POST /v1/reconcile/runs`), one at a time per database."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

import structlog

from receiver.db import pool as db_pool
from receiver.errors import DatabaseUnavailable
from receiver.roles import Role
from reconcile import runner
from reconcile.settings import ReconcileConfig

log = structlog.get_logger(__name__)


async def run(settings: Any, url: str, stop: asyncio.Event) -> None:
    """Until `stop`: every `poll_interval`, queue the schedule's run of the current slot (once
    per slot, whichever instance gets there first) and drain the queue. A run in progress
    when `stop` comes is cancelled (rolled back, marked failed)."""
    config = ReconcileConfig.of(settings)
    pool = await db_pool.create_when_available(
        url,
        min_size=1,
        max_size=1,
        timeout=settings.database.connect_timeout,
        stop=stop,
        role="reconciler",
    )
    if pool is None:
        return
    try:
        while not stop.is_set():
            work = asyncio.create_task(_round(pool, config))
            stopped = asyncio.create_task(stop.wait())
            await asyncio.wait({work, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if not work.done():
                work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                stopped.cancel()
            with contextlib.suppress(asyncio.CancelledError, DatabaseUnavailable):
                await work
            await runner.wait(stop, config.settings.poll_interval)
    finally:
        pool.terminate()


async def _round(pool: db_pool.Pool, config: ReconcileConfig) -> None:
    try:
        async with db_pool.connection(pool) as conn:
            if config.settings.schedule is not None:
                queued = await runner.queue_scheduled(
                    conn, config.settings.schedule, config.run_config(), datetime.now(UTC)
                )
                if queued is not None:
                    log.info("reconcile_run_scheduled", run_id=queued)
            await runner.drain(conn, work_mem=config.settings.work_mem)
    except DatabaseUnavailable as exc:
        log.warning("reconciler_database_unavailable", error=str(exc))


def _processes(settings: Any) -> int:
    processes: int = settings.reconcile.processes
    return processes


ROLE = Role("reconciler", run, _processes)
