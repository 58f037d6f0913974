"""The finance report as tables (one per section), rendered as CSV and as an Excel workbook:
both read the document only, so they say what the JSON says."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Literal

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter

from reconcile.reports.document import Figures, FinanceReport

Kind = Literal["text", "int", "money", "share", "bool", "date", "time"]
Cell = str | int | float | bool | Decimal | date | datetime | None


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    kind: Kind = "text"


@dataclass(frozen=True, slots=True)
class Table:
    """One section: its columns, and rows of cells with the currency of their amounts."""

    name: str
    columns: tuple[Column, ...]
    rows: tuple[tuple[tuple[Cell, ...], str | None], ...]


_FIGURES = (
    Column("messages", "int"),
    Column("delivered", "int"),
    Column("read", "int"),
    Column("failed", "int"),
    Column("expired", "int"),
    Column("rejected", "int"),
    Column("pending", "int"),
    Column("segments", "int"),
    Column("value", "money"),
    Column("expected_cost", "money"),
    Column("reported_cost", "money"),
    Column("invoiced", "money"),
    Column("margin", "money"),
    Column("cost", "money"),
    Column("margin_basis"),
    Column("findings", "int"),
    Column("at_stake", "money"),
    Column("share_final", "share"),
    Column("share_priced", "share"),
    Column("share_invoiced", "share"),
    Column("share_matched", "share"),
    Column("ledger_balances", "bool"),
    Column("ledger_detail"),
)


def _figure_cells(f: Figures) -> tuple[Cell, ...]:
    m, c = f.messages, f.completeness
    known = [s.amount for s in f.at_stake if s.amount is not None]
    return (
        m.total,
        m.delivered,
        m.read,
        m.failed,
        m.expired,
        m.rejected,
        m.pending,
        f.segments,
        f.value,
        f.expected_cost,
        f.reported_cost,
        f.invoiced,
        f.margin,
        f.cost,
        f.margin_basis,
        sum(s.findings for s in f.at_stake),
        sum(known, Decimal(0)) if known else None,
        c.final,
        c.priced,
        c.invoiced,
        c.matched,
        f.ledger.balances,
        f.ledger.detail,
    )


def tables(doc: FinanceReport) -> list[Table]:
    """The sections of the report, in the order a reader wants them."""
    keys = tuple(Column(k) for k in doc.group_by)
    run = doc.run
    summary_rows: list[tuple[tuple[Cell, ...], str | None]] = [
        (("window from", doc.window.start), None),
        (("window to (exclusive)", doc.window.end), None),
        (("as of", doc.as_of), None),
        (("group by", ", ".join(doc.group_by)), None),
        (("reconciliation run", run.id if run else "none"), None),
    ]
    if run is not None:
        summary_rows += [
            (("run window from", run.window_from), None),
            (("run window to", run.window_to), None),
            (("run as of", run.as_of), None),
        ]
    summary_rows += [
        (
            (f"period {p.month}", p.state + (f", closed by {p.closed_by}" if p.closed_by else "")),
            None,
        )
        for p in doc.periods
    ]
    if doc.frozen:
        summary_rows.append((("frozen months", ", ".join(doc.frozen)), None))
    return [
        Table("Summary", (Column("item"), Column("value")), tuple(summary_rows)),
        Table(
            "Totals",
            (Column("currency"), *_FIGURES),
            tuple(((t.key["currency"], *_figure_cells(t)), t.key["currency"]) for t in doc.totals),
        ),
        Table(
            "Groups",
            (*keys, *_FIGURES),
            tuple(
                ((*(g.key[k] for k in doc.group_by), *_figure_cells(g)), g.key["currency"])
                for g in doc.groups
            ),
        ),
        Table(
            "At stake",
            (*keys, Column("rule"), Column("findings", "int"), Column("amount", "money")),
            tuple(
                (
                    (*(g.key[k] for k in doc.group_by), s.rule, s.findings, s.amount),
                    g.key["currency"],
                )
                for g in doc.groups
                for s in g.at_stake
            ),
        ),
        Table(
            "Findings",
            (
                Column("rule"),
                Column("currency"),
                Column("findings", "int"),
                Column("amount", "money"),
            ),
            tuple(((f.rule, f.currency, f.findings, f.amount), f.currency) for f in doc.findings),
        ),
        Table(
            "Daily",
            (
                Column("day", "date"),
                Column("currency"),
                Column("messages", "int"),
                Column("value", "money"),
                Column("margin", "money"),
            ),
            tuple(
                ((d.day, d.currency, d.messages, d.value, d.margin), d.currency) for d in doc.daily
            ),
        ),
        Table(
            "Adjustments",
            (
                Column("month"),
                Column("kind"),
                Column("provider"),
                Column("currency"),
                Column("message_id", "int"),
                Column("invoice_line_id", "int"),
                Column("field"),
                Column("amount", "money"),
                Column("count", "int"),
                Column("reason"),
            ),
            tuple(
                (
                    (
                        a.month,
                        a.kind,
                        a.provider,
                        a.currency,
                        a.message_id,
                        a.invoice_line_id,
                        a.field,
                        a.amount,
                        a.count,
                        a.reason,
                    ),
                    a.currency,
                )
                for a in doc.adjustments
            ),
        ),
    ]


# ---- CSV: every section in one file, its name in the first column --------------------------


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def csv_text(doc: FinanceReport) -> str:
    """Every section but the summary as rows `section,<its columns>`: a header line per section
    (starting with `section`), then its rows; amounts exact, as in the JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    for table in tables(doc)[1:]:
        writer.writerow(["section", *(c.name for c in table.columns)])
        for cells, _ in table.rows:
            writer.writerow([table.name, *(_csv_cell(v) for v in cells)])
    return out.getvalue()


