"""The planted problems are each found once, under the right rule, with the right amount, and
nothing else is found; the ledger balances."""

from __future__ import annotations

from pathlib import Path

import asyncpg

import sql
from receiver.settings import Settings
from reconcile import runner
from reconcile.db import runs
from tests.support import reconcile_world


async def findings_of(conn: asyncpg.Connection, run_id: int) -> dict[str, list[tuple[object, ...]]]:
    found: dict[str, list[tuple[object, ...]]] = {}
    for f in await runs.findings_page(conn, run_id, limit=10_000):
        found.setdefault(f.rule, []).append((f.subject, f.amount, f.currency))
    return found


async def test_each_planted_problem_is_found_once_and_nothing_else(
    conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
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
    found = await findings_of(conn, outcome.run_id)
    assert found == {rule: sorted(items) for rule, items in world.expected.items()}
    # every rule of sql/rules has a planted problem here
    assert set(found) == set(sql.rules())
    run = await runs.get(conn, outcome.run_id)
    assert run is not None and run.state == "succeeded"
    ledger = await runs.ledger(conn, outcome.run_id)
    assert ledger and all(row.balanced for row in ledger)
    geniq_sgd = next(r for r in ledger if (r.provider_key, r.currency) == ("geniq", "SGD"))
    assert geniq_sgd.unmatched_lines == 1 and geniq_sgd.rejected == 1 and geniq_sgd.pending == 1
