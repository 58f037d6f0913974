"""What the finance report page must show, worked out from the JSON document on its own (not
with the renderer's code): each `data-k` of the page and the figure it must carry. Used by the
unit test of the rendering and by the browser test."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser
from typing import Any

STATUSES = ("total", "delivered", "read", "failed", "expired", "rejected", "pending")
SHARES = ("final", "priced", "invoiced", "matched")
COSTS = ("value", "expected_cost", "reported_cost", "invoiced", "margin")
AMOUNT = re.compile(r"^(-?[0-9]{1,3}(?:,[0-9]{3})*(?:\.[0-9]+)?)(?: ([A-Z]{3}))?$")


def _when(iso: str | None) -> str:
    if not iso:
        return "-"
    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _share(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{(Decimal(repr(value)) * 100).quantize(Decimal('0.1'), ROUND_HALF_UP)}%"


def _sum(amounts: list[str | None]) -> Decimal:
    return sum((Decimal(a) for a in amounts if a is not None), Decimal(0))


def expected(doc: dict[str, Any]) -> tuple[dict[str, tuple[str, Any, str | None]], set[str]]:
    """(every key the page may show -> (kind, JSON value, currency)), and the keys it must show."""
    out: dict[str, tuple[str, Any, str | None]] = {}
    must: set[str] = set()
    has_run = doc["run"] is not None
    out["window|from"] = ("text", doc["window"]["from"], None)
    out["window|to"] = ("text", doc["window"]["to"], None)
    out["as_of"] = ("text", _when(doc["as_of"]), None)
    must |= {"window|from", "window|to", "as_of"}
    if has_run:
        out["run|id"] = ("text", str(doc["run"]["id"]), None)
        for f in ("window_from", "window_to", "as_of", "finished_at"):
            out[f"run|{f}"] = ("text", _when(doc["run"][f]), None)
        must.add("run|id")
    for p in doc["periods"]:
        out[f"p|{p['month']}|state"] = ("text", f"{p['month']} {p['state']}", None)
        must.add(f"p|{p['month']}|state")
    for m in doc["frozen"]:
        out[f"frozen|{m}"] = ("text", m, None)
        must.add(f"frozen|{m}")

    def figures(key: str, f: dict[str, Any], currency: str, total: bool) -> None:
        for s in STATUSES:
            out[f"{key}|messages|{s}"] = ("count", f["messages"][s], None)
        out[f"{key}|segments"] = ("count", f["segments"], None)
        for c in COSTS:
            out[f"{key}|{c}"] = ("amount", f[c], currency)
        for s in SHARES:
            out[f"{key}|completeness|{s}"] = ("share", f["completeness"][s], None)
        out[f"{key}|ledger"] = (
            "text",
            "balances" if f["ledger"]["balances"] else "does not balance",
            None,
        )
        out[f"{key}|at_stake"] = (
            "amount",
            str(_sum([a["amount"] for a in f["at_stake"]])) if has_run else None,
            currency,
        )
        must.update(k for k in out if k.startswith(key + "|"))
        if total:
            if f["cost"] is not None:
                out[f"{key}|cost"] = ("amount", f["cost"], currency)
                must.add(f"{key}|cost")
            if f["margin"] is not None and f["cost"] is not None:
                covered = Decimal(f["margin"]) + Decimal(f["cost"])
                out[f"{key}|margin_share"] = (
                    "percent",
                    Decimal(f["margin"]) / covered if covered > 0 else None,
                    None,
                )
        else:
            out[f"{key}|ledger|detail"] = ("text", f["ledger"]["detail"], None)
            must.add(f"{key}|ledger|detail")

    for g in doc["groups"]:
        key = "g|" + "|".join(g["key"].get(d) or "-" for d in doc["group_by"])
        figures(key, g, g["key"]["currency"], total=False)
    for t in doc["totals"]:
        figures(f"t|{t['key']['currency'] or '-'}", t, t["key"]["currency"], total=True)
    for d in doc["daily"]:
        k = f"d|{d['currency'] or '-'}|{d['day']}"
        out[f"{k}|messages"] = ("count", d["messages"], None)
        out[f"{k}|value"] = ("amount", d["value"], d["currency"])
        out[f"{k}|margin"] = ("amount", d["margin"], d["currency"])
        must |= {f"{k}|messages", f"{k}|value", f"{k}|margin"}
    by_currency: dict[str, list[dict[str, Any]]] = {}
    for f in doc["findings"]:
        k = f"f|{f['rule']}|{f['currency'] or '-'}"
        out[f"{k}|findings"] = ("count", f["findings"], None)
        must.add(f"{k}|findings")
        out[f"{k}|amount"] = ("amount", f["amount"], f["currency"])
        by_currency.setdefault(f["currency"] or "-", []).append(f)
        if f["currency"]:
            must.add(f"{k}|amount")
    for c, rows in by_currency.items():
        out[f"ft|{c}|findings"] = ("count", sum(r["findings"] for r in rows), None)
        out[f"ft|{c}|amount"] = (
            "amount",
            str(_sum([r["amount"] for r in rows])),
            None if c == "-" else c,
        )
    adjusted: dict[str, list[str | None]] = {}
    out["adjustments|count"] = ("count", len(doc["adjustments"]), None)
    for i, a in enumerate(doc["adjustments"]):
        k = f"a|{i}"
        out[f"{k}|message_id"] = ("text", str(a["message_id"]), None)
        out[f"{k}|invoice_line_id"] = ("text", str(a["invoice_line_id"]), None)
        out[f"{k}|month"] = ("text", a["month"], None)
        out[f"{k}|amount"] = ("amount", a["amount"], a["currency"])
        out[f"{k}|count"] = ("count", a["count"], None)
        out[f"{k}|reason"] = ("text", a["reason"], None)
        must |= {f"{k}|month", f"{k}|amount", f"{k}|count", f"{k}|reason"}
        if a["currency"]:
            adjusted.setdefault(a["currency"], []).append(a["amount"])
    for c, amounts in adjusted.items():
        out[f"at|{c}|amount"] = ("amount", str(_sum(amounts)), c)
        must.add(f"at|{c}|amount")
    return out, must


def _same(kind: str, text: str, value: Any, currency: str | None) -> bool:
    if kind == "text":
        return bool(text == value)
    if kind == "share":
        return text == _share(value)
    if kind == "percent":  # an exact Decimal share
        if value is None:
            return text == "-"
        return text == f"{(value * 100).quantize(Decimal('0.1'), ROUND_HALF_UP)}%"
    if kind == "count":
        m = re.fullmatch(r"([0-9]{1,3}(?:,[0-9]{3})*)(?: [a-z ]+)?", text)
        return m is not None and int(m[1].replace(",", "")) == value
    if value is None:
        return text == "-"
    m = AMOUNT.match(text)
    return (
        m is not None
        and Decimal(m[1].replace(",", "")) == Decimal(value)
        and m[2] in (None, currency)
    )


def problems(shown: list[tuple[str, str]], doc: dict[str, Any]) -> list[str]:
    """Every figure shown that differs from the document, and every one missing."""
    want, must = expected(doc)
    found: list[str] = []
    for key, text in shown:
        if key not in want:
            found.append(f"{key}: shown {text!r}, not a figure of the document")
            continue
        kind, value, currency = want[key]
        if not _same(kind, text, value, currency):
            found.append(f"{key}: shown {text!r}, document {value!r} {currency or ''}")
    missing = must - {k for k, _ in shown}
    found.extend(f"{k}: not shown" for k in sorted(missing))
    return found


class _Figures(HTMLParser):
    """The text of each element with a data-k, and every text with a digit not inside one
    (svg tick labels, <title>/<desc>, `data-label` elements and <style> excepted)."""

    SKIP = {"title", "desc", "style", "script"}
    VOID = {"br", "meta", "link", "input", "img", "rect", "line", "circle", "polyline", "hr"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[tuple[str, str | None, bool]] = []
        self.open: dict[int, list[str]] = {}
        self.shown: list[tuple[str, str]] = []
        self.stray: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        classes = (a.get("class") or "").split()
        exempt = tag in self.SKIP or "data-label" in a or bool({"tick", "category"} & set(classes))
        if tag in self.VOID:
            return
        self.stack.append((tag, a.get("data-k"), exempt))
        if a.get("data-k") is not None:
            self.open[len(self.stack)] = []

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        pass

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        while self.stack:
            depth = len(self.stack)
            name, key, _ = self.stack.pop()
            if key is not None:
                text = " ".join("".join(self.open.pop(depth)).split())
                self.shown.append((key, text))
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        for depth in self.open:
            self.open[depth].append(data)
        inside_key = bool(self.open)
        exempt = any(e for _, _, e in self.stack)
        if not inside_key and not exempt and re.search(r"[0-9]", data):
            self.stray.append(data.strip())


def parse(html: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(data-k, text) of every figure on the page, and the texts with digits outside any."""
    parser = _Figures()
    parser.feed(html)
    return parser.shown, parser.stray
