"""Issue 16, defect 1: backends terminated every 0.2 s under load must not make the inbox writer
store a committed batch a second time (row by row) when the connection fails after its COMMIT.
Every acknowledged callback is in the inbox exactly once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import asyncpg

from tests.support.load import Load, check_invariants, scaled, start_service
from tests.support.service import Service

TERMINATE = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE application_name = 'dlrecon' AND datname = current_database()
"""


async def test_terminated_backends_never_store_a_request_twice(
    database_url: str, fault_workdir: Path, services: list[Service]
) -> None:
    service = start_service(fault_workdir, services, database_url)
    # POSTs only: a client never sends one again by itself, so a second row is the server's
    load = Load(service.url, "DW", concurrency=int(scaled(24, 64)), body_bytes=64)
    stop = asyncio.Event()
    runner = asyncio.create_task(load.run(stop, max_requests=int(scaled(100_000, 1_000_000))))
    admin = await asyncpg.connect(database_url)
    terminated = rounds = 0
    try:
        await asyncio.sleep(0.5)
        for _ in range(int(scaled(40, 150))):
            terminated += await admin.fetchval(TERMINATE)
            rounds += 1
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
    stop.set()
    await runner

    assert terminated > 0 and load.statuses[200] > 0, load.summary()
    ids = await check_invariants(load, database_url)
    twice = {i: n for i, n in Counter(ids).items() if n > 1}
    print(
        f"terminate every 0.2 s x{rounds} ({terminated} backends): {load.summary()} "
        f"rows={len(ids)} ids stored more than once={len(twice)}"
    )
    assert not twice, f"{len(twice)} requests stored more than once: {sorted(twice)[:5]}"
