"""Issue 16, defect 7: with `format = "json"` every line of the log is one JSON object: the
standard library's records (asyncpg's pool warnings with their tracebacks, aiohttp's) go through
structlog, and each record is written whole with one write(), so the records of processes
sharing one log file never mix on a line."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import asyncpg

from tests.support import ROOT, with_database
from tests.support.load import Load, check_invariants, log_lines, ready, scaled, start_service
from tests.support.service import Service

TERMINATE = """
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
WHERE application_name = 'dlrecon' AND datname = $1
"""


def not_json(lines: list[str]) -> list[str]:
    bad = []
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            bad.append(line)
            continue
        if not isinstance(record, dict):
            bad.append(line)
    return bad


async def test_serve_logs_only_json_lines_through_an_outage(
    database_url: str, fault_workdir: Path, services: list[Service]
) -> None:
    """Two HTTP workers and the processor share one log while the database refuses
    connections: the pools' warnings (with tracebacks) are JSON records like the rest."""
    service = start_service(fault_workdir, services, database_url, "--workers", "2")
    service.http_workers(2)
    probe = await asyncpg.connect(database_url)
    name = await probe.fetchval("SELECT current_database()")
    await probe.close()
    admin = await asyncpg.connect(with_database(database_url, "postgres"))
    load = Load(service.url, "JL", concurrency=8)
    stop = asyncio.Event()
    runner = asyncio.create_task(load.run(stop, max_requests=int(scaled(100_000, 1_000_000))))
    try:
        await asyncio.sleep(0.5)
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false')
        await admin.fetchval(TERMINATE, name)
        await asyncio.sleep(scaled(4, 10))
    finally:
        await admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
        await admin.close()
    while ready(service) != 200:
        await asyncio.sleep(0.2)
    stop.set()
    await runner
    service.stop()

    lines = [line for line in log_lines(service) if line.strip()]
    bad = not_json(lines)
    records = [json.loads(line) for line in lines if line not in bad]
    library = [r for r in records if str(r.get("logger", "")).startswith(("asyncpg", "aiohttp"))]
    print(
        f"outage log: {len(lines)} lines, {len(bad)} not JSON, {len(library)} library records "
        f"({sum('exception' in r for r in library)} with a traceback); {load.summary()}"
    )
    assert not bad, bad[:5]
    assert library, "no library warning during the outage: nothing shown"
    assert all(r["level"] in ("warning", "error", "critical") for r in library)
    await check_invariants(load, database_url)


CHILD = """
import logging, sys
sys.path.insert(0, sys.argv[1])
import structlog
from receiver import logs

logs.configure("info", "json")
log = structlog.get_logger("test")
for n in range(int(sys.argv[2])):
    # larger than a stream buffer (8 KiB): the size at which records used to be split
    log.info("large_record", n=n, padding="y" * 20_000)
    logging.getLogger("asyncpg.pool").warning("Failed to restore\\nthe floor", exc_info=True)
"""


def test_records_of_processes_sharing_a_log_never_mix(tmp_path: Path) -> None:
    """Four processes log large records into one file at once: each line is one record."""
    per_process = int(scaled(300, 2000))
    log = tmp_path / "shared.log"
    started = time.monotonic()
    with log.open("a") as shared:
        children = [
            subprocess.Popen(
                [sys.executable, "-c", CHILD, str(ROOT), str(per_process)], stderr=shared
            )
            for _ in range(4)
        ]
        for child in children:
            assert child.wait(120) == 0
    lines = log.read_text().splitlines()
    bad = not_json(lines)
    print(
        f"4 processes x {2 * per_process} records: {len(lines)} lines, {len(bad)} not JSON, "
        f"{sum('}{' in line for line in lines)} with two records ({time.monotonic() - started:.1f}s)"
    )
    assert not bad, [line[:200] for line in bad[:5]]
    assert len(lines) == 4 * 2 * per_process
