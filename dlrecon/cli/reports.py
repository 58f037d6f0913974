"""`dlrecon report finance`, `dlrecon period close|reopen|list`."""

from __future__ import annotations

import getpass
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from dlrecon.cli import database, output
from dlrecon.cli.context import Context, pass_context
from dlrecon.settings import Settings
from receiver.db.pool import connection
from receiver.errors import InvalidInput
from receiver.exactjson import dumps
from reconcile.reports import finance, html, months, periods, tabular
from reconcile.reports.document import DIMENSIONS, FinanceReport
from reconcile.reports.views import PeriodView, period_view
from reconcile.settings import ReconcileConfig

REPORT_FORMATS = click.Choice(["table", "json", "csv", "xlsx", "html"])


class Day(click.ParamType[date]):
    """An ISO 8601 date (2026-11-01)."""

    name = "DATE"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.fail(f"{value!r} is not an ISO 8601 date (e.g. 2026-11-01)")


DAY = Day()


@click.group("report")
def report() -> None:
    """Reports for finance."""


@report.command("finance")
@click.option("--from", "start", type=DAY, required=True, help="First day (UTC).")
@click.option("--to", "end", type=DAY, required=True, help="The day after the last (exclusive).")
@click.option(
    "--group-by",
    default=",".join(DIMENSIONS),
    show_default=True,
    help="Comma-separated subset of provider, channel, country, currency (currency is always "
    "added).",
)
@click.option("--format", "fmt", type=REPORT_FORMATS, default="table", show_default=True)
@click.option(
    "--output",
    "target",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write the report to this file instead of stdout (xlsx needs one unless piped).",
)
@pass_context
def finance_report(
    ctx: Context, start: date, end: date, group_by: str, fmt: str, target: Path | None
) -> None:
    """The finance report of the days [--from, --to): figures per group and currency, daily
    series, amounts at stake, completeness, closed periods and their adjustments."""
    if fmt == "xlsx" and target is None and sys.stdout.isatty():
        raise click.ClickException("xlsx is a binary file: give --output FILE (or pipe it)")
    s = ctx.settings
    with database.database_url(s) as url:
        try:
            doc = database.run(_compute(s, url, start, end, group_by.split(",")))
        except InvalidInput as exc:
            raise click.ClickException(str(exc)) from None
    if fmt == "xlsx":
        data = tabular.xlsx_bytes(doc)
        if target is None:
            sys.stdout.buffer.write(data)
        else:
            target.write_bytes(data)
        return
    if fmt == "json":
        text = dumps(doc.to_json(), indent=2) + "\n"
    elif fmt == "csv":
        text = tabular.csv_text(doc)
    elif fmt == "html":
        text = html.render(doc)
    else:
        text = table(doc) + "\n"
    if target is None:
        click.echo(text, nl=False)
    else:
        target.write_text(text, encoding="utf-8")


async def _compute(
    s: Settings, url: str, start: date, end: date, group_by: list[str]
) -> FinanceReport:
    config = ReconcileConfig.of(s)
    async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
        return await finance.compute(
            conn,
            start=start,
            end=end,
            dimensions=group_by,
            config=config.run_config(),
            work_mem=s.reconcile.work_mem,
        )


_TABLE_SECTIONS = ("Totals", "Groups", "Findings", "Adjustments")
_TABLE_COLUMNS = {
    "Totals": ("currency", "messages", "pending", "value", "expected_cost", "reported_cost",
               "invoiced", "margin", "margin_basis", "at_stake", "share_final", "share_priced",
               "share_invoiced", "share_matched", "ledger_balances"),
    "Groups": ("messages", "pending", "value", "expected_cost", "reported_cost", "invoiced",
               "margin", "margin_basis", "at_stake", "share_final", "share_invoiced"),
    "Findings": ("rule", "currency", "findings", "amount"),
    "Adjustments": ("month", "kind", "field", "amount", "currency", "count", "reason"),
}  # fmt: skip


def _cell(value: Any) -> Any:
    return f"{value:.1%}" if isinstance(value, float) else value


