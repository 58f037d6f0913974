"""Closing a month freezes its report; a DLR, an invoice line and a price that arrive later for
it leave the closed month's report as it was and show as adjustments, with their reasons, in the
next month's; reopening is recorded and makes the month computed again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from receiver.model import Event, Status
from receiver.settings import Settings
from reconcile import importing
from reconcile.reports import finance, months, periods
from reconcile.reports.periods import PeriodError, PeriodState
from tests.support import reconcile_world
from tests.support.reconcile_world import World


async def report(conn: asyncpg.Connection, start: Any, end: Any) -> dict[str, Any]:
    doc = await finance.compute(conn, start=start, end=end, config=reconcile_world.config())
    data = doc.to_json()
    data.pop("as_of")
    return data


async def test_close_then_late_dlr_and_invoice_line_are_adjustments(
    conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()
    this_month = months.of(today)
    last_month = months.preceding(this_month)
    world = World(datetime.now(UTC), tmp_path)
    rates = tmp_path / "rates.csv"
    rates.write_text(reconcile_world.RATES)
    await importing.import_rate_cards(conn, rates, provider_keys={"geniq", "velip", "hellio"})
    sent = months.midnight(last_month) + timedelta(days=3, hours=10)
    # last month: one delivered and billed, one still pending (its DLR comes after closing)
    await reconcile_world.geniq_message(
        conn, settings, world, "done", pid="B001", sent=sent, destination="+6580000001"
    )
    late_id = await reconcile_world.geniq_message(
        conn,
        settings,
        world,
        "late",
        pid="B002",
        sent=sent + timedelta(hours=1),
        destination="+6580000002",
        deliver=False,
        bill=None,
    )
    await reconcile_world.import_invoice(conn, world, world.lines)
    # this month: one message of its own
    await reconcile_world.geniq_message(
        conn,
        settings,
        world,
        "now",
        pid="B003",
        sent=months.midnight(this_month) + timedelta(minutes=1),
        destination="+6580000003",
        bill=None,
    )
    closed_window = (last_month, this_month)
    before = await report(conn, *closed_window)
    assert before["frozen"] == [] and before["totals"][0]["messages"]["pending"] == 1

    with pytest.raises(PeriodError, match="has not ended"):
        await periods.close(conn, this_month, by="test", config=reconcile_world.config())
    closing = await periods.close(conn, last_month, by="alice", config=reconcile_world.config())
    assert closing.closed_by == "alice"
    with pytest.raises(PeriodState, match="already closed"):
        await periods.close(conn, last_month, by="test", config=reconcile_world.config())
    frozen = await report(conn, *closed_window)
    assert frozen["frozen"] == [months.name(last_month)]
    assert frozen["periods"][0]["state"] == "closed"
    assert frozen["periods"][0]["closed_by"] == "alice"
    for part in ("groups", "totals", "daily", "findings"):
        assert frozen[part] == before[part], part

    # after closing: the pending message's DLR, and an invoice line for it
    await reconcile_world.callback(
        conn, "geniq", datetime.now(UTC), reconcile_world.delivered("B002", sent)
    )
    line = f"b002,,{(sent + timedelta(hours=1)).isoformat()},+6580000002,1,0.0300,SGD"
    await reconcile_world.import_invoice(conn, world, [line])
    # and the provider's price for the delivered one (a poll, say)
    priced = Event(
        "delivered",
        Status.DELIVERED,
        provider_message_id="B001",
        provider_time=sent,
        cost=Decimal("0.0280"),
        currency="SGD",
    )
    await reconcile_world.callback(conn, "geniq", datetime.now(UTC), priced)
    # and a message of last month registered only now
    late_sent = await reconcile_world.geniq_message(
        conn,
        settings,
        world,
        "registered-late",
        pid="B004",
        sent=sent + timedelta(hours=2),
        destination="+6580000004",
        bill=None,
    )

    assert await report(conn, *closed_window) == frozen  # unchanged
    current = await report(conn, this_month, today + timedelta(days=1))
    assert current["frozen"] == []
    assert current["totals"][0]["messages"]["total"] == 1  # its own message only
    adjustments = current["adjustments"]
    assert [
        (a["kind"], a["field"], a["message_id"], a["amount"], a["count"]) for a in adjustments
    ] == [
        ("late_event", "delivered", late_id, None, 1),
        ("late_invoice_line", "invoiced", late_id, "0.0300", 0),
        ("late_price", "reported_cost", world.messages["done"], "0.0280", 0),
        ("late_message", "messages", late_sent, "0.0500", 1),
    ]
    month = months.name(last_month)
    assert all(a["month"] == month for a in adjustments)
    assert f"a delivered report for message {late_id}" in adjustments[0]["reason"]
    assert f"after {month} was closed (it was accepted at the cut-off)" in adjustments[0]["reason"]
    assert "invoice INV-2 line 2 (0.0300 SGD" in adjustments[1]["reason"]
    done = world.messages["done"]
    assert f"reported for message {done} changed by 0.0280 SGD" in adjustments[2]["reason"]
    # a window over both months: the closed one frozen, the adjustments of the open one
    both = await report(conn, last_month, today + timedelta(days=1))
    assert both["frozen"] == [month] and both["adjustments"] == adjustments
    assert both["totals"][0]["messages"]["total"] == 3  # 2 frozen + this month's
    assert both["totals"][0]["messages"]["pending"] == 1  # as frozen, plus the new month's 0

    # reopening is explicit and recorded; the month is computed again, the adjustments go
    with pytest.raises(PeriodError, match="reason"):
        await periods.reopen(conn, last_month, by="bob", reason=" ")
    reopened = await periods.reopen(conn, last_month, by="bob", reason="late invoice")
    assert (reopened.reopened_by, reopened.reopen_reason) == ("bob", "late invoice")
    with pytest.raises(PeriodState, match="not closed"):
        await periods.reopen(conn, last_month, by="bob", reason="again")
    live = await report(conn, *closed_window)
    assert live["frozen"] == [] and live["totals"][0]["messages"]["pending"] == 0
    assert live["totals"][0]["invoiced"] == "0.0600"
    assert live["totals"][0]["reported_cost"] == "0.0280"
    assert live["totals"][0]["messages"]["total"] == 3  # the late one counts now
    assert (await report(conn, this_month, today + timedelta(days=1)))["adjustments"] == []
    [period] = await periods.listing(conn)
    assert (period.month, period.state, len(period.history)) == (month, "open", 1)
    assert Decimal(live["totals"][0]["value"]) == Decimal("0.1500")
