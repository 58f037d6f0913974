"""The finance report: one computation (`compute`) whose document every format renders.

The figures are aggregated in SQL (`sql/queries/reports.sql`) per day and provider key,
channel, country and currency, over a reconciliation run's own working tables built for the
report's window and cut-off; here they are only rolled up to the groups asked for (a few
hundred rows), so a month served from a closed period's frozen rows and one computed now add
up the same way. See docs/reports.md for each figure."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import structlog

from receiver.db import queries
from receiver.db.pool import Connection
from receiver.errors import InvalidInput
from reconcile.db import reports as store
from reconcile.db import runs
from reconcile.reports import adjustments, countries, months
from reconcile.reports.document import (
    DIMENSIONS,
    Adjustment,
    AtStake,
    Completeness,
    Day,
    Dimension,
    Figures,
    FinanceReport,
    Ledger,
    MarginBasis,
    Messages,
    PeriodRef,
    RuleTotal,
    RunRef,
    Window,
)

log = structlog.get_logger(__name__)

MAX_DAYS = 400

# the figures that add up (everything of a FigureRow but its day and key)
_ADDITIVE = tuple(
    f for f in store.FIGURE_FIELDS if f not in ("day", "provider", "channel", "country", "currency")
)


def group_by(names: Iterable[str]) -> list[Dimension]:
    """The dimensions asked for, in the document's order, with currency always among them."""
    wanted = {n.strip() for n in names if n.strip()}
    unknown = sorted(wanted - set(DIMENSIONS))
    if unknown:
        raise InvalidInput(
            f"group_by: unknown {', '.join(unknown)} (choose from {', '.join(DIMENSIONS)})"
        )
    wanted.add("currency")
    return [d for d in DIMENSIONS if d in wanted]


def window(start: date, end: date) -> Window:
    for day in (start, end):
        if not months.FIRST_YEAR <= day.year <= months.LAST_YEAR:
            raise InvalidInput(f"{day} is not between {months.FIRST_YEAR} and {months.LAST_YEAR}")
    if end <= start:
        raise InvalidInput(f"the window ends ({end}) before or when it starts ({start})")
    if (end - start).days > MAX_DAYS:
        raise InvalidInput(f"the window is longer than {MAX_DAYS} days")
    return Window(start=start, end=end)


@dataclass
class Live:
    """What was computed now over some days of the window."""

    figures: list[store.FigureRow] = field(default_factory=list)
    at_stake: list[store.StakeRow] = field(default_factory=list)
    run: store.RunRow | None = None


async def now(conn: Connection) -> datetime:
    clock: datetime = await conn.fetchval(queries.get("report_clock"))
    return clock


async def live(
    conn: Connection,
    *,
    start: date,
    end: date,
    as_of: datetime,
    config: dict[str, Any],
    run_window: tuple[date, date] | None = None,
    work_mem: str = "64MB",
) -> Live:
    """The figures of the days [start, end) as of `as_of`, and the amounts at stake of the
    latest succeeded run over `run_window` (default: those days) with a cut-off by then."""
    prefixes, names = countries.prefixes()
    run_from, run_to = run_window or (start, end)
    steps: dict[str, float] = {}

    def took(step: str, seconds: float) -> None:
        steps[step] = round(seconds, 3)

    began = time.perf_counter()
    await conn.execute("DISCARD TEMP")
    try:
        async with conn.transaction(isolation="repeatable_read", readonly=False):
            await conn.execute(queries.get("report_work_mem"), work_mem)
            await store.prepare(
                conn,
                window_from=months.midnight(start),
                window_to=months.midnight(end),
                as_of=as_of,
                config=config,
                progress=took,
            )
            mark = time.perf_counter()
            result = Live(figures=await store.figures(conn, prefixes, names))
            took("report_figures", time.perf_counter() - mark)
            result.run = await store.latest_run(
                conn, months.midnight(run_from), months.midnight(run_to), as_of
            )
            if result.run is not None:
                mark = time.perf_counter()
                result.at_stake = await store.at_stake(conn, result.run.id, prefixes, names)
                took("report_at_stake", time.perf_counter() - mark)
    finally:
        with contextlib.suppress(Exception):
            await conn.execute("DISCARD TEMP")
    log.info(
        "finance_report_computed",
        start=str(start),
        end=str(end),
        seconds=round(time.perf_counter() - began, 3),
        steps=steps,
    )
    return result


