"""Issue 16, defect 3: the database refusing connections (`ALLOW_CONNECTIONS false`: SQLSTATE
55000, "not currently accepting connections") under load is the database being unavailable:
/readyz answers 503 (not 500), callbacks 503 with Retry-After, and the inbox writer backs off
instead of writing every failing batch again row by row."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import asyncpg

from tests.support import with_database
from tests.support.load import (
    Load,
    check_invariants,
    log_records,
    metric,
    ready,
    scaled,
    start_service,
)
from tests.support.service import Service

TERMINATE = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE application_name = 'dlrecon' AND datname = $1
"""


def readyz(service: Service) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"{service.url}/readyz", timeout=5) as r:
            return int(r.status), json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def test_database_not_accepting_connections_is_unavailable(
    database_url: str, fault_workdir: Path, services: list[Service]
) -> None:
    service = start_service(fault_workdir, services, database_url)
    load = Load(service.url, "NA", concurrency=16)
    stop = asyncio.Event()
    runner = asyncio.create_task(load.run(stop, max_requests=int(scaled(100_000, 1_000_000))))
    probe = await asyncpg.connect(database_url)
    name = await probe.fetchval("SELECT current_database()")
    await probe.close()
    # from another database: a database cannot refuse connections to itself
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    answers: list[tuple[int, dict[str, object]]] = []
    try:
        await asyncio.sleep(0.5)
        failed_before = metric(service, "dlrecon_inbox_batches_failed_total")
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.fetchval(TERMINATE, name)
        refused_at = time.monotonic()
        while time.monotonic() - refused_at < scaled(3, 10):
            answers.append(await asyncio.to_thread(readyz, service))
            await asyncio.sleep(0.5)
        outage = time.monotonic() - refused_at
        # /metrics answers during the outage too
        during = metric(service, "dlrecon_inbox_batches_failed_total") - failed_before
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
    while ready(service) != 200:
        await asyncio.sleep(0.2)
    assert set(await load.burst(20)) == {200}, load.summary()
    failed = metric(service, "dlrecon_inbox_batches_failed_total") - failed_before
    assert during <= failed
    stop.set()
    await runner
    service.stop()

    statuses = [status for status, _ in answers]
    print(
        f"not accepting connections {outage:.1f}s: {load.summary()} readyz={statuses} "
        f"failed batches={failed:.0f}"
    )
    assert statuses and set(statuses) == {503}, answers
    # the first answers may still tell of the terminated connections; once the pool reconnects,
    # the reason is the database's refusal
    assert "not currently accepting connections" in str(answers[-1][1]), answers
    await check_invariants(load, database_url)
    assert load.statuses[503] > 0, load.summary()
    events = [r.get("event") for r in log_records(service)]
    # the database refused nothing: it was not there; no row was written alone
    assert "inbox_batch_refused" not in events
    # backing off: pauses doubling to 1 s between attempts, two batches at a time (the bound
    # counts attempts in the time the outage lasted; a slower machine makes fewer)
    assert 0 < failed <= 2 * (8 + outage / 1.0), failed
    # one warning when the outage starts (per batch slot), one line when it ends
    assert events.count("inbox_database_unavailable") <= 2, events.count(
        "inbox_database_unavailable"
    )
    assert "inbox_database_available" in events
