"""Charts of the finance report as inline SVG: pure functions from figures to markup, no
script, no external asset. Bars are horizontal (long group names stay readable), every chart
has a <title> and <desc> for screen readers, a legend and labelled axes, and each bar or point
a <title> with its exact figure. Amounts arrive as Decimal and are only turned into floats for
pixel positions; every text a chart shows is written by the caller's formatter from the exact
value. One chart never mixes currencies: the caller draws one per currency."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from html import escape

from markupsafe import Markup

Number = Decimal | int
Format = Callable[[Decimal], str]

WIDTH = 640
FONT = 12
LABEL_WIDTH = 150  # room for the category names on the left of bar charts
RIGHT = 96  # room for an annotation at the end of a bar
ROW = 22
TITLE = 24  # the chart's visible title above everything else


@dataclass(frozen=True)
class Series:
    """One named, coloured set of values, one per category (None: not known)."""

    name: str
    colour: str
    values: Sequence[Number | None]


@dataclass(frozen=True)
class Note:
    """A figure written at the end of a bar; `key` becomes its data-k (the page's tests compare
    it with the JSON document)."""

    text: str
    key: str | None = None


@dataclass(frozen=True)
class Panel:
    """One line of a time series, on its own axis."""

    name: str
    colour: str
    values: Sequence[Number | None]
    tick: Format
    axis: str = ""


@dataclass
class _Svg:
    """An SVG document being written."""

    title: str
    desc: str
    height: int
    parts: list[str] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)

    def markup(self) -> Markup:
        """The SVG, its visible title on top (everything below is drawn TITLE px lower)."""
        n = hashlib.blake2s((self.title + self.desc).encode(), digest_size=4).hexdigest()
        head = (
            f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" role="img" '
            f'viewBox="0 0 {WIDTH} {self.height + TITLE}" width="{WIDTH}" '
            f'height="{self.height + TITLE}" '
            f'aria-labelledby="chart-{n}-t chart-{n}-d" font-size="{FONT}" '
            f'font-family="system-ui, sans-serif">'
            f'<title id="chart-{n}-t">{escape(self.title)}</title>'
            f'<desc id="chart-{n}-d">{escape(self.desc)}</desc>'
            + _text(4, 15, self.title, cls="chart-title", weight="700", size=13)
        )
        body = f'<g transform="translate(0 {TITLE})">' + "".join(self.parts) + "</g>"
        return Markup(head + body + "</svg>")  # noqa: S704 - every text escaped


def _text(
    x: float,
    y: float,
    text: str,
    *,
    anchor: str = "start",
    cls: str = "",
    key: str | None = None,
    size: int | None = None,
    weight: str | None = None,
    fill: str | None = None,
) -> str:
    attrs = [f'x="{x:.1f}"', f'y="{y:.1f}"']
    if anchor != "start":
        attrs.append(f'text-anchor="{anchor}"')
    if cls:
        attrs.append(f'class="{cls}"')
    if key is not None:
        attrs.append(f'data-k="{escape(key)}"')
    if size is not None:
        attrs.append(f'font-size="{size}"')
    if weight is not None:
        attrs.append(f'font-weight="{weight}"')
    attrs.append(f'fill="{fill or "#1d2430"}"')
    return f"<text {' '.join(attrs)}>{escape(text)}</text>"


def _rect(x: float, y: float, w: float, h: float, colour: str, tip: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(w, 0):.1f}" height="{h:.1f}" fill="{colour}">'
        f"<title>{escape(tip)}</title></rect>"
    )


def _legend(svg: _Svg, y: float, entries: Sequence[tuple[str, str]]) -> None:
    """Coloured squares and names in a row (wrapping) starting at `y`."""
    x: float = LABEL_WIDTH
    for name, colour in entries:
        width = 18 + len(name) * 6.6 + 14
        if x + width > WIDTH:
            x = LABEL_WIDTH
            y += 16
        svg.add(f'<rect x="{x:.1f}" y="{y - 9:.1f}" width="10" height="10" fill="{colour}"/>')
        svg.add(_text(x + 14, y, name, cls="legend"))
        x += width


def _legend_height(entries: Sequence[tuple[str, str]]) -> int:
    x: float = LABEL_WIDTH
    rows = 1
    for name, _ in entries:
        width = 18 + len(name) * 6.6 + 14
        if x + width > WIDTH:
            x, rows = LABEL_WIDTH, rows + 1
        x += width
    return rows * 16


def _short(label: str, limit: int = 22) -> str:
    return label if len(label) <= limit else label[: limit - 1] + "…"


def nice_ticks(low: Decimal, high: Decimal, count: int = 4) -> list[Decimal]:
    """Round tick values (1, 2, 2.5 or 5 times a power of ten) covering [low, high], zero
    included; exact decimals."""
    low, high = min(low, Decimal(0)), max(high, Decimal(0))
    if low == high:
        high = low + 1
    raw = (high - low) / count
    power = Decimal(1).scaleb(raw.adjusted())
    step = next(
        m * power
        for m in (Decimal(1), Decimal(2), Decimal("2.5"), Decimal(5), Decimal(10))
        if m * power >= raw
    )
    first = (low / step).to_integral_value(ROUND_FLOOR) * step
    last = (high / step).to_integral_value(ROUND_CEILING) * step
    ticks, value = [], first
    while value <= last:
        ticks.append(_plain(value))
        value += step
    return ticks


def _plain(value: Decimal) -> Decimal:
    """`50`, not `5E+1`; `0.25`, not `0.2500`."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