async def compute(
    conn: Connection,
    *,
    start: date,
    end: date,
    dimensions: Sequence[str] = DIMENSIONS,
    config: dict[str, Any],
    as_of: datetime | None = None,
    work_mem: str = "64MB",
) -> FinanceReport:
    """The finance report of the days [start, end): closed months from their frozen figures,
    open ones computed as of `as_of` (default: now), with the adjustments of closed months
    shown in the first open month after them."""
    span = window(start, end)
    keys = group_by(dimensions)
    as_of = as_of or await now(conn)
    closed = {c.month: c for c in await store.closings(conn) if c.reopened_at is None}
    in_window = months.between(start, end)
    frozen = [m for m in in_window if m in closed]
    open_months = [m for m in in_window if m not in closed]

    figure_rows: list[store.FigureRow] = []
    stake_rows: list[store.StakeRow] = []
    adjustment_rows: list[store.AdjustmentRow] = []
    run: RunRef | None = None
    if open_months:
        first = max(start, open_months[0])
        last = min(end, months.following(open_months[-1]))
        computed = await live(
            conn,
            start=first,
            end=last,
            as_of=as_of,
            config=config,
            run_window=(start, end),
            work_mem=work_mem,
        )
        figure_rows += [r for r in computed.figures if months.of(r.day) not in closed]
        stake_rows += [r for r in computed.at_stake if months.of(r.day) not in closed]
        if computed.run is not None:
            run = _run_ref(computed.run)
        for month in open_months:
            adjustment_rows += await adjustments.shown_in(conn, month, closed, as_of)
    for month in frozen:
        closing = closed[month]
        day_from, day_to = max(start, month), min(end, months.following(month))
        figure_rows += await store.frozen_figures(conn, closing.id, day_from, day_to)
        stake_rows += await store.frozen_at_stake(conn, closing.id, day_from, day_to)
        adjustment_rows += await store.frozen_adjustments(conn, closing.id)
        if run is None and closing.run_id is not None:
            found = await runs.get(conn, closing.run_id)
            if found is not None:
                run = _run_ref(found)
    return document(
        span,
        keys,
        as_of,
        run,
        periods=[_period(m, closed.get(m)) for m in in_window],
        figure_rows=figure_rows,
        stake_rows=stake_rows,
        adjustment_rows=adjustment_rows,
        frozen=[months.name(m) for m in frozen],
    )


def _run_ref(row: store.RunRow | runs.Run) -> RunRef:
    return RunRef(
        id=row.id,
        window_from=row.window_from,
        window_to=row.window_to,
        as_of=row.as_of,
        finished_at=row.finished_at,
    )


def _period(month: date, closing: store.Closing | None) -> PeriodRef:
    if closing is None:
        return PeriodRef(month=months.name(month), state="open")
    return PeriodRef(
        month=months.name(month),
        state="closed",
        closed_at=closing.closed_at,
        closed_by=closing.closed_by,
        cut_off=closing.cut_off,
    )


# ---- rolling the day x group rows up into the document ------------------------------------


def _key_of(row: store.FigureRow | store.StakeRow, keys: Sequence[Dimension]) -> tuple[Any, ...]:
    return tuple(getattr(row, k) for k in keys)


