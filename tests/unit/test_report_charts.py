"""The report's SVG charts: well-formed, accessible (title, desc, role), bars and lines where
the figures put them, exact tick values, the same markup for the same figures."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from decimal import Decimal

from reconcile.reports import charts

NS = {"s": "http://www.w3.org/2000/svg"}


def _tree(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _bars(root: ET.Element) -> list[ET.Element]:
    return root.findall(".//s:rect[s:title]", NS)


def test_ticks_are_round_exact_and_include_zero() -> None:
    assert charts.nice_ticks(Decimal(0), Decimal("1840.5")) == [
        Decimal(v) for v in (0, 500, 1000, 1500, 2000)
    ]
    assert charts.nice_ticks(Decimal("-3"), Decimal("17")) == [
        Decimal(v) for v in (-5, 0, 5, 10, 15, 20)
    ]
    assert charts.nice_ticks(Decimal("0.01"), Decimal("0.1035")) == [
        Decimal(v) for v in ("0", "0.05", "0.1", "0.15")
    ]
    assert charts.nice_ticks(Decimal(0), Decimal(0)) == [
        Decimal(v) for v in ("0", "0.25", "0.5", "0.75", "1")
    ]
    assert [str(t) for t in charts.nice_ticks(Decimal(0), Decimal(100))] == [
        "0",
        "25",
        "50",
        "75",
        "100",
    ]


def test_stacked_shares_fill_each_bar_in_proportion() -> None:
    svg = charts.stacked_shares(
        "Status mix, INR",
        ["a", "b"],
        [charts.Series("delivered", "#0a0", [3, 0]), charts.Series("failed", "#a00", [1, 0])],
        [
            charts.Note("4 msgs", "g|a|INR|messages|total"),
            charts.Note("0 msgs", "g|b|INR|messages|total"),
        ],
    )
    root = _tree(svg)
    assert root.get("role") == "img"
    assert root.find("s:title", NS).text == "Status mix, INR"
    assert root.find("s:desc", NS).text
    bars = _bars(root)
    assert [b.find("s:title", NS).text for b in bars] == ["a: delivered 3 of 4", "a: failed 1 of 4"]
    widths = [float(b.get("width")) for b in bars]
    assert abs(widths[0] - 3 * widths[1]) < 0.2
    plot = charts.WIDTH - charts.RIGHT - charts.LABEL_WIDTH
    assert abs(sum(widths) - plot) < 0.2
    assert re.search(r'data-k="g\|a\|INR\|messages\|total"[^>]*>4 msgs<', svg)
    assert {"delivered", "failed"} <= {
        t.text for t in root.iter("{http://www.w3.org/2000/svg}text")
    }


def test_grouped_bars_negative_values_and_unknowns() -> None:
    svg = charts.grouped_bars(
        "Margin, SGD",
        ["x", "y"],
        [
            charts.Series("margin", "#0a0", [Decimal("10.5"), Decimal("-5.25")]),
            charts.Series("cost", "#00a", [None, Decimal("2")]),
        ],
        tick=str,
        axis="amount (SGD)",
    )
    root = _tree(svg)
    bars = _bars(root)
    assert len(bars) == 3
    positive, negative = bars[0], bars[1]
    assert abs(float(positive.get("width")) - 2 * float(negative.get("width"))) < 0.2
    assert float(negative.get("x")) + float(negative.get("width")) <= float(positive.get("x")) + 0.1
    assert "n/a" in svg and "amount (SGD)" in svg
    assert re.search(r'class="tick"[^>]*>-5<', svg) or "-5<" in svg


def test_a_time_series_draws_a_line_per_panel_over_the_days() -> None:
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(10)]
    svg = charts.time_series(
        "Per day, INR",
        days,
        [
            charts.Panel("messages", "#00a", list(range(10)), str),
            charts.Panel("margin", "#0a0", [Decimal("1.5")] * 9 + [None], str, axis="INR"),
        ],
    )
    root = _tree(svg)
    lines = root.findall(".//s:polyline", NS)
    assert [len(p.get("points").split()) for p in lines] == [10, 9]
    xs = [float(pt.split(",")[0]) for pt in lines[0].get("points").split()]
    assert xs == sorted(xs)
    ys = [float(pt.split(",")[1]) for pt in lines[0].get("points").split()]
    assert ys == sorted(ys, reverse=True)  # rising counts go up the page
    assert "margin (INR)" in svg and "01 Nov" in svg


def test_nothing_to_draw_says_so() -> None:
    assert "No messages in this window." in charts.time_series("Per day", [], [])
    assert "No messages" in charts.stacked_shares("Mix", [], [], [])
    _tree(charts.bars("Rules", [], [], "#a00", tick=str, axis="", notes=[]))


def test_same_figures_same_markup_and_text_escaped() -> None:
    def draw() -> str:
        return charts.bars(
            "Rules <&>",
            ["a<b"],
            [Decimal(1)],
            "#a00",
            tick=str,
            axis="x",
            notes=[charts.Note("1 found")],
        )

    assert draw() == draw()
    assert "a&lt;b" in draw() and "Rules &lt;&amp;&gt;" in draw()
    _tree(draw())


def test_an_unknown_day_breaks_the_line() -> None:
    days = [date(2026, 11, 1) + timedelta(days=n) for n in range(5)]
    svg = charts.time_series(
        "Margin, INR",
        days,
        [
            charts.Panel(
                "margin", "#0a0", [Decimal(1), Decimal(2), None, Decimal(3), Decimal(4)], str
            )
        ],
    )
    lines = _tree(svg).findall(".//s:polyline", NS)
    assert [len(p.get("points").split()) for p in lines] == [2, 2]
    assert len(_tree(svg).findall(".//s:circle", NS)) == 4