def table(doc: FinanceReport) -> str:
    """The report for people: its window and periods, then totals, groups, findings and
    adjustments as text tables (every figure with --format json, csv or xlsx)."""
    run = doc.run
    lines = [
        f"finance report {doc.window.start} .. {doc.window.end} (exclusive), as of "
        f"{doc.as_of.isoformat(timespec='seconds')}",
        f"run: {run.id} ({run.window_from:%Y-%m-%d %H:%M} .. {run.window_to:%Y-%m-%d %H:%M}, "
        f"as of {run.as_of:%Y-%m-%d %H:%M})"
        if run
        else "run: none overlaps the window (no amounts at stake)",
    ]
    lines += [
        f"period {p.month}: {p.state}"
        + (f" (closed by {p.closed_by}, cut-off {p.cut_off:%Y-%m-%d %H:%M})" if p.cut_off else "")
        for p in doc.periods
    ]
    for section in tabular.tables(doc):
        if section.name not in _TABLE_SECTIONS or not section.rows:
            continue
        columns = _TABLE_COLUMNS[section.name]
        if section.name == "Groups":
            columns = (*doc.group_by, *columns)
        rows = [{k: _cell(v) for k, v in row.items()} for row in tabular.rows_of(section)]
        lines += ["", f"{section.name}:", output.table(rows, columns)]
    return "\n".join(lines)


@click.group("period")
def period() -> None:
    """Finance periods (months): close one to freeze its report, reopen it (with a reason)."""


@period.command("close")
@click.argument("month")
@click.option("--by", help="Who (default: your user name).")
@pass_context
def close(ctx: Context, month: str, by: str | None) -> None:
    """Close MONTH (YYYY-MM, ended): its report's figures are frozen as of now; what arrives
    later for it shows as adjustments in the next open month's report."""
    s = ctx.settings
    with database.database_url(s) as url:
        try:
            closing = database.run(_close(s, url, months.parse(month), by or getpass.getuser()))
        except InvalidInput as exc:
            raise click.ClickException(str(exc)) from None
        except periods.PeriodState as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(
        f"{months.name(closing.month)} closed by {closing.closed_by}, figures frozen as of "
        f"{closing.cut_off.isoformat(timespec='seconds')}"
        + (f" (amounts at stake from run {closing.run_id})" if closing.run_id else "")
    )


async def _close(s: Settings, url: str, month: date, by: str) -> Any:
    config = ReconcileConfig.of(s)
    async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
        return await periods.close(
            conn, month, by=by, config=config.run_config(), work_mem=s.reconcile.work_mem
        )


@period.command("reopen")
@click.argument("month")
@click.option("--reason", required=True, help="Why it is reopened (recorded).")
@click.option("--by", help="Who (default: your user name).")
@pass_context
def reopen(ctx: Context, month: str, reason: str, by: str | None) -> None:
    """Reopen MONTH: its report is computed again from then on (who, when, why recorded)."""
    s = ctx.settings
    with database.database_url(s) as url:
        try:
            closing = database.run(
                _reopen(s, url, months.parse(month), by or getpass.getuser(), reason)
            )
        except (InvalidInput, periods.PeriodState) as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"{months.name(closing.month)} reopened by {closing.reopened_by}: {reason}")


async def _reopen(s: Settings, url: str, month: date, by: str, reason: str) -> Any:
    async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
        return await periods.reopen(conn, month, by=by, reason=reason)


@period.command("list")
@click.option("--format", "fmt", type=output.FORMATS, default="table", show_default=True)
@pass_context
def list_periods(ctx: Context, fmt: str) -> None:
    """Every month ever closed, with its state; json: every closing and reopening."""
    s = ctx.settings
    with database.database_url(s) as url:
        found = database.run(_list(s, url))
    if fmt == "json":
        output.echo_json([p.to_json() for p in found])
        return
    rows = []
    for p in found:
        last = p.history[-1]
        rows.append(
            {
                "month": p.month,
                "state": p.state,
                "closed_at": last.closed_at,
                "closed_by": last.closed_by,
                "reopened_at": last.reopened_at,
                "reopened_by": last.reopened_by,
                "reason": last.reopen_reason,
            }
        )
    columns = ("month", "state", "closed_at", "closed_by", "reopened_at", "reopened_by", "reason")
    click.echo(output.render(rows, columns, fmt))


async def _list(s: Settings, url: str) -> list[PeriodView]:
    async with database.pool(s, url, size=1) as pool, connection(pool) as conn:
        return [period_view(p) for p in await periods.listing(conn)]
