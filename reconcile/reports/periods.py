"""Finance periods: closing a month freezes its figures as of a cut-off; reopening is explicit
and recorded (who, when, why). One closing or reopening at a time (a transaction lock)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from receiver.db.pool import Connection
from receiver.errors import Conflict, InvalidInput
from reconcile.db import reports as store
from reconcile.reports import adjustments, finance, months

# writes begun before the cut-off have committed this long after it (as a run waits)
SETTLE = timedelta(seconds=2)


class PeriodError(InvalidInput):
    """The period cannot change that way."""


class PeriodState(Conflict):
    """The period is not in the state this needs (already closed, not closed)."""


@dataclass(frozen=True, slots=True)
class Period:
    month: str
    state: str
    closing: store.Closing | None
    history: tuple[store.Closing, ...]


async def close(
    conn: Connection,
    month: date,
    *,
    by: str,
    config: dict[str, Any],
    work_mem: str = "64MB",
) -> store.Closing:
    """Freeze `month`'s figures as of now (its cut-off): every figure of the report per day and
    group, the amounts at stake of the latest run over it, and the adjustments its report shows
    for the closed months before it. The month must have ended."""
    cut_off = await finance.now(conn)
    end = months.following(month)
    if months.midnight(end) > cut_off:
        raise PeriodError(f"{months.name(month)} has not ended yet (it ends on {end})")
    if await _closing_of(conn, month) is not None:
        raise PeriodState(f"{months.name(month)} is already closed")
    await asyncio.sleep(SETTLE.total_seconds())
    computed = await finance.live(
        conn, start=month, end=end, as_of=cut_off, config=config, work_mem=work_mem
    )
    async with conn.transaction():
        await store.lock_periods(conn)
        closed = {c.month: c for c in await store.closings(conn) if c.reopened_at is None}
        if month in closed:
            raise PeriodState(f"{months.name(month)} is already closed")
        shown = await adjustments.shown_in(conn, month, closed, cut_off)
        closing = await store.insert_closing(
            conn, month, cut_off, by, computed.run.id if computed.run else None
        )
        await store.store_frozen(conn, closing.id, computed.figures, computed.at_stake, shown)
    return closing


async def reopen(conn: Connection, month: date, *, by: str, reason: str) -> store.Closing:
    """Open a closed month again (its reports are computed again from then on); the closing
    keeps who reopened it, when and why."""
    if not reason.strip():
        raise PeriodError("reopening needs a reason")
    async with conn.transaction():
        await store.lock_periods(conn)
        reopened = await store.reopen(conn, month, by, reason.strip())
    if reopened is None:
        raise PeriodState(f"{months.name(month)} is not closed")
    return reopened


async def listing(conn: Connection) -> list[Period]:
    """Every month ever closed, oldest first, with its closings (and reopenings)."""
    by_month: dict[date, list[store.Closing]] = {}
    for c in await store.closings(conn):
        by_month.setdefault(c.month, []).append(c)
    periods = []
    for month, history in sorted(by_month.items()):
        current = next((c for c in history if c.reopened_at is None), None)
        periods.append(
            Period(
                month=months.name(month),
                state="closed" if current else "open",
                closing=current,
                history=tuple(history),
            )
        )
    return periods


async def _closing_of(conn: Connection, month: date) -> store.Closing | None:
    return next(
        (c for c in await store.closings(conn) if c.month == month and c.reopened_at is None),
        None,
    )
