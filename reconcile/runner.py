"""Starting runs: now (the CLI, holding the lock while it runs), queued (the API; the
reconciler role executes them), or on the schedule; one at a time per database."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import Any

import structlog

from receiver.db.pool import Connection
from receiver.errors import InvalidInput
from reconcile import engine
from reconcile.db import runs
from reconcile.settings import ScheduleSettings

log = structlog.get_logger(__name__)
# clocks of the database and of this process may differ a little
_CLOCK_SKEW = timedelta(seconds=5)


def check_window(window_from: datetime, window_to: datetime, as_of: datetime | None) -> None:
    """Refuse a window that ends before it starts, times without a zone, and a cut-off in the
    future (the run would see data that arrives while it runs: it could not be repeated)."""
    for name, value in (("from", window_from), ("to", window_to), ("as_of", as_of)):
        if value is None:
            continue
        if value.tzinfo is None:
            raise InvalidInput(f"{name} needs a time zone (e.g. 2026-06-01T00:00:00Z)")
        try:
            value.astimezone(UTC)
        except OverflowError:
            raise InvalidInput(f"{name} is out of range") from None
    if window_to < window_from:
        raise InvalidInput("the window ends before it starts (to < from)")
    if as_of is not None and as_of > datetime.now(UTC) + _CLOCK_SKEW:
        raise InvalidInput("as_of is in the future")


async def reconcile(
    conn: Connection,
    *,
    window_from: datetime,
    window_to: datetime,
    as_of: datetime | None,
    config: dict[str, Any],
    requested_by: str | None,
    work_mem: str = "64MB",
    progress: engine.Progress = engine._silent,
) -> engine.Outcome:
    """Run now on this connection, after any run in progress elsewhere."""
    check_window(window_from, window_to, as_of)
    await runs.lock(conn)
    try:
        await runs.fail_interrupted(conn)
        run_id = await runs.insert(
            conn,
            state="running",
            window_from=window_from,
            window_to=window_to,
            as_of=as_of,
            config=config,
            trigger="cli",
            requested_by=requested_by,
        )
        assert run_id is not None
        return await engine.execute(conn, run_id, work_mem=work_mem, progress=progress)
    finally:
        with contextlib.suppress(Exception):
            await runs.unlock(conn)


async def queue(
    conn: Connection,
    *,
    window_from: datetime,
    window_to: datetime,
    as_of: datetime | None,
    config: dict[str, Any],
    requested_by: str | None,
) -> int:
    """A run for the reconciler role to execute."""
    check_window(window_from, window_to, as_of)
    run_id = await runs.insert(
        conn,
        state="queued",
        window_from=window_from,
        window_to=window_to,
        as_of=as_of,
        config=config,
        trigger="api",
        requested_by=requested_by,
    )
    assert run_id is not None
    return run_id


def schedule_slot(now: datetime, every: timedelta) -> datetime:
    """The start of the schedule period `now` is in (periods counted from the Unix epoch)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    periods = (now - epoch) // every
    return epoch + periods * every


async def queue_scheduled(
    conn: Connection, schedule: ScheduleSettings, config: dict[str, Any], now: datetime
) -> int | None:
    """The run of the current schedule slot, unless it exists (in any `serve` instance): over
    the `window` before the slot's start, as of that start."""
    slot = schedule_slot(now, schedule.every)
    return await runs.insert(
        conn,
        state="queued",
        window_from=slot - schedule.window,
        window_to=slot,
        as_of=slot,
        config=config,
        trigger="schedule",
        requested_by="schedule",
        schedule_slot=slot,
    )


async def drain(conn: Connection, *, work_mem: str = "64MB") -> list[engine.Outcome]:
    """Execute queued runs one after the other while this connection holds the lock; nothing
    when another process holds it (it drains the queue itself)."""
    if not await runs.try_lock(conn):
        return []
    outcomes = []
    try:
        await runs.fail_interrupted(conn)
        while (run_id := await runs.claim_queued(conn)) is not None:
            with contextlib.suppress(Exception):  # failed: recorded on the run, logged
                outcomes.append(await engine.execute(conn, run_id, work_mem=work_mem))
    finally:
        with contextlib.suppress(Exception):
            await runs.unlock(conn)
    return outcomes


async def wait(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