# ---- Excel ------------------------------------------------------------------------------------


def _money_format(currency: str | None, places: int) -> str:
    number = "#,##0" + ("." + "0" * places if places else "")
    label = f' "{currency}"' if currency else ""
    return f"{number}{label};-{number}{label}"


def _places(doc_tables: Sequence[Table]) -> int:
    """As many decimal places as the most precise amount of the report (at least 2)."""
    places = 2
    for table in doc_tables:
        for cells, _ in table.rows:
            for value in cells:
                if isinstance(value, Decimal):
                    exponent = value.as_tuple().exponent
                    if isinstance(exponent, int):
                        places = max(places, -exponent)
    return min(places, 10)


def _formats(places: int) -> dict[Kind, Callable[[str | None], str | None]]:
    return {
        "money": lambda currency: _money_format(currency, places),
        "share": lambda currency: "0.0%",
        "int": lambda currency: "#,##0",
        "date": lambda currency: "yyyy-mm-dd",
        "time": lambda currency: "yyyy-mm-dd hh:mm:ss",
        "text": lambda currency: None,
        "bool": lambda currency: None,
    }


def _excel_value(value: Cell) -> Cell:
    if isinstance(value, datetime) and value.tzinfo is not None:
        # Excel has no time zones: times are written in UTC
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def xlsx_bytes(doc: FinanceReport) -> bytes:
    """A workbook with one sheet per section: numbers as numbers (amounts with their currency as
    the number format, shares as percentages), the header row frozen."""
    doc_tables = tables(doc)
    formats = _formats(_places(doc_tables))
    book = Workbook()
    book.remove(book.active)  # type: ignore[arg-type]
    bold = Font(bold=True)
    for table in doc_tables:
        sheet = book.create_sheet(table.name)
        sheet.append([c.name for c in table.columns])
        for cell in sheet[1]:
            cell.font = bold
        for cells, currency in table.rows:
            sheet.append([_excel_value(v) for v in cells])
            row = sheet.max_row
            for index, column in enumerate(table.columns, start=1):
                kind = "time" if isinstance(cells[index - 1], datetime) else column.kind
                if isinstance(cells[index - 1], date) and kind == "text":
                    kind = "date"
                number_format = formats[kind](currency)
                if number_format is not None:
                    sheet.cell(row=row, column=index).number_format = number_format
                if column.kind in ("money", "int", "share"):
                    sheet.cell(row=row, column=index).alignment = Alignment(horizontal="right")
        sheet.freeze_panes = "A2"
        for index, column in enumerate(table.columns, start=1):
            width = max([len(column.name), *(len(_csv_cell(r[0][index - 1])) for r in table.rows)])
            sheet.column_dimensions[get_column_letter(index)].width = min(max(width + 2, 8), 60)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def rows_of(table: Table) -> Iterator[dict[str, Cell]]:
    """A table's rows as mappings (for the CLI's table format)."""
    for cells, _ in table.rows:
        yield dict(zip((c.name for c in table.columns), cells, strict=True))
