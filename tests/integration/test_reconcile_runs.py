"""Runs are reproducible (same window and cut-off: the same CSV, byte for byte, whatever
arrived since), findings keep their lifecycle across runs, an empty window finds nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from receiver.errors import InvalidInput, NotFound
from receiver.model import Event, Status
from receiver.settings import Settings
from reconcile import lifecycle, report, runner
from reconcile.db import findings, runs
from tests.support import reconcile_world
from tests.support.reconcile_world import callback, delivered, import_invoice, register


async def csv_of(conn: asyncpg.Connection, run_id: int) -> str:
    pages = [
        report.csv_text(page, header=False)
        async for page in report.all_findings(conn, run_id, page=5)
    ]
    return report.csv_text([]) + "".join(pages)


async def run(
    conn: asyncpg.Connection, world: reconcile_world.World, as_of: datetime | None
) -> int:
    window_from, window_to = world.window
    outcome = await runner.reconcile(
        conn,
        window_from=window_from,
        window_to=window_to,
        as_of=as_of,
        config=reconcile_world.config(),
        requested_by="test",
    )
    return outcome.run_id


async def test_a_run_repeated_with_its_window_and_cut_off_gives_the_same_csv(
    conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    world = await reconcile_world.build(conn, settings, tmp_path)
    first = await run(conn, world, None)
    as_of = (await runs.get(conn, first)).as_of  # type: ignore[union-attr]
    before = await csv_of(conn, first)

    # after the cut-off: the stuck message is delivered, the unbilled one billed, the unknown
    # line's message registered, a new orphan, a new duplicate line, a rate card for Hellio,
    # a new message in the window
    T, h = world.T, timedelta(hours=1)
    await callback(conn, "geniq", datetime.now(UTC), delivered("A090", T - 2 * h))
    await callback(conn, "geniq", T - 2 * h, delivered("DEAD0002", T - 2 * h))
    await callback(
        conn, "velip", datetime.now(UTC), Event("failed", Status.FAILED, client_ref="ref-na")
    )
    await register(
        conn,
        settings,
        provider="geniq",
        client_ref="late",
        provider_message_ids=["FFFF0001"],
        submitted_at=(T - 3 * h).isoformat(),
        value="0.0100",
        currency="SGD",
    )
    await register(
        conn,
        settings,
        provider="geniq",
        client_ref="late-2",
        provider_message_ids=["B001"],
        submitted_at=(T - 2 * h).isoformat(),
        value="0.0100",
        currency="SGD",
    )
    await import_invoice(
        conn,
        world,
        [
            f"a030,,{(T - 3 * h).isoformat()},,1,0.0300,SGD",
            f"a000,,{(T - 5 * h).isoformat()},,1,0.0300,SGD",
            f"eeee0001,,{(T - 3 * h).isoformat()},,1,0.0300,SGD",
        ],
    )
    rates = tmp_path / "hellio-rates.csv"
    rates.write_text(
        "provider,channel,prefix,price_per_segment,currency,valid_from\nhellio,sms,233,0.0500,GHS,2020-01-01\n"
    )
    from reconcile import importing

    await importing.import_rate_cards(conn, rates, provider_keys={"hellio"})

    again = await run(conn, world, as_of)
    assert await csv_of(conn, again) == before
    # what arrived since does change a run as of now
    now = await run(conn, world, None)
    assert await csv_of(conn, now) != before


async def test_accepted_stays_accepted_and_resolved_reopens_when_found_again(
    conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    world = await reconcile_world.build(conn, settings, tmp_path)
    first = await run(conn, world, None)
    by_rule = {f.rule: f for f in await runs.findings_page(conn, first)}
    accepted, resolved, acked = (
        by_rule["negative_margin"],
        by_rule["stuck"],
        by_rule["billed_twice"],
    )

    with pytest.raises(InvalidInput, match="note"):
        await lifecycle.change(conn, accepted.id, state="accepted", note=" ", by="finance-bot")
    with pytest.raises(InvalidInput, match="state must be"):
        await lifecycle.change(conn, accepted.id, state="closed", note=None, by="finance-bot")
    with pytest.raises(NotFound):
        await lifecycle.change(conn, 10**9, state="resolved", note=None, by="finance-bot")
    await lifecycle.change(
        conn, accepted.id, state="accepted", note="promo price, agreed", by="alice"
    )
    await lifecycle.change(conn, resolved.id, state="resolved", note="asked GenIQ", by="bob")
    await lifecycle.change(conn, acked.id, state="acknowledged", note=None, by="bob")

    second = await run(conn, world, None)
    after = {f.id: f for f in await findings.page(conn, limit=100)}
    assert (after[accepted.id].state, after[accepted.id].note, after[accepted.id].state_by) == (
        "accepted",
        "promo price, agreed",
        "alice",
    )
    assert after[acked.id].state == "acknowledged"
    assert after[resolved.id].state == "open"
    assert after[resolved.id].state_by == f"run {second}"
    assert all(
        (f.first_seen_run, f.last_seen_run, f.runs) == (first, second, 2) for f in after.values()
    )
    history = await findings.changes(conn, resolved.id)
    assert [(c.by, c.from_state, c.to_state) for c in history] == [
        (f"run {first}", None, "open"),
        ("bob", "open", "resolved"),
        (f"run {second}", "resolved", "open"),
    ]
    reopened = {f.id: f.reopened for f in await runs.findings_page(conn, second)}
    assert reopened[resolved.id] and not reopened[accepted.id]
    # one finding per problem, however many runs saw it
    assert await conn.fetchval("SELECT count(*) FROM findings") == len(after)
    assert await findings.runs(conn, accepted.id) == [first, second]


async def test_an_empty_window_succeeds_with_no_findings(conn: asyncpg.Connection) -> None:
    outcome = await runner.reconcile(
        conn,
        window_from=datetime(2020, 1, 1, tzinfo=UTC),
        window_to=datetime(2020, 1, 2, tzinfo=UTC),
        as_of=None,
        config=reconcile_world.config(),
        requested_by="test",
    )
    run_row = await runs.get(conn, outcome.run_id)
    assert run_row is not None and run_row.state == "succeeded" and outcome.findings == 0
    assert await runs.ledger(conn, outcome.run_id) == []
    assert {c.findings for c in await runs.rule_counts(conn, outcome.run_id)} == {0}


async def test_bad_windows_are_refused(conn: asyncpg.Connection) -> None:
    now = datetime.now(UTC)
    config = reconcile_world.config()
    with pytest.raises(InvalidInput, match="ends before"):
        await runner.queue(
            conn,
            window_from=now,
            window_to=now - timedelta(days=1),
            as_of=None,
            config=config,
            requested_by=None,
        )
    with pytest.raises(InvalidInput, match="future"):
        await runner.queue(
            conn,
            window_from=now - timedelta(days=1),
            window_to=now,
            as_of=now + timedelta(hours=1),
            config=config,
            requested_by=None,
        )
    with pytest.raises(InvalidInput, match="time zone"):
        await runner.queue(
            conn,
            window_from=datetime(2026, 1, 1),
            window_to=now,
            as_of=None,
            config=config,
            requested_by=None,
        )


async def test_queued_runs_are_drained_one_at_a_time_and_scheduled_slots_run_once(
    conn: asyncpg.Connection, database_url: str
) -> None:
    from reconcile.settings import ScheduleSettings

    config = reconcile_world.config()
    # ten minutes into the last full hour: `now` and a minute later are in the same hourly
    # slot whatever the clock says (at 08:59 the minute after was the next slot)
    now = datetime.now(UTC).replace(minute=10, second=0, microsecond=0) - timedelta(hours=1)
    queued = await runner.queue(
        conn,
        window_from=now - timedelta(days=1),
        window_to=now,
        as_of=None,
        config=config,
        requested_by="api",
    )
    schedule = ScheduleSettings(every=timedelta(hours=1), window=timedelta(days=2))
    slot_run = await runner.queue_scheduled(conn, schedule, config, now)
    assert slot_run is not None
    assert await runner.queue_scheduled(conn, schedule, config, now + timedelta(minutes=1)) is None
    other = await asyncpg.connect(database_url)
    try:
        assert await runs.try_lock(other)  # someone else runs: this drain does nothing
        assert await runner.drain(conn) == []
        await runs.unlock(other)
    finally:
        await other.close()
    done = await runner.drain(conn)
    assert [o.run_id for o in done] == [queued, slot_run]
    slot = await runs.get(conn, slot_run)
    assert slot is not None and slot.state == "succeeded" and slot.trigger == "schedule"
    assert slot.window_to == slot.as_of == runner.schedule_slot(now, timedelta(hours=1))
    assert slot.window_from == slot.window_to - timedelta(days=2)
    # a run left running by a dead process is marked interrupted by the next lock holder
    stale = await runs.insert(
        conn,
        state="running",
        window_from=now,
        window_to=now,
        as_of=None,
        config=config,
        trigger="cli",
        requested_by=None,
    )
    await runner.drain(conn)
    stale_run = await runs.get(conn, stale)  # type: ignore[arg-type]
    assert (
        stale_run is not None
        and stale_run.state == "failed"
        and "interrupted" in (stale_run.error or "")
    )
    assert Decimal(0) == Decimal(0)
