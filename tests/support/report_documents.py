"""Finance report documents built by hand (the JSON format), for the tests of the HTML
rendering: two currencies, a closed month with adjustments, a run; variants without a run and
without anything."""

from __future__ import annotations

import copy
from datetime import date, timedelta
from decimal import Decimal
from typing import Any


def _figures(key: dict[str, Any], **over: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "key": key,
        "messages": {
            "total": 15,
            "delivered": 10,
            "read": 0,
            "failed": 2,
            "expired": 0,
            "rejected": 0,
            "pending": 3,
        },
        "segments": 20,
        "value": "12.3400",
        "expected_cost": "10.0000",
        "reported_cost": "9.5000",
        "invoiced": "9.6000",
        "margin": "2.7400",
        "cost": "9.6000",
        "margin_basis": "invoiced",
        "at_stake": [{"rule": "cost_mismatch", "findings": 3, "amount": "0.5000"}],
        "completeness": {"final": 0.8, "priced": 0.5, "invoiced": 0.4, "matched": 1.0},
        "ledger": {
            "balances": True,
            "detail": "registered 15 = 10+0+2+0+0+3; invoiced 9.60 = matched 9.60 + unmatched 0",
        },
    }
    out.update(over)
    return out


def _daily(currency: str, start: date, days: int, per_day: int, value: str) -> list[dict[str, Any]]:
    out = []
    for n in range(days):
        messages = per_day + (n * 7) % 11
        v = Decimal(value) * messages
        out.append(
            {
                "day": (start + timedelta(days=n)).isoformat(),
                "currency": currency,
                "messages": messages,
                "value": str(v),
                "margin": str((v * Decimal("0.21") - Decimal(n % 4)).quantize(Decimal("0.0001"))),
            }
        )
    return out


