"""The finance report as a page for people: one HTML document, server-rendered from the
report document alone (`FinanceReport`, the JSON format), with its CSS and its charts (inline
SVG, `charts`) inside, printable on A4 and Letter.

Every figure on the page is written from the document's exact values (amounts as Decimal,
never through float) and carries a `data-k` attribute naming where it comes from, so a test
can compare the page with the JSON document figure by figure (`tests/unit/test_report_html.py`,
`tests/acceptance/test_report_browser.py`). Amounts of different currencies are never added,
charted or tabled together: every section is per currency."""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from babel.numbers import format_currency, format_decimal
from markupsafe import Markup

from reconcile import pages
from reconcile.reports import charts
from reconcile.reports.document import Figures, FinanceReport, Window

PACKAGE = "reconcile.pages"
TEMPLATE = "finance_report.html"
LOCALE = "en"
NO_CURRENCY = "-"  # the key of the figures whose messages had no currency
STATUSES = ("delivered", "read", "failed", "expired", "rejected", "pending")
STATUS_COLOURS = {
    "delivered": "#1f7a3d",
    "read": "#59a86b",
    "failed": "#b3261e",
    "expired": "#c77800",
    "rejected": "#6b3fa0",
    "pending": "#a3abb8",
}
COSTS = (
    ("value", "value charged", "#1d4ed8"),
    ("expected_cost", "expected cost", "#94a3b8"),
    ("reported_cost", "reported cost", "#e08a00"),
    ("invoiced", "invoiced", "#0f766e"),
)
SHARES = (
    ("final", "final", "#1d4ed8"),
    ("priced", "priced by the provider", "#e08a00"),
    ("invoiced", "invoiced", "#0f766e"),
    ("matched", "invoice lines matched", "#6b3fa0"),
)
BASIS_TEXT = {
    "invoiced": "margin on invoiced cost",
    "reported": "margin on provider-reported cost",
    "expected": "margin on expected cost (rate card)",
    "mixed": "margin on the best cost known per message (mixed)",
    None: "no cost known yet: no margin",
}


BASIS_COST = {
    "invoiced": "invoiced cost",
    "reported": "provider-reported cost",
    "expected": "expected cost (rate card)",
    "mixed": "best known cost per message",
}


def amount(value: Decimal | None, currency: str | None) -> str:
    """An amount with its currency's digits (and more when the exact value has them: nothing is
    rounded away), grouped, then the currency code: `1,234.50 INR`; "-" when unknown."""
    if value is None:
        return "-"
    if not currency or currency == NO_CURRENCY:
        return number(value)
    return str(
        format_currency(
            value, currency, format="#,##0.00 ¤¤", locale=LOCALE, decimal_quantization=False
        )
    )


def number(value: Decimal | None, currency: str | None = None) -> str:
    """An amount without its code (in a table whose header names the currency)."""
    if value is None:
        return "-"
    if currency and currency != NO_CURRENCY:
        return amount(value, currency).rsplit(" ", 1)[0]
    return str(format_decimal(value, format="#,##0.##", locale=LOCALE, decimal_quantization=False))


