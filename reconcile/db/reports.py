"""Finance reports in the database: a window's figures (over a reconciliation run's working
tables), the run and findings it uses, what arrived late for a closed month, and the periods
(closings with their frozen figures)."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from receiver.db import queries
from receiver.db.pool import Connection
from reconcile.db import runs

# a run's working tables, as far as a report needs them (no findings table)
PREPARE = tuple(step for step in runs.PREPARE if step != "prepare_run_findings")


@dataclass(slots=True)
class FigureRow:
    """The additive figures of one day and provider key, channel, country and currency."""

    day: date
    provider: str
    channel: str | None
    country: str | None
    currency: str | None
    messages: int
    delivered: int
    read: int
    failed: int
    expired: int
    rejected: int
    pending: int
    final: int
    segments: int
    value: Decimal
    expected_cost: Decimal
    reported_cost: Decimal
    invoiced: Decimal
    priced: int
    invoiced_messages: int
    costed: int
    basis_invoiced: int
    basis_reported: int
    basis_expected: int
    margin: Decimal
    cost: Decimal
    lines: int
    matched_lines: int
    unmatched_lines: int
    matched_amount: Decimal
    unmatched_amount: Decimal


FIGURE_FIELDS = tuple(f.name for f in dataclasses.fields(FigureRow))


@dataclass(frozen=True, slots=True)
class StakeRow:
    day: date
    provider: str | None
    channel: str | None
    country: str | None
    currency: str | None
    rule: str
    findings: int
    amount: Decimal | None


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    window_from: datetime
    window_to: datetime
    as_of: datetime
    finished_at: datetime | None


@dataclass(frozen=True, slots=True)
class LateItem:
    kind: str
    provider: str | None
    currency: str | None
    message_id: int | None
    invoice_line_id: int | None
    field: str
    amount: Decimal | None
    count: int
    arrived_at: datetime
    old_status: str | None
    new_status: str | None
    invoice_id: str | None
    line_no: int | None


@dataclass(frozen=True, slots=True)
class AdjustmentRow:
    month: date
    kind: str
    provider: str | None
    currency: str | None
    message_id: int | None
    invoice_line_id: int | None
    field: str
    amount: Decimal | None
    count: int
    reason: str
    arrived_at: datetime


@dataclass(frozen=True, slots=True)
class Closing:
    id: int
    month: date
    cut_off: datetime
    closed_at: datetime
    closed_by: str
    run_id: int | None
    reopened_at: datetime | None
    reopened_by: str | None
    reopen_reason: str | None


async def prepare(
    conn: Connection,
    *,
    window_from: datetime,
    window_to: datetime,
    as_of: datetime,
    config: dict[str, Any],
    progress: Callable[[str, float], None] = lambda step, seconds: None,
) -> None:
    """Build the working tables of a run over the window as of the cut-off (temporary: drop
    them with `DISCARD TEMP`). Inside a repeatable-read transaction: one snapshot."""
    for step in PREPARE:
        began = time.perf_counter()
        if step == "fill_run_params":
            await conn.execute(
                queries.get("fill_report_params"), window_from, window_to, as_of, config
            )
        else:
            await conn.execute(queries.get(step))
        progress(step, time.perf_counter() - began)


async def figures(
    conn: Connection, prefixes: Sequence[str], countries: Sequence[str]
) -> list[FigureRow]:
    rows = await conn.fetch(queries.get("report_figures"), list(prefixes), list(countries))
    return [FigureRow(**dict(r)) for r in rows]


async def latest_run(
    conn: Connection, window_from: datetime, window_to: datetime, as_of: datetime
) -> RunRow | None:
    row = await conn.fetchrow(queries.get("report_run"), window_from, window_to, as_of)
    return RunRow(**dict(row)) if row else None


async def at_stake(
    conn: Connection, run_id: int, prefixes: Sequence[str], countries: Sequence[str]
) -> list[StakeRow]:
    rows = await conn.fetch(queries.get("report_at_stake"), run_id, list(prefixes), list(countries))
    return [StakeRow(**dict(r)) for r in rows]


async def late_items(
    conn: Connection, month_from: datetime, month_to: datetime, since: datetime, as_of: datetime
) -> list[LateItem]:
    rows = await conn.fetch(queries.get("report_late_items"), month_from, month_to, since, as_of)
    return [LateItem(**dict(r)) for r in rows]


async def lock_periods(conn: Connection) -> None:
    await conn.execute(queries.get("lock_periods"))


async def closings(conn: Connection) -> list[Closing]:
    return [Closing(**dict(r)) for r in await conn.fetch(queries.get("period_closings"))]


async def insert_closing(
    conn: Connection, month: date, cut_off: datetime, closed_by: str, run_id: int | None
) -> Closing:
    row = await conn.fetchrow(queries.get("insert_closing"), month, cut_off, closed_by, run_id)
    assert row is not None
    return Closing(**dict(row))


async def reopen(conn: Connection, month: date, by: str, reason: str) -> Closing | None:
    row = await conn.fetchrow(queries.get("reopen_closing"), month, by, reason)
    return Closing(**dict(row)) if row else None


async def store_frozen(
    conn: Connection,
    closing_id: int,
    figure_rows: Sequence[FigureRow],
    stake_rows: Sequence[StakeRow],
    adjustments: Sequence[AdjustmentRow],
) -> None:
    """A closing's figures, amounts at stake and adjustments."""
    await conn.executemany(
        queries.get("insert_period_figures"),
        [(closing_id, *dataclasses.astuple(r)) for r in figure_rows],
    )
    await conn.executemany(
        queries.get("insert_period_at_stake"),
        [(closing_id, *dataclasses.astuple(r)) for r in stake_rows],
    )
    await conn.executemany(
        queries.get("insert_period_adjustment"),
        [(closing_id, *dataclasses.astuple(a)) for a in adjustments],
    )


async def frozen_figures(
    conn: Connection, closing_id: int, day_from: date, day_to: date
) -> list[FigureRow]:
    rows = await conn.fetch(queries.get("period_figures_of"), closing_id, day_from, day_to)
    return [FigureRow(**dict(r)) for r in rows]


async def frozen_at_stake(
    conn: Connection, closing_id: int, day_from: date, day_to: date
) -> list[StakeRow]:
    rows = await conn.fetch(queries.get("period_at_stake_of"), closing_id, day_from, day_to)
    return [StakeRow(**dict(r)) for r in rows]


async def frozen_adjustments(conn: Connection, closing_id: int) -> list[AdjustmentRow]:
    rows = await conn.fetch(queries.get("period_adjustments_of"), closing_id)
    return [AdjustmentRow(**dict(r)) for r in rows]
