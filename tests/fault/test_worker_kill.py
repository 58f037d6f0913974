"""SIGKILL one of two workers under load: the other keeps answering, every 2xx is stored."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import psutil

from tests.support.load import FULL, Load, check_invariants, ready, scaled, start_service
from tests.support.service import Service


async def test_sigkill_one_worker_under_load(
    fault_workdir: Path, database_url: str, services: list[Service]
) -> None:
    service = start_service(fault_workdir, services, database_url, "--workers", "2")
    workers = service.http_workers(2)
    assert len(workers) == 2
    victim, survivor = workers
    load = Load(service.url, "WK", concurrency=int(scaled(16, 64)))
    stop = asyncio.Event()
    runner = asyncio.create_task(load.run(stop, max_requests=int(scaled(20_000, 500_000))))

    await asyncio.sleep(scaled(1.5, 5))
    before_kill = load.statuses[200]
    killed_at = time.monotonic()
    os.kill(victim.pid, signal.SIGKILL)
    await asyncio.sleep(scaled(2.5, 20))
    stop.set()
    await runner

    assert before_kill > 0, load.summary()
    after = [s for t, s, _ in load.timeline if t > killed_at + 0.5]
    assert after.count(200) > 0, f"nothing answered after the kill: {load.summary()}"
    # the survivor is the same process, untouched; the service answers on new connections
    assert survivor.is_running() and survivor.status() != psutil.STATUS_ZOMBIE
    assert set(await load.burst(20)) == {200}, load.summary()
    assert ready(service) == 200
    await check_invariants(load, database_url)
    print(f"worker kill: {load.summary()} killed_at={killed_at:.1f} full={FULL}")