class _Scale:
    """Values of [ticks[0], ticks[-1]] onto pixels [left, right]."""

    def __init__(self, ticks: Sequence[Decimal], left: float, right: float) -> None:
        self.low, self.high = ticks[0], ticks[-1]
        self.left, self.right = left, right

    def __call__(self, value: Number) -> float:
        share = (Decimal(value) - self.low) / (self.high - self.low)
        return self.left + float(share) * (self.right - self.left)


def _x_axis(
    svg: _Svg,
    ticks: Sequence[Decimal],
    scale: _Scale,
    top: float,
    bottom: float,
    tick: Format,
    label: str,
) -> None:
    """Vertical grid lines with their values under the plot, and the axis' name."""
    for value in ticks:
        x = scale(value)
        colour = "#8792a2" if value == 0 else "#e3e7ee"
        svg.add(
            f'<line x1="{x:.1f}" y1="{top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" stroke="{colour}"/>'
        )
        svg.add(
            _text(x, bottom + 14, tick(value), anchor="middle", cls="tick", size=11, fill="#5b6576")
        )
    if label:
        svg.add(
            _text(
                (scale.left + scale.right) / 2,
                bottom + 30,
                label,
                anchor="middle",
                cls="axis",
                size=11,
                fill="#5b6576",
            )
        )


def _category_labels(svg: _Svg, categories: Sequence[str], top: float, band: float) -> None:
    for i, name in enumerate(categories):
        y = top + i * band + band / 2 + 4
        svg.add(
            f"<g><title>{escape(name)}</title>"
            + _text(LABEL_WIDTH - 8, y, _short(name), anchor="end", cls="category")
            + "</g>"
        )


def empty(title: str, message: str) -> Markup:
    """A chart with nothing to draw says so."""
    svg = _Svg(title, message, 60)
    svg.add(_text(WIDTH / 2, 34, message, anchor="middle", fill="#5b6576"))
    return svg.markup()


def stacked_shares(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    notes: Sequence[Note],
    *,
    axis: str = "share of messages",
) -> Markup:
    """One bar per category split into its series' shares of the category's total (counts),
    with `notes[i]` at the end of bar i: the status mix per provider."""
    if not categories:
        return empty(title, "No messages in this window.")
    entries = [(s.name, s.colour) for s in series]
    legend = _legend_height(entries)
    top, band = 8 + legend + 6, ROW + 6
    bottom = top + band * len(categories)
    svg = _Svg(
        title,
        f"{title}: for each of {len(categories)} rows, the share of each of "
        + ", ".join(s.name for s in series)
        + ".",
        int(bottom + 40),
    )
    _legend(svg, 18, entries)
    ticks = [Decimal(v) for v in (0, 25, 50, 75, 100)]
    scale = _Scale(ticks, LABEL_WIDTH, WIDTH - RIGHT)
    _x_axis(svg, ticks, scale, top, bottom, lambda v: f"{v}%", axis)
    _category_labels(svg, categories, top, band)
    for i, name in enumerate(categories):
        counts = [int(s.values[i] or 0) for s in series]
        total = sum(counts)
        y = top + i * band + 3
        start = Decimal(0)
        for s, count in zip(series, counts, strict=True):
            if count == 0 or total == 0:
                continue
            share = Decimal(count) * 100 / total
            x0, x1 = scale(start), scale(start + share)
            svg.add(_rect(x0, y, x1 - x0, ROW, s.colour, f"{name}: {s.name} {count} of {total}"))
            start += share
        svg.add(
            _text(WIDTH - RIGHT + 6, y + ROW / 2 + 4, notes[i].text, cls="note", key=notes[i].key)
        )
    return svg.markup()