def _order(key: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple((v is None, v or "") for v in key)


def _sum(rows: Sequence[store.FigureRow]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for name in _ADDITIVE:
        values = [getattr(r, name) for r in rows]
        total[name] = sum(values, Decimal(0)) if isinstance(values[0], Decimal) else sum(values)
    return total


def _share(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def _basis(s: dict[str, Any]) -> MarginBasis | None:
    if not s["costed"]:
        return None
    for basis in ("invoiced", "reported", "expected"):
        if s[f"basis_{basis}"] == s["costed"]:
            return basis
    return "mixed"


def _ledger(s: dict[str, Any]) -> Ledger:
    statuses = ("delivered", "read", "failed", "expired", "rejected", "pending")
    sent = s["messages"] == sum(s[k] for k in statuses)
    billed = (
        s["lines"] == s["matched_lines"] + s["unmatched_lines"]
        and s["invoiced"] == s["matched_amount"] + s["unmatched_amount"]
    )
    detail = (
        f"registered {s['messages']} = "
        + "+".join(str(s[k]) for k in statuses)
        + f"; invoiced {s['lines']} lines {s['invoiced']} = matched {s['matched_lines']} "
        f"{s['matched_amount']} + unmatched {s['unmatched_lines']} {s['unmatched_amount']}"
    )
    return Ledger(balances=sent and billed, detail=detail)


def _stakes(rows: Sequence[store.StakeRow]) -> list[AtStake]:
    by_rule: dict[str, list[store.StakeRow]] = defaultdict(list)
    for r in rows:
        by_rule[r.rule].append(r)
    return [
        AtStake(
            rule=rule,
            findings=sum(r.findings for r in found),
            amount=_amount(r.amount for r in found),
        )
        for rule, found in sorted(by_rule.items())
    ]


def _amount(values: Iterable[Decimal | None]) -> Decimal | None:
    known = [v for v in values if v is not None]
    return sum(known, Decimal(0)) if known else None


def _figures(
    key: dict[str, str | None], rows: Sequence[store.FigureRow], stakes: Sequence[store.StakeRow]
) -> Figures:
    s = _sum(rows)
    basis = _basis(s)
    return Figures(
        key=key,
        messages=Messages(
            total=s["messages"],
            delivered=s["delivered"],
            read=s["read"],
            failed=s["failed"],
            expired=s["expired"],
            rejected=s["rejected"],
            pending=s["pending"],
        ),
        segments=s["segments"],
        value=s["value"],
        expected_cost=s["expected_cost"],
        reported_cost=s["reported_cost"],
        invoiced=s["invoiced"],
        margin=s["margin"] if basis else None,
        cost=s["cost"] if basis else None,
        margin_basis=basis,
        at_stake=_stakes(stakes),
        completeness=Completeness(
            final=_share(s["final"], s["messages"]),
            priced=_share(s["priced"], s["messages"]),
            invoiced=_share(s["invoiced_messages"], s["messages"]),
            matched=_share(s["matched_lines"], s["lines"]),
        ),
        ledger=_ledger(s),
    )


def _grouped(
    keys: Sequence[Dimension],
    figure_rows: Sequence[store.FigureRow],
    stake_rows: Sequence[store.StakeRow],
) -> list[Figures]:
    rows: dict[tuple[Any, ...], list[store.FigureRow]] = defaultdict(list)
    stakes: dict[tuple[Any, ...], list[store.StakeRow]] = defaultdict(list)
    for r in figure_rows:
        rows[_key_of(r, keys)].append(r)
    for s in stake_rows:
        stakes[_key_of(s, keys)].append(s)
    empty = _empty_row()
    found = []
    for key in sorted(set(rows) | set(stakes), key=_order):
        found.append(
            _figures(dict(zip(keys, key, strict=True)), rows.get(key) or [empty], stakes[key])
        )
    return found


def _empty_row() -> store.FigureRow:
    zero: dict[str, Any] = {
        name: Decimal(0)
        if name
        in (
            "value",
            "expected_cost",
            "reported_cost",
            "invoiced",
            "margin",
            "cost",
            "matched_amount",
            "unmatched_amount",
        )
        else 0
        for name in _ADDITIVE
    }
    return store.FigureRow(
        day=date.min, provider="", channel=None, country=None, currency=None, **zero
    )


def _daily(figure_rows: Sequence[store.FigureRow]) -> list[Day]:
    by_day: dict[tuple[date, str | None], list[store.FigureRow]] = defaultdict(list)
    for r in figure_rows:
        by_day[(r.day, r.currency)].append(r)
    days = []
    for (day, currency), rows in sorted(
        by_day.items(), key=lambda item: (item[0][0], item[0][1] is None, item[0][1] or "")
    ):
        s = _sum(rows)
        days.append(
            Day(
                day=day,
                currency=currency,
                messages=s["messages"],
                value=s["value"],
                margin=s["margin"] if s["costed"] else None,
            )
        )
    return days


def _rule_totals(stake_rows: Sequence[store.StakeRow]) -> list[RuleTotal]:
    by_rule: dict[tuple[str, str | None], list[store.StakeRow]] = defaultdict(list)
    for r in stake_rows:
        by_rule[(r.rule, r.currency)].append(r)
    return [
        RuleTotal(
            rule=rule,
            currency=currency,
            findings=sum(r.findings for r in rows),
            amount=_amount(r.amount for r in rows),
        )
        for (rule, currency), rows in sorted(
            by_rule.items(), key=lambda item: (item[0][0], item[0][1] is None, item[0][1] or "")
        )
    ]


def document(
    span: Window,
    keys: Sequence[Dimension],
    as_of: datetime,
    run: RunRef | None,
    *,
    periods: list[PeriodRef],
    figure_rows: Sequence[store.FigureRow],
    stake_rows: Sequence[store.StakeRow],
    adjustment_rows: Sequence[store.AdjustmentRow],
    frozen: list[str],
) -> FinanceReport:
    """The document of these rows, grouped by `keys`."""
    figure_rows = [r for r in figure_rows if span.start <= r.day < span.end]
    return FinanceReport(
        window=span,
        as_of=as_of,
        group_by=list(keys),
        run=run,
        periods=periods,
        groups=_grouped(keys, figure_rows, stake_rows),
        totals=_grouped(("currency",), figure_rows, stake_rows),
        daily=_daily(figure_rows),
        findings=_rule_totals(stake_rows),
        adjustments=[
            Adjustment(
                month=months.name(a.month),
                kind=a.kind,
                provider=a.provider,
                currency=a.currency,
                message_id=a.message_id,
                invoice_line_id=a.invoice_line_id,
                field=a.field,
                amount=a.amount,
                count=a.count,
                reason=a.reason,
            )
            for a in adjustment_rows
        ],
        frozen=frozen,
    )