def full() -> dict[str, Any]:
    """November 2026 over two currencies, a run, October closed with two adjustments."""

    def key(p: str, ch: str, co: str | None, cur: str) -> dict[str, Any]:
        return {"provider": p, "channel": ch, "country": co, "currency": cur}

    groups = [
        _figures(key("velip", "sms", "IN", "INR")),
        _figures(
            key("geniq", "sms", "IN", "INR"),
            messages={
                "total": 1204,
                "delivered": 1100,
                "read": 0,
                "failed": 40,
                "expired": 12,
                "rejected": 2,
                "pending": 50,
            },
            segments=1530,
            value="1840.5000",
            expected_cost="1401.2300",
            reported_cost="1399.9000",
            invoiced="0.0000",
            margin="440.6000",
            cost="1399.9000",
            margin_basis="reported",
            at_stake=[
                {"rule": "stuck", "findings": 50, "amount": None},
                {"rule": "cost_mismatch", "findings": 4, "amount": "1.3300"},
            ],
            completeness={"final": 0.9585, "priced": 1.0, "invoiced": 0.0, "matched": None},
            ledger={
                "balances": False,
                "detail": "registered 1204 = 1100+0+40+12+2+50; invoiced 0 = matched 0 + unmatched 0; 1 line of another month",
            },
        ),
        _figures(
            key("meta", "whatsapp", "IN", "INR"),
            messages={
                "total": 300,
                "delivered": 120,
                "read": 160,
                "failed": 5,
                "expired": 0,
                "rejected": 0,
                "pending": 15,
            },
            segments=300,
            value="270.0000",
            expected_cost="214.5000",
            reported_cost="0.0000",
            invoiced="0.0000",
            margin="55.5000",
            cost="214.5000",
            margin_basis="expected",
            at_stake=[],
            completeness={"final": 0.95, "priced": 0.0, "invoiced": 0.0, "matched": None},
            ledger={"balances": True, "detail": "registered 300 = 120+160+5+0+0+15"},
        ),
        _figures(
            key("twilio", "sms", "SG", "SGD"),
            messages={
                "total": 5400,
                "delivered": 5100,
                "read": 0,
                "failed": 180,
                "expired": 20,
                "rejected": 40,
                "pending": 60,
            },
            segments=6120,
            value="324.0000",
            expected_cost="183.6000",
            reported_cost="185.0035",
            invoiced="184.9000",
            margin="139.1000",
            cost="184.9000",
            margin_basis="invoiced",
            at_stake=[
                {"rule": "billed_not_sent", "findings": 2, "amount": "0.0600"},
                {"rule": "cost_mismatch", "findings": 12, "amount": "0.1035"},
            ],
            completeness={
                "final": 0.9888888888888889,
                "priced": 0.97,
                "invoiced": 0.999,
                "matched": 0.9963,
            },
            ledger={
                "balances": True,
                "detail": "registered 5400 = 5100+0+180+20+40+60; invoiced 184.90 = matched 184.84 + unmatched 0.06",
            },
        ),
    ]
    totals = [
        _figures(
            {"currency": "INR"},
            messages={
                "total": 1519,
                "delivered": 1230,
                "read": 160,
                "failed": 47,
                "expired": 12,
                "rejected": 2,
                "pending": 68,
            },
            segments=1850,
            value="2122.8400",
            expected_cost="1625.7300",
            reported_cost="1409.4000",
            invoiced="9.6000",
            margin="498.8400",
            cost="1624.0000",
            margin_basis="mixed",
            at_stake=[
                {"rule": "cost_mismatch", "findings": 7, "amount": "1.8300"},
                {"rule": "stuck", "findings": 50, "amount": None},
            ],
            completeness={
                "final": 0.955233706385780,
                "priced": 0.7975,
                "invoiced": 0.0039,
                "matched": 1.0,
            },
            ledger={"balances": False, "detail": "one group does not balance"},
        ),
        _figures(
            {"currency": "SGD"},
            messages=groups[3]["messages"],
            segments=6120,
            value="324.0000",
            expected_cost="183.6000",
            reported_cost="185.0035",
            invoiced="184.9000",
            margin="139.1000",
            cost="184.9000",
            margin_basis="invoiced",
            at_stake=groups[3]["at_stake"],
            completeness=groups[3]["completeness"],
            ledger=groups[3]["ledger"],
        ),
    ]
    start = date(2026, 11, 1)
    return {
        "report": "finance",
        "window": {"from": "2026-11-01", "to": "2026-12-01"},
        "as_of": "2026-12-02T06:00:00+00:00",
        "group_by": ["provider", "channel", "country", "currency"],
        "run": {
            "id": 12,
            "window_from": "2026-11-01T00:00:00+00:00",
            "window_to": "2026-12-01T00:00:00+00:00",
            "as_of": "2026-12-02T05:00:00+00:00",
            "finished_at": "2026-12-02T05:03:12+00:00",
        },
        "periods": [
            {
                "month": "2026-10",
                "state": "closed",
                "closed_at": "2026-11-03T09:00:00+00:00",
                "closed_by": "cli",
                "cut_off": "2026-11-03T00:00:00+00:00",
            },
            {"month": "2026-11", "state": "open"},
        ],
        "groups": groups,
        "totals": totals,
        "daily": _daily("INR", start, 30, 50, "1.4000") + _daily("SGD", start, 30, 180, "0.0600"),
        "findings": [
            {"rule": "cost_mismatch", "currency": "INR", "findings": 7, "amount": "1.8300"},
            {"rule": "stuck", "currency": "INR", "findings": 50, "amount": None},
            {"rule": "billed_not_sent", "currency": "SGD", "findings": 2, "amount": "0.0600"},
            {"rule": "cost_mismatch", "currency": "SGD", "findings": 12, "amount": "0.1035"},
            {"rule": "orphan_event", "currency": None, "findings": 3, "amount": None},
        ],
        "adjustments": [
            {
                "month": "2026-10",
                "kind": "late_event",
                "provider": "velip",
                "currency": "INR",
                "message_id": 123,
                "invoice_line_id": None,
                "field": "delivered",
                "amount": None,
                "count": 1,
                "reason": "a delivered DLR for message 123 arrived on 2026-11-05, after 2026-10 was closed",
            },
            {
                "month": "2026-10",
                "kind": "late_invoice_line",
                "provider": "twilio",
                "currency": "SGD",
                "message_id": None,
                "invoice_line_id": 77,
                "field": "invoiced",
                "amount": "0.0350",
                "count": 0,
                "reason": "invoice line 77 (billed 2026-10-30) was imported on 2026-11-04, after 2026-10 was closed",
            },
        ],
        "frozen": [],
    }


def without_run() -> dict[str, Any]:
    doc = full()
    doc["run"] = None
    doc["findings"] = []
    for f in doc["groups"] + doc["totals"]:
        f["at_stake"] = []
    return doc


def single_currency() -> dict[str, Any]:
    doc = full()
    doc["groups"] = [g for g in doc["groups"] if g["key"]["currency"] == "INR"]
    doc["totals"] = [t for t in doc["totals"] if t["key"]["currency"] == "INR"]
    doc["daily"] = [d for d in doc["daily"] if d["currency"] == "INR"]
    doc["findings"] = [f for f in doc["findings"] if f["currency"] == "INR"]
    doc["adjustments"] = [a for a in doc["adjustments"] if a["currency"] == "INR"]
    return doc


def empty() -> dict[str, Any]:
    return {
        "report": "finance",
        "window": {"from": "2026-12-01", "to": "2026-12-08"},
        "as_of": "2026-12-02T06:00:00+00:00",
        "group_by": ["provider", "currency"],
        "run": None,
        "periods": [{"month": "2026-12", "state": "open"}],
        "groups": [],
        "totals": [],
        "daily": [],
        "findings": [],
        "adjustments": [],
        "frozen": [],
    }


def copy_of(doc: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(doc)
