"""The finance report over the planted-problem world: its totals are exact (Decimal), equal to
sums worked out by hand from what was planted; groups, daily series and findings add up to
them; the ledger balances."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg

from receiver.settings import Settings
from reconcile import runner
from reconcile.reports import finance
from reconcile.reports.document import AtStake, FinanceReport
from tests.support import reconcile_world

D = Decimal


async def planted_report(
    conn: asyncpg.Connection, settings: Settings, tmp_path: Path, *group_by: str
) -> tuple[reconcile_world.World, int, FinanceReport]:
    world = await reconcile_world.build(conn, settings, tmp_path)
    window_from, window_to = world.window
    outcome = await runner.reconcile(
        conn,
        window_from=window_from,
        window_to=window_to,
        as_of=None,
        config=reconcile_world.config(),
        requested_by="test",
    )
    doc = await finance.compute(
        conn,
        start=window_from.date(),
        end=window_to.date() + timedelta(days=1),
        dimensions=group_by or ("provider", "channel", "country", "currency"),
        config=reconcile_world.config(),
    )
    return world, outcome.run_id, doc


async def test_planted_world_totals_are_exact(
    conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    world, run_id, doc = await planted_report(conn, settings, tmp_path)
    assert doc.run is not None and doc.run.id == run_id
    totals = {t.key["currency"]: t for t in doc.totals}
    assert set(totals) == {"SGD", "BRL", "USD", None}

    sgd = totals["SGD"]
    # 17 GenIQ messages: 15 delivered (the conflict's delivery is the later report), the one
    # refused at submission, the stuck one pending
    assert sgd.messages.model_dump() == {
        "total": 17, "delivered": 15, "read": 0, "failed": 0, "expired": 0, "rejected": 1,
        "pending": 1,
    }  # fmt: skip
    assert sgd.segments == 18  # the emoji text is 2 parts
    # 14 at 0.0500, the negative margin's 0.0200, the emoji's and the overbilled's 0.1000
    assert sgd.value == D("0.9200")
    # 0.0300 a segment (18 segments) but the +6591 message at 0.0250
    assert sgd.expected_cost == 17 * D("0.0300") - D("0.0050") + D("0.0300")
    assert sgd.expected_cost == D("0.5350")
    assert sgd.reported_cost == D("0")
    # 15 SGD lines: 11 at 0.0300, the +6591 one at 0.0250, the emoji's 0.0600, the
    # overbilled 0.0500 and the duplicate 0.0300 (the USD line is in the USD total)
    assert sgd.invoiced == 12 * D("0.0300") + D("0.0250") + D("0.0600") + D("0.0500")
    assert sgd.invoiced == D("0.4950")
    # per message value - best known cost: 13 invoiced, 4 at the rate card (refused, unbilled,
    # stuck, and the one invoiced in USD)
    margins = [D("0.02")] * 4 + [D("0.025"), D("0.02")]  # ok0-3, long prefix, late
    margins += [D("0.02"), D("-0.01"), D("0.02"), D("0.02")]  # refused, margin, unbilled, twice
    margins += [D("0.04"), D("0.05"), D("0.02"), D("0.02")]  # emoji, overbilled, dup x2
    margins += [D("0.02"), D("0.02"), D("0.02")]  # conflict, stuck, usd
    assert sgd.margin == sum(margins) == D("0.3650")
    assert sgd.margin_basis == "mixed"
    # every SGD message has a cost, so the cost the margin used is value - margin
    assert sgd.cost == sgd.value - sgd.margin == D("0.5550")
    assert sgd.completeness.model_dump() == {
        "final": 16 / 17, "priced": 0.0, "invoiced": 14 / 17, "matched": 14 / 15,
    }  # fmt: skip
    assert sgd.ledger.balances

    brl = totals["BRL"]
    assert (brl.messages.total, brl.messages.pending, brl.value) == (1, 1, D("0.0500"))
    assert brl.margin is None and brl.cost is None and brl.margin_basis is None  # no cost
    usd = totals["USD"]
    assert (usd.messages.total, usd.invoiced, usd.completeness.matched) == (0, D("0.0220"), 1.0)
    assert usd.completeness.final is None
    assert totals[None].messages.total == 1  # Hellio's, registered without a value
    assert all(t.ledger.balances for t in doc.totals)

    # amounts at stake: the run's findings, per rule and currency, as planted
    planted: dict[tuple[str, str | None], list[Decimal | None]] = defaultdict(list)
    for rule, items in world.expected.items():
        for _, amount, currency in items:
            planted[(rule, currency)].append(amount)
    found = {(f.rule, f.currency): (f.findings, f.amount) for f in doc.findings}
    assert found == {
        key: (len(amounts), finance._amount(amounts)) for key, amounts in planted.items()
    }

    # the groups and the daily series add up to the totals
    for currency, total in totals.items():
        groups = [g for g in doc.groups if g.key["currency"] == currency]
        assert sum((g.value for g in groups), D(0)) == total.value
        assert sum((g.invoiced for g in groups), D(0)) == total.invoiced
        assert sum(g.messages.total for g in groups) == total.messages.total
        days = [d for d in doc.daily if d.currency == currency]
        assert sum(d.messages for d in days) == total.messages.total
        assert sum((d.value for d in days), D(0)) == total.value
    # the country comes from the destination's calling code
    assert {g.key["country"] for g in doc.groups} == {"SG", "BR", "GH", None}
    # invoice lines and events that match no message: no channel, no country
    unmatched = [g for g in doc.groups if g.key["channel"] is None]
    assert [
        (g.key["provider"], g.key["currency"], g.invoiced, g.completeness.matched, g.at_stake)
        for g in unmatched
    ] == [
        (
            "geniq",
            "SGD",
            D("0.0300"),
            0.0,
            [AtStake(rule="billed_not_sent", findings=1, amount=D("0.0300"))],
        ),
        ("geniq", None, D("0"), None, [AtStake(rule="orphan_event", findings=1, amount=None)]),
    ]


async def test_group_by_a_subset_keeps_currency_in_the_key(
    conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    _, _, doc = await planted_report(conn, settings, tmp_path, "provider")
    assert doc.group_by == ["provider", "currency"]
    assert [tuple(g.key.values()) for g in doc.groups] == [
        ("geniq", "SGD"),
        ("geniq", "USD"),
        ("geniq", None),  # the orphan event
        ("hellio", None),
        ("velip", "BRL"),
    ]
    json = doc.to_json()
    assert json["groups"][0]["value"] == "0.9200"
    assert json["window"].keys() == {"from", "to"}
    assert FinanceReport.model_validate(json) == doc