def count(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def share(value: float | None) -> str:
    """A share of the document (a float in [0, 1]) as a percentage with one decimal, from its
    exact JSON text."""
    if value is None:
        return "-"
    percent = (Decimal(repr(value)) * 100).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return f"{percent}%"


def percent(value: Decimal | None) -> str:
    if value is None:
        return "-"
    return f"{(value * 100).quantize(Decimal('0.1'), ROUND_HALF_UP)}%"


def best_cost(figures: Figures) -> Decimal | None:
    """The cost the margin used (the document's `cost`; None when no cost is known)."""
    return None if figures.cost is None else Decimal(figures.cost)


def margin_share(figures: Figures) -> Decimal | None:
    """The margin as a share of the value of the messages it covers (value - margin is not
    that value: messages without a cost have a value but no margin): margin / (margin + cost)."""
    if figures.margin is None or figures.cost is None:
        return None
    covered = Decimal(figures.margin) + Decimal(figures.cost)
    return None if covered <= 0 else Decimal(figures.margin) / covered


def window_label(start: date, end: date) -> str:
    """`November 2026` for a whole month, `1 Nov 2026 to 30 Nov 2026` otherwise (the last day
    included; the document's `to` is exclusive)."""
    last = end - timedelta(days=1)
    if start.day == 1 and end == _next_month(start):
        return f"{calendar.month_name[start.month]} {start.year}"
    return f"{start:%-d %b %Y} to {last:%-d %b %Y}"


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def group_key(doc: FinanceReport, figures: Figures) -> str:
    """`g|velip|sms|IN|INR`: the group's key fields in group_by order ("-" for none)."""
    return "g|" + "|".join(figures.key.get(d) or "-" for d in doc.group_by)


def group_label(doc: FinanceReport, figures: Figures) -> str:
    """The group's key without its currency (every section is already per currency)."""
    parts = [figures.key.get(d) or "-" for d in doc.group_by if d != "currency"]
    return " · ".join(parts) if parts else "all"


@dataclass
class Row:
    """A group or a currency's total as the template shows it."""

    key: str
    label: str
    figures: Figures
    currency: str
    has_run: bool

    @property
    def at_stake(self) -> Decimal | None:
        """What the run's findings put at stake in the group (None: no run)."""
        if not self.has_run:
            return None
        return sum((a.amount for a in self.figures.at_stake if a.amount is not None), Decimal(0))

    @property
    def cost(self) -> Decimal | None:
        return best_cost(self.figures)

    @property
    def margin_share(self) -> Decimal | None:
        return margin_share(self.figures)


@dataclass
class Currency:
    """Everything of the report in one currency."""

    code: str
    name: str
    total: Row
    groups: list[Row]
    days: list[Any]
    findings: list[Any]
    adjustments: list[Any]
    charts: dict[str, Markup]

    @property
    def findings_total(self) -> tuple[int, Decimal]:
        return (
            sum(f.findings for f in self.findings),
            sum((f.amount for f in self.findings if f.amount is not None), Decimal(0)),
        )


CHART_GROUPS = 12  # groups drawn in a chart; the tables have all of them


def _largest(groups: Sequence[Row]) -> list[Row]:
    """The groups a chart draws: all, or the CHART_GROUPS largest by messages then value, in
    the report's order."""
    if len(groups) <= CHART_GROUPS:
        return list(groups)
    ranked = sorted(
        range(len(groups)),
        key=lambda i: (-groups[i].figures.messages.total, -groups[i].figures.value, i),
    )
    keep = set(ranked[:CHART_GROUPS])
    return [g for i, g in enumerate(groups) if i in keep]


def _charts(
    window: Window,
    as_of: date,
    code: str,
    name: str,
    groups: Sequence[Row],
    days: Sequence[Any],
    findings: Sequence[Any],
) -> dict[str, Markup]:
    shown = _largest(groups)
    of = f" (the {len(shown)} largest of {len(groups)})" if len(shown) < len(groups) else ""
    groups = shown
    labels = [g.label for g in groups]
    by_day = {d.day: d for d in days}
    # every day of the window up to its end or as_of (no future days), a day without
    # messages at 0
    start = min([window.start, *by_day])
    last = max([min(window.end - timedelta(days=1), as_of), *by_day], default=start)
    every_day = [start + timedelta(days=n) for n in range((last - start).days + 1)] if days else []
    money = lambda v: number(v, code)  # noqa: E731 - a formatter for the chart's ticks
    out = {
        "status": charts.stacked_shares(
            f"Status mix per group, {name}{of}",
            labels,
            [
                charts.Series(
                    s, STATUS_COLOURS[s], [getattr(g.figures.messages, s) for g in groups]
                )
                for s in STATUSES
            ],
            [
                charts.Note(f"{count(g.figures.messages.total)} msgs", f"{g.key}|messages|total")
                for g in groups
            ],
        ),
        "money": charts.grouped_bars(
            f"Value and costs per group, {name}{of}",
            labels,
            [
                charts.Series(name, colour, [Decimal(getattr(g.figures, f)) for g in groups])
                for f, name, colour in COSTS
            ],
            tick=money,
            axis=f"amount ({name})",
        ),
        "completeness": charts.grouped_bars(
            f"Completeness per group, {name}{of}",
            labels,
            [
                charts.Series(
                    name,
                    colour,
                    [
                        None
                        if (v := getattr(g.figures.completeness, f)) is None
                        else Decimal(repr(v)) * 100
                        for g in groups
                    ],
                )
                for f, name, colour in SHARES
            ],
            tick=lambda v: f"{v}%",
            axis="share of messages (matched: of invoice lines)",
            ticks=[Decimal(v) for v in (0, 25, 50, 75, 100)],
        ),
        "findings": charts.bars(
            f"Amount at stake by rule, {name}",
            [f.rule.replace("_", " ") for f in findings],
            [f.amount for f in findings],
            "#b3261e",
            tick=money,
            axis=f"amount at stake ({name})",
            notes=[
                charts.Note(f"{count(f.findings)} found", f"f|{f.rule}|{code}|findings")
                for f in findings
            ],
        ),
        "daily": charts.time_series(
            f"Messages and margin per day, {name}",
            every_day,
            [
                charts.Panel(
                    "messages",
                    "#1d4ed8",
                    [by_day[d].messages if d in by_day else 0 for d in every_day],
                    lambda v: number(v),
                ),
                charts.Panel(
                    "margin",
                    "#1f7a3d",
                    [by_day[d].margin if d in by_day else None for d in every_day],
                    money,
                    axis=name,
                ),
            ],
        ),
    }
    return out


def currencies(doc: FinanceReport) -> list[Currency]:
    """The report split by currency."""
    out = []
    # the biggest first (its charts are on the first screen), figures without a currency last
    ordered = sorted(
        doc.totals,
        key=lambda t: (
            t.key.get("currency") is None,
            -t.messages.total,
            -t.value,
            t.key.get("currency") or "",
        ),
    )
    for total in ordered:
        code = total.key.get("currency") or NO_CURRENCY
        name = "no currency" if code == NO_CURRENCY else code
        groups = [
            Row(group_key(doc, g), group_label(doc, g), g, code, doc.run is not None)
            for g in doc.groups
            if (g.key.get("currency") or NO_CURRENCY) == code
        ]
        days = [d for d in doc.daily if (d.currency or NO_CURRENCY) == code]
        findings = [f for f in doc.findings if (f.currency or NO_CURRENCY) == code]
        adjustments = [a for a in doc.adjustments if (a.currency or NO_CURRENCY) == code]
        out.append(
            Currency(
                code=code,
                name=name,
                total=Row(f"t|{code}", f"total {code}", total, code, doc.run is not None),
                groups=groups,
                days=days,
                findings=findings,
                adjustments=adjustments,
                charts=_charts(doc.window, doc.as_of.date(), code, name, groups, days, findings),
            )
        )
    return out


def render(doc: FinanceReport | Mapping[str, Any]) -> str:
    """The finance report page (a whole HTML document) of `doc`, the report document or its
    JSON."""
    report = doc if isinstance(doc, FinanceReport) else FinanceReport.model_validate(doc)
    by_currency = currencies(report)
    closed = [p for p in report.periods if p.state == "closed"]
    adjusted = sorted({a.currency for a in report.adjustments if a.currency})
    adjustment_totals = {
        c: sum(
            (a.amount for a in report.adjustments if a.currency == c and a.amount is not None),
            Decimal(0),
        )
        for c in adjusted
    }
    return pages.render(
        PACKAGE,
        TEMPLATE,
        doc=report,
        label=window_label(report.window.start, report.window.end),
        last_day=report.window.end - timedelta(days=1),
        currencies=by_currency,
        closed=closed,
        adjustment_totals=adjustment_totals,
        statuses=STATUSES,
        status_colours=STATUS_COLOURS,
        shares=SHARES,
        basis_text=BASIS_TEXT,
        basis_cost=BASIS_COST,
        amount=amount,
        number=number,
        count=count,
        share=share,
        percent=percent,
    )
