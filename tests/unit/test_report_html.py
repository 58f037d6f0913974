"""The finance report page rendered from hand-built documents: every figure shown equals the
document's (amounts exactly, with their currency), nothing number-like outside a figure, each
section there or saying why not (no run, nothing in the window), no external asset."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from reconcile.reports import html
from reconcile.reports.document import FinanceReport
from tests.support import report_documents as documents
from tests.support import report_page

CASES = {
    "full": documents.full,
    "without_run": documents.without_run,
    "single_currency": documents.single_currency,
    "empty": documents.empty,
}


@pytest.mark.parametrize("name", CASES)
def test_every_figure_shown_is_the_documents(name: str) -> None:
    doc = CASES[name]()
    page = html.render(doc)
    shown, stray = report_page.parse(page)
    assert report_page.problems(shown, doc) == []
    assert stray == []


def test_the_model_and_its_json_render_the_same() -> None:
    doc = documents.full()
    assert html.render(FinanceReport.model_validate(doc)) == html.render(doc)


def test_no_external_asset_and_a_print_stylesheet() -> None:
    page = html.render(documents.full())
    assert not re.search(r"""(src|href)=["'](https?:)?//""", page)
    assert "<script" not in page
    assert "@media print" in page and "@page" in page and "break-before:page" in page


def test_the_top_states_window_as_of_run_and_periods() -> None:
    page = html.render(documents.full())
    top = page[: page.index('id="charts-INR"')]
    assert "Finance report · November 2026" in top
    assert 'data-k="run|id">12<' in top and "2026-10 closed" in top
    for key in ("t|INR|value", "t|INR|margin", "t|INR|completeness|final", "t|SGD|cost"):
        assert f'data-k="{key}"' in top
    assert "<svg" in top  # a chart on the first screen


def test_without_a_run_the_page_says_so() -> None:
    page = html.render(documents.without_run())
    assert 'id="no-run"' in page and "no reconciliation run covers this window" in page
    assert 'data-k="t|INR|at_stake">no run<' not in page  # the tile says it in words
    assert "run|id" not in page


def test_an_empty_report() -> None:
    page = html.render(documents.empty())
    assert 'id="empty"' in page and "nothing to report" in page
    assert "No message in this window." in page
    assert "None: nothing arrived for a closed month" in page


def test_currencies_are_never_added_or_charted_together() -> None:
    page = html.render(documents.full())
    for svg in re.findall(r"<svg.*?</svg>", page, re.S):
        codes = set(re.findall(r"\b(INR|SGD)\b", svg))
        assert len(codes) <= 1, codes
    assert page.count("<tfoot>") >= 4  # per-currency totals


def test_adjustments_with_their_reasons_and_totals_per_currency() -> None:
    page = html.render(documents.full())
    section = page[page.index('id="adjustments"') : page.index('id="ledger"')]
    assert "a delivered DLR for message 123 arrived" in section
    assert 'data-k="at|SGD|amount">0.035 SGD<' in section


def test_amounts_keep_every_digit_of_the_document() -> None:
    assert html.amount(Decimal("0.0035"), "SGD") == "0.0035 SGD"
    assert html.amount(Decimal("1234567.5000"), "INR") == "1,234,567.50 INR"
    assert html.amount(Decimal("100"), "JPY") == "100 JPY"
    assert html.amount(Decimal("-12.3450"), "USD") == "-12.345 USD"
    assert html.amount(None, "USD") == "-"
    assert html.number(Decimal("1840.5000"), "INR") == "1,840.50"
    assert html.share(0.9585) == "95.9%" and html.share(None) == "-" and html.share(1.0) == "100.0%"


def test_window_labels() -> None:
    from datetime import date

    assert html.window_label(date(2026, 11, 1), date(2026, 12, 1)) == "November 2026"
    assert html.window_label(date(2026, 12, 1), date(2027, 1, 1)) == "December 2026"
    assert html.window_label(date(2026, 12, 1), date(2026, 12, 8)) == "1 Dec 2026 to 7 Dec 2026"


def test_the_comparison_sees_a_figure_that_differs() -> None:
    doc = documents.full()
    shown, _ = report_page.parse(html.render(doc))
    changed = documents.full()
    changed["groups"][0]["value"] = "12.3401"
    changed["totals"][1]["completeness"]["final"] = 0.5
    found = report_page.problems(shown, changed)
    assert any(p.startswith("g|velip|sms|IN|INR|value:") for p in found)
    assert any(p.startswith("t|SGD|completeness|final:") for p in found)


def test_charts_draw_the_largest_groups_and_say_so() -> None:
    doc = documents.single_currency()
    template = doc["groups"][1]
    doc["groups"] = [
        {
            **template,
            "key": {**template["key"], "provider": f"p{n:02d}"},
            "messages": {**template["messages"], "total": 1000 + n},
        }
        for n in range(20)
    ]
    page = html.render(doc)
    assert "Status mix per group, INR (the 12 largest of 20)" in page
    charts_section = page[page.index('id="charts-INR"') : page.index('id="groups-INR"')]
    assert "p19 · sms · IN" in charts_section and "p07 · sms · IN" not in charts_section
    tables = page[page.index('id="groups-INR"') :]
    assert all(f"p{n:02d} · sms · IN" in tables for n in range(20))
