"""The real `dlrecon serve` process: start, readiness, shutdown, crashes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from receiver.db.embedded import EmbeddedPostgres
from tests.support import TOKENS
from tests.support.service import Service, free_port, service_env, stored_message_ids


def postgres_running(data_dir: Path) -> bool:
    return EmbeddedPostgres(data_dir)._running()


def test_embedded_start_sigterm_stops_postgres_and_kill9_recovers(
    workdir: Path, services: list[Service]
) -> None:
    service = Service(workdir, service_env(workdir, None), free_port())
    services.append(service)
    service.start()
    service.wait_ready()
    assert postgres_running(workdir / "data")
    assert service.stop() == 0
    assert not postgres_running(workdir / "data"), "SIGTERM must stop the embedded Postgres"

    service.start()
    service.wait_ready()
    assert service.proc is not None
    import psutil

    children = service.children()
    service.proc.send_signal(signal.SIGKILL)
    service.proc.wait(10)
    # its children stop once they see it gone; until they have, one of them could still
    # answer the next start's readiness check (and that serve be stopped before it is up)
    psutil.wait_procs(children, timeout=30)
    # Postgres outlives the killed dlrecon; the next start re-attaches and owns it
    service.start()
    service.wait_ready()
    assert service.stop() == 0
    assert not postgres_running(workdir / "data")


def test_db_url_prints_the_url_in_use(workdir: Path) -> None:
    env = service_env(workdir, None)
    result = subprocess.run(
        [sys.executable, "-m", "dlrecon", "db", "url"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("postgresql://postgres@/dlrecon?host=")
    stop = subprocess.run(
        [sys.executable, "-m", "dlrecon", "db", "stop"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert stop.returncode == 0
    assert not postgres_running(workdir / "data")


def test_unreachable_database_url_exits_fast_with_one_line(workdir: Path) -> None:
    env = service_env(workdir, "postgresql://nobody@127.0.0.1:1/x")
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "dlrecon", "serve"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    print(
        f"exited {result.returncode} after {time.monotonic() - started:.1f} s"
    )  # not asserted: shared machines
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: cannot connect to the database:"), lines[0]
    assert "127.0.0.1" in lines[0]


def test_sigkill_while_posting_loses_nothing_acknowledged(
    workdir: Path, database_url: str, services: list[Service]
) -> None:
    """Every callback that got a 2xx is in the inbox after the server is killed mid-load."""
    import asyncio

    import aiohttp

    service = Service(workdir, service_env(workdir, database_url), free_port())
    services.append(service)
    service.start("--workers", "1")
    service.wait_ready()
    acknowledged: list[str] = []

    async def load() -> None:
        async with aiohttp.ClientSession() as session:

            async def one(n: int) -> None:
                mid = f"KILL{n:06d}"
                try:
                    async with session.get(
                        f"{service.url}/v1/callbacks/open",
                        params={"messageId": mid, "status": "delivered"},
                    ) as r:
                        if 200 <= r.status < 300:
                            acknowledged.append(mid)
                except aiohttp.ClientError:
                    pass

            n = 0
            killer = asyncio.get_running_loop().call_later(
                1.5, os.kill, service.proc.pid, signal.SIGKILL
            )
            try:
                while service.proc.poll() is None and n < 200000:
                    await asyncio.gather(*(one(n + i) for i in range(32)))
                    n += 32
            finally:
                killer.cancel()

    asyncio.run(load())
    service.proc.wait(10)
    assert acknowledged, "no callback was acknowledged before the kill"

    in_inbox = stored_message_ids(database_url)
    missing = set(acknowledged) - in_inbox
    assert not missing, f"{len(missing)} acknowledged callbacks are not in the inbox"


def test_register_and_read_over_http(
    workdir: Path, database_url: str, services: list[Service]
) -> None:
    service = Service(workdir, service_env(workdir, database_url), free_port())
    services.append(service)
    service.start()
    try:
        service.wait_ready()
        body = json.dumps(
            {"provider": "open", "client_ref": "acc-1", "provider_message_ids": ["ZZ1"]}
        )
        request = urllib.request.Request(
            f"{service.url}/v1/messages",
            data=body.encode(),
            method="POST",
            headers={
                "Authorization": f"Bearer {TOKENS['send']}",
                "Content-Type": "application/json",
            },
        )
        with urllib.request.urlopen(request, timeout=10) as r:
            assert json.load(r)["created"] == 1
        with urllib.request.urlopen(
            f"{service.url}/v1/callbacks/open?messageId=ZZ1&status=delivered", timeout=10
        ) as r:
            assert r.status == 200
        deadline = time.monotonic() + 10
        while True:
            request = urllib.request.Request(
                f"{service.url}/v1/messages?client_ref=acc-1",
                headers={"Authorization": f"Bearer {TOKENS['send']}"},
            )
            with urllib.request.urlopen(request, timeout=10) as r:
                status = json.load(r)["messages"][0]["status"]
            if status == "delivered" or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        assert status == "delivered"
    finally:
        assert service.stop() == 0


def test_workers_share_the_port_and_stop_together(
    workdir: Path, database_url: str, services: list[Service]
) -> None:
    import psutil

    service = Service(workdir, service_env(workdir, database_url), free_port())
    services.append(service)
    service.start("--workers", "2")
    service.wait_ready()
    children = service.children()
    # two HTTP workers on the port, the processor and the on-call refresher in their own
    assert len(service.http_workers(2)) == 2
    assert len(children) == 4
    for n in range(20):
        with urllib.request.urlopen(
            f"{service.url}/v1/callbacks/open?messageId=W{n}&status=sent", timeout=10
        ) as r:
            assert r.status == 200
    assert service.stop() == 0
    for child in children:
        assert not child.is_running() or child.status() == psutil.STATUS_ZOMBIE


def test_sigterm_finishes_in_flight_requests(
    workdir: Path, database_url: str, services: list[Service]
) -> None:
    """Requests already being handled when SIGTERM arrives are answered (and stored); only
    new connections are refused once the listener closes."""
    import asyncio

    import aiohttp

    service = Service(workdir, service_env(workdir, database_url), free_port())
    services.append(service)
    service.start()
    service.wait_ready()
    outcomes: dict[str, object] = {}

    async def load() -> None:
        async with aiohttp.ClientSession() as session:

            async def one(n: int) -> None:
                mid = f"TERM{n:05d}"
                try:
                    async with session.get(
                        f"{service.url}/v1/callbacks/open",
                        params={"messageId": mid, "status": "sent"},
                    ) as r:
                        outcomes[mid] = r.status
                except aiohttp.ClientConnectorError:
                    outcomes[mid] = "refused"
                except aiohttp.ClientError as exc:
                    outcomes[mid] = type(exc).__name__

            for batch in range(3):  # warm connections, so the next batch is truly in flight
                await asyncio.gather(*(one(batch * 64 + i) for i in range(64)))
            tasks = [asyncio.create_task(one(1000 + i)) for i in range(64)]
            await asyncio.sleep(0.005)
            service.proc.send_signal(signal.SIGTERM)
            await asyncio.gather(*tasks)

    asyncio.run(load())
    assert service.proc.wait(30) == 0
    service.close_log()
    answered = {mid for mid, outcome in outcomes.items() if outcome == 200}
    broken = {mid: o for mid, o in outcomes.items() if o not in (200, "refused")}
    last_batch = [outcomes[f"TERM{1000 + i:05d}"] for i in range(64)]
    print("last batch after SIGTERM:", {o: last_batch.count(o) for o in set(last_batch)})
    assert answered, outcomes
    assert not broken, f"requests cut off mid-flight: {list(broken.items())[:5]}"

    assert answered <= stored_message_ids(database_url)


def test_serve_says_once_where_it_listens_and_logs_each_migration_once(
    workdir: Path, empty_database_url: str, services: list[Service]
) -> None:
    import sql

    service = Service(workdir, service_env(workdir, empty_database_url), free_port())
    services.append(service)
    service.start("--workers", "2")
    service.wait_ready()
    service.http_workers(2)
    assert service.stop() == 0
    records = [json.loads(line) for line in service.log.read_text().splitlines() if line]
    serving = [r for r in records if r["event"] == "serving"]
    assert [r["url"] for r in serving] == [service.url]
    applied = [r["name"] for r in records if r["event"] == "migration_applied"]
    assert applied == [m.name for m in sql.migrations()]
