"""The database fails under load: restarted, its connections terminated, or slowed by a lock.

Each test proves: no 2xx for anything not stored, nothing stored lost (the ids of the 2xx'd
callbacks against the inbox rows), no 500, every 503 with Retry-After, and recovery without
restarting dlrecon (the same process answers 2xx afterwards, /readyz 200).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import asyncpg

from receiver.db.embedded import EmbeddedPostgres
from tests.support.load import Load, check_invariants, ready, scaled, start_service
from tests.support.service import Service


async def recover(load: Load, service: Service, within: float = 30.0) -> float:
    """Seconds until a callback is acknowledged again; then 20 in a row must be."""
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await load.burst(1) == [200]:
            break
        await asyncio.sleep(0.2)
    took = time.monotonic() - started
    assert set(await load.burst(20)) == {200}, load.summary()
    assert ready(service) == 200
    return took


async def test_postgres_restart_under_load(
    own_postgres: EmbeddedPostgres, fault_workdir: Path, services: list[Service]
) -> None:
    url = own_postgres.url
    service = start_service(fault_workdir, services, url)
    assert service.proc is not None
    pid = service.proc.pid
    load = Load(service.url, "PG", concurrency=int(scaled(16, 64)))
    stop = asyncio.Event()
    runner = asyncio.create_task(load.run(stop, max_requests=int(scaled(50_000, 1_000_000))))
    restarts = int(scaled(1, 3))
    for _ in range(restarts):
        await asyncio.sleep(scaled(1.0, 5))
        await asyncio.to_thread(own_postgres.stop)
        await asyncio.sleep(scaled(2.0, 10))
        during = [s for _, s, _ in load.timeline[-50:]]
        await asyncio.to_thread(own_postgres.start)
        assert 503 in during or 0 in during, load.summary()
    took = await recover(load, service)
    await asyncio.sleep(scaled(0.5, 5))
    stop.set()
    await runner

    assert service.proc.poll() is None and service.proc.pid == pid, "dlrecon was restarted"
    assert load.statuses[503] > 0, load.summary()
    await check_invariants(load, url)
    print(f"postgres restart x{restarts}: {load.summary()} recovered in {took:.2f}s")


TERMINATE = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE application_name = 'dlrecon' AND datname = current_database()
"""


async def test_terminate_connections_under_load(
    database_url: str, fault_workdir: Path, services: list[Service]
) -> None:
    service = start_service(fault_workdir, services, database_url)
    assert service.proc is not None
    pid = service.proc.pid
    load = Load(service.url, "TB", concurrency=int(scaled(16, 64)))
    stop = asyncio.Event()
    runner = asyncio.create_task(load.run(stop, max_requests=int(scaled(50_000, 1_000_000))))
    admin = await asyncpg.connect(database_url)
    terminated = 0
    try:
        await asyncio.sleep(1.0)
        for _ in range(int(scaled(6, 60))):
            terminated += await admin.fetchval(TERMINATE)
            await asyncio.sleep(scaled(0.3, 0.5))
    finally:
        await admin.close()
    took = await recover(load, service)
    stop.set()
    await runner

    assert terminated > 0
    assert service.proc.poll() is None and service.proc.pid == pid, "dlrecon was restarted"
    await check_invariants(load, database_url)
    print(f"terminate x{terminated}: {load.summary()} recovered in {took:.2f}s")


async def test_locked_inbox_gives_503_with_bounded_memory(
    database_url: str, fault_workdir: Path, services: list[Service]
) -> None:
    """`LOCK TABLE inbox` for seconds: waits end in 503 after commit_timeout, the requests held
    are bounded by queue_max (then 503 at once), RSS stays bounded, and it recovers on release.
    A row that timed out before it was written leaves the queue, so a surge of clients, more
    than queue_max, joins the steady load during the lock to fill it."""
    queue_max, commit_timeout, body = 64, 1, 64 * 1024
    service = start_service(
        fault_workdir,
        services,
        database_url,
        inbox={"queue_max": queue_max, "commit_timeout": commit_timeout},
    )
    assert service.proc is not None
    pid = service.proc.pid
    (worker,) = service.http_workers(1)
    load = Load(service.url, "LK", concurrency=int(scaled(16, 32)), body_bytes=body)
    surge = Load(service.url, "LS", concurrency=int(scaled(96, 256)), body_bytes=body)
    stop, stop_surge = asyncio.Event(), asyncio.Event()
    runner = asyncio.create_task(load.run(stop, max_requests=int(scaled(50_000, 1_000_000))))
    await asyncio.sleep(1.0)
    baseline = worker.memory_info().rss
    peak = baseline
    admin = await asyncpg.connect(database_url)
    try:
        lock = admin.transaction()
        await lock.start()
        await admin.execute("LOCK TABLE inbox IN ACCESS EXCLUSIVE MODE")
        locked_at = time.monotonic()
        surging = asyncio.create_task(surge.run(stop_surge, max_requests=1_000_000))
        while time.monotonic() - locked_at < scaled(6, 30):
            peak = max(peak, worker.memory_info().rss)
            await asyncio.sleep(0.1)
        stop_surge.set()
        await surging
        released_at = time.monotonic()
        await lock.rollback()
    finally:
        await admin.close()
    took = await recover(load, service)
    stop.set()
    await runner

    timeline = load.timeline + surge.timeline
    during = [(s, d) for t, s, d in timeline if locked_at + 0.2 < t < released_at - 2]
    assert during and all(s == 503 for s, _ in during), f"{load.summary()} {surge.summary()}"
    # two kinds of 503: waited for the commit timeout, or refused at once (queue full); the
    # split is by the order of magnitude of the wait, not by a tight bound
    timed_out = [d for s, d in during if d >= commit_timeout * 0.9]
    at_once = [d for s, d in during if d < commit_timeout * 0.5]
    assert timed_out, "no request waited for its commit timeout"
    assert at_once, f"the queue ({queue_max}) never filled: no immediate 503"
    growth = (peak - baseline) / 2**20
    # the worker holds at most queue_max bodies (4 MiB here); allow the server's buffers
    assert growth < queue_max * body / 2**20 + 80, f"RSS grew {growth:.0f} MiB"
    assert service.proc.poll() is None and service.proc.pid == pid, "dlrecon was restarted"
    await check_invariants(load, database_url)
    await check_invariants(surge, database_url)
    print(
        f"lock {released_at - locked_at:.1f}s: {load.summary()} surge: {surge.summary()} "
        f"timed_out={len(timed_out)} at_once={len(at_once)} worker rss "
        f"{baseline / 2**20:.0f}->{peak / 2**20:.0f} MiB recovered in {took:.2f}s"
    )