def grouped_bars(
    title: str,
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    tick: Format,
    axis: str,
    notes: Sequence[Note] | None = None,
    ticks: Sequence[Decimal] | None = None,
) -> Markup:
    """For each category one thin bar per series side by side (value against costs per
    provider, completeness per provider); unknown values are marked "n/a". `ticks` fixes the
    axis (0-100 for shares), else it covers the values."""
    if not categories:
        return empty(title, "Nothing to show in this window.")
    entries = [(s.name, s.colour) for s in series]
    legend = _legend_height(entries)
    bar = 9 if len(series) > 2 else 12
    band = bar * len(series) + 10
    top = 8 + legend + 6
    bottom = top + band * len(categories)
    known = [Decimal(v) for s in series for v in s.values if v is not None]
    if ticks is None:
        ticks = nice_ticks(min(known, default=Decimal(0)), max(known, default=Decimal(1)))
    scale = _Scale(ticks, LABEL_WIDTH, WIDTH - RIGHT)
    svg = _Svg(
        title,
        f"{title}: " + ", ".join(s.name for s in series) + f" for each of {len(categories)} rows.",
        int(bottom + 40),
    )
    _legend(svg, 18, entries)
    _x_axis(svg, ticks, scale, top, bottom, tick, axis)
    _category_labels(svg, categories, top, band)
    zero = scale(0)
    for i, name in enumerate(categories):
        for j, s in enumerate(series):
            y = top + i * band + 5 + j * bar
            value = s.values[i]
            if value is None:
                svg.add(_text(zero + 3, y + bar - 1, "n/a", size=9, fill="#5b6576", cls="na"))
                continue
            x = scale(value)
            svg.add(
                _rect(
                    min(zero, x),
                    y,
                    abs(x - zero),
                    bar - 1,
                    s.colour,
                    f"{name}: {s.name} {tick(Decimal(value))}",
                )
            )
        if notes is not None:
            svg.add(
                _text(
                    WIDTH - RIGHT + 6,
                    top + i * band + band / 2 + 4,
                    notes[i].text,
                    cls="note",
                    key=notes[i].key,
                )
            )
    return svg.markup()


def bars(
    title: str,
    categories: Sequence[str],
    values: Sequence[Number | None],
    colour: str,
    *,
    tick: Format,
    axis: str,
    notes: Sequence[Note],
) -> Markup:
    """One bar per category (findings by rule with their amounts)."""
    if not categories:
        return empty(title, "Nothing to show.")
    return grouped_bars(
        title, categories, [Series(axis, colour, values)], tick=tick, axis=axis, notes=notes
    )


def time_series(title: str, days: Sequence[date], panels: Sequence[Panel]) -> Markup:
    """Lines over `days` (consecutive: the caller fills the days without figures), one panel
    (own axis) per line, sharing the days: messages and margin day by day. An unknown value
    (None) breaks its line."""
    if not days:
        return empty(title, "No messages in this window.")
    left, right, panel_height, gap = 70, WIDTH - 16, 92, 40
    top = 18
    height = top + len(panels) * (panel_height + gap) + 24
    svg = _Svg(
        title,
        f"{title}: "
        + " and ".join(p.name for p in panels)
        + f" for each of {len(days)} days from {days[0]} to {days[-1]}.",
        height,
    )
    step = (right - left) / max(len(days) - 1, 1)

    def x_of(i: int) -> float:
        return left + i * step if len(days) > 1 else (left + right) / 2

    for n, p in enumerate(panels):
        y_top = top + n * (panel_height + gap) + 8
        y_bottom = y_top + panel_height
        svg.add(f'<rect x="{left}" y="{y_top - 17:.1f}" width="10" height="10" fill="{p.colour}"/>')
        svg.add(
            _text(
                left + 14,
                y_top - 8,
                p.name + (f" ({p.axis})" if p.axis else ""),
                cls="legend",
                weight="600",
            )
        )
        known = [Decimal(v) for v in p.values if v is not None]
        ticks = nice_ticks(min(known, default=Decimal(0)), max(known, default=Decimal(1)), 3)
        scale = _Scale(ticks, y_bottom, y_top)
        for value in ticks:
            y = scale(value)
            colour = "#8792a2" if value == 0 else "#e3e7ee"
            svg.add(f'<line x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}" stroke="{colour}"/>')
            svg.add(
                _text(
                    left - 6,
                    y + 4,
                    p.tick(value),
                    anchor="end",
                    cls="tick",
                    size=11,
                    fill="#5b6576",
                )
            )
        points = [(x_of(i), scale(v), v) for i, v in enumerate(p.values) if v is not None]
        # a line through each run of known values (an unknown day breaks it)
        run: list[str] = []
        for i, v in enumerate([*p.values, None]):
            if v is not None:
                run.append(f"{x_of(i):.1f},{scale(v):.1f}")
                continue
            if len(run) > 1:
                svg.add(
                    f'<polyline points="{" ".join(run)}" fill="none" stroke="{p.colour}" '
                    'stroke-width="2"/>'
                )
            run = []
        for (x, y, v), day in zip(
            points, [d for d, v in zip(days, p.values, strict=True) if v is not None], strict=True
        ):
            svg.add(
                f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.5" fill="{p.colour}">'
                f"<title>{day}: {escape(p.name)} {escape(p.tick(Decimal(v)))}</title></circle>"
            )
    last = top + len(panels) * (panel_height + gap) - gap + 8
    every = max(1, -(-len(days) // 8))
    for i, day in enumerate(days):
        if i % every == 0:
            svg.add(
                _text(
                    x_of(i),
                    last + 16,
                    day.strftime("%d %b"),
                    anchor="middle",
                    cls="tick",
                    size=11,
                    fill="#5b6576",
                )
            )
    return svg.markup()
