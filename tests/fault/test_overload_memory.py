"""Issue 16, defect 2: a thousand connections posting bodies of about 1 MB keep the HTTP worker
within its memory bound (the inbox holds at most `inbox.queue_max_bytes` of requests, and
answers 503 with Retry-After at once beyond it), with the database answering and with the
inbox locked. A request answered 503 after its commit timeout is dropped from the queue when
its row has not started writing; one that has is counted as stored after 503 on /metrics."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import asyncpg
import psutil
import pytest

from tests.support.load import (
    Load,
    check_invariants,
    metric,
    ready,
    scaled,
    start_service,
    stored_ids,
)
from tests.support.service import Service

MiB = 2**20
# what the default settings promise: a worker fits in 250 MB
BOUND = 250 * MiB


class PeakRss:
    """The highest resident set size of a process, sampled in a thread."""

    def __init__(self, process: Any) -> None:
        self.process = process
        self.baseline = process.memory_info().rss
        self.peak = self.baseline
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            try:
                self.peak = max(self.peak, self.process.memory_info().rss)
            except psutil.NoSuchProcess:
                return

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@pytest.mark.parametrize("locked", [False, True], ids=["database-answering", "inbox-locked"])
async def test_a_thousand_large_bodies_stay_within_the_memory_bound(
    locked: bool, database_url: str, fault_workdir: Path, services: list[Service]
) -> None:
    service = start_service(fault_workdir, services, database_url)
    (worker,) = service.http_workers(1)
    connections = 1000
    load = Load(service.url, "MB", concurrency=connections, body_bytes=1_000_000, timeout=120)
    admin = await asyncpg.connect(database_url)
    lock = admin.transaction()
    try:
        if locked:
            await lock.start()
            await admin.execute("LOCK TABLE inbox IN ACCESS EXCLUSIVE MODE")
        with PeakRss(worker) as rss:
            stop = asyncio.Event()
            runner = asyncio.create_task(
                load.run(stop, max_requests=int(scaled(connections, 5 * connections)))
            )
            if locked:
                started = time.monotonic()
                while not runner.done() and time.monotonic() - started < scaled(5, 20):
                    await asyncio.sleep(0.1)
                await lock.rollback()
            await runner
    finally:
        await admin.close()
    # then it answers again: the queue drains (within the client's timeout)
    while ready(service) != 200 or await load.burst(1) != [200]:
        await asyncio.sleep(0.5)
    assert set(await load.burst(5)) == {200}, load.summary()

    ids = set(await stored_ids(database_url, load.prefix))
    stored_after_503 = metric(service, "dlrecon_inbox_timeouts_total", outcome="stored")
    dropped = metric(service, "dlrecon_inbox_timeouts_total", outcome="dropped")
    print(
        f"{connections} connections x 1 MB, {'inbox locked' if locked else 'no fault'}: "
        f"{load.summary()} rss {rss.baseline / MiB:.0f} -> {rss.peak / MiB:.0f} MiB; "
        f"stored after 503: {len(ids & load.refused)} (counted {stored_after_503:.0f}), "
        f"dropped after 503: {dropped:.0f}"
    )
    assert rss.peak < BOUND, f"worker RSS reached {rss.peak / MiB:.0f} MiB"
    await check_invariants(load, database_url)
    assert load.statuses[503] > 0, "the inbox never said it was full"
    assert not load.errors, load.summary()
    # every request answered 503 but stored all the same is counted
    assert len(ids & load.refused) == stored_after_503
