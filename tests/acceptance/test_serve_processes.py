"""`dlrecon serve` as several processes: HTTP workers, a processor beside them, one /metrics."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from receiver.db.embedded import EmbeddedPostgres
from tests.support.service import Service, free_port, service_env


def metric(text: str, name: str, **labels: str) -> float:
    """The sum of a metric's samples whose labels include `labels`."""
    total = 0.0
    for line in text.splitlines():
        match = re.fullmatch(rf"{name}(?:\{{(.*)\}})? (\S+)", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


def scrape(service: Service) -> str:
    with urllib.request.urlopen(f"{service.url}/metrics", timeout=10) as r:
        return str(r.read().decode())


def send(service: Service, prefix: str, count: int) -> None:
    for n in range(count):
        # a new connection each time, so the kernel spreads them over the workers
        with urllib.request.urlopen(
            f"{service.url}/v1/callbacks/open?messageId={prefix}{n}&status=delivered", timeout=10
        ) as r:
            assert r.status == 200


def wait_for(check, timeout: float = 20.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.2)


def test_metrics_add_up_every_process(
    workdir: Path, database_url: str, services: list[Service]
) -> None:
    """Counters from both HTTP workers and from the processor process are in one scrape."""
    service = Service(workdir, service_env(workdir, database_url), free_port())
    services.append(service)
    service.start("--workers", "2")
    service.wait_ready()
    workers = service.http_workers(2)
    assert len(workers) == 2
    # new connections each time: SO_REUSEPORT spreads them over both workers, so a scrape
    # answered by one worker shows all 60 only when the workers' counts are added up
    send(service, "MP", 60)

    text = wait_for(
        lambda: (
            (t := scrape(service))
            and metric(t, "dlrecon_events_total", provider="open") >= 60
            and t
        )
    )
    assert text, scrape(service)
    assert metric(text, "dlrecon_callbacks_total", provider="open", outcome="stored") == 60
    # the events were counted by the processor process, not by a worker
    assert metric(text, "dlrecon_events_total", provider="open", status="delivered") == 60
    assert "dlrecon_processor_lag_seconds" in text
    assert service.stop() == 0


def test_a_killed_processor_is_started_again(
    workdir: Path, database_url: str, services: list[Service]
) -> None:
    env = service_env(workdir, database_url)
    env["DLRECON_PROCESSOR__NICE"] = "7"
    env["DLRECON_ONCALL__PROCESSES"] = "0"  # the processor is then the only other child
    service = Service(workdir, env, free_port())
    services.append(service)
    service.start()
    service.wait_ready()
    http = service.http_workers(1)
    processors = [c for c in service.children() if c not in http]
    assert len(http) == 1 and len(processors) == 1
    # the child sets its own niceness once it runs: wait for it
    wanted = min(19, psutil.Process().nice() + 7)
    assert wait_for(lambda: processors[0].nice() == wanted), "niced as configured"

    processors[0].send_signal(signal.SIGKILL)
    replaced = wait_for(
        lambda: [c for c in service.children() if c not in http and c.pid != processors[0].pid]
    )
    assert replaced, "the processor was not started again"
    send(service, "AGAIN", 5)

    # nothing else processes the inbox: it drains only if the new processor runs
    assert wait_for(lambda: _pending(database_url) == 0), "the new processor did not run"
    assert service.stop() == 0


def _pending(database_url: str) -> int:
    import asyncio

    import asyncpg

    async def count() -> int:
        conn = await asyncpg.connect(database_url)
        try:
            return int(await conn.fetchval("SELECT count(*) FROM inbox WHERE state = 'pending'"))
        finally:
            await conn.close()

    return asyncio.run(count())


def test_children_do_not_outlive_a_killed_serve(
    workdir: Path, database_url: str, services: list[Service]
) -> None:
    service = Service(workdir, service_env(workdir, database_url), free_port())
    services.append(service)
    service.start("--workers", "2")
    service.wait_ready()
    service.http_workers(2)
    children = service.children()
    assert len(children) == 4  # 2 HTTP workers, the processor, the on-call refresher
    assert service.proc is not None
    service.proc.send_signal(signal.SIGKILL)
    service.proc.wait(10)
    _, alive = psutil.wait_procs(children, timeout=20)
    assert not alive, f"still running after serve was killed: {alive}"


def test_a_port_in_use_is_one_line_and_exit_1(workdir: Path, database_url: str) -> None:
    """The port is taken: serve says so in one line naming the port and who holds it, exits 1,
    and starts nothing (no traceback, no workers started again and again)."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = service_env(workdir, database_url)
        result = subprocess.run(
            [sys.executable, "-m", "dlrecon", "serve", "--port", str(port), "--workers", "2"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"port {port} on 127.0.0.1 is in use by python" in lines[0]
    assert f"(pid {os.getpid()})" in lines[0]
    assert "Traceback" not in result.stdout + result.stderr


def test_ctrl_c_stops_every_process_once_and_cleanly(
    workdir: Path, database_url: str, services: list[Service]
) -> None:
    """A terminal's Ctrl-C goes to the whole process group: only serve may get it, and it
    stops each child once (a second signal would cut a worker's graceful stop short)."""
    service = Service(workdir, service_env(workdir, database_url), free_port())
    services.append(service)
    service.start("--workers", "2", new_session=True)  # its own group, as in a terminal
    service.wait_ready()
    service.http_workers(2)
    assert service.proc is not None
    os.killpg(service.proc.pid, signal.SIGINT)
    assert service.proc.wait(60) == 0, service.log.read_text()


def test_serve_as_pid_1_serves(workdir: Path, database_url: str, services: list[Service]) -> None:
    """In a container serve is pid 1: its children must not take that for an orphaned start."""
    probe = subprocess.run(["unshare", "--pid", "--fork", "true"], capture_output=True, check=False)
    if probe.returncode != 0:
        pytest.skip("no pid namespace here (unshare --pid)")
    service = Service(workdir, service_env(workdir, database_url), free_port())
    services.append(service)
    service.start(launcher=("unshare", "--pid", "--fork", "--kill-child=SIGTERM"))
    service.wait_ready()
    send(service, "PID1-", 3)
    time.sleep(1)  # room for a child that wrongly stops itself to show in the log
    assert "child_exited" not in service.log.read_text()
    # serve (pid 1 in there) is unshare's child: stop it, unshare then exits with it
    assert service.proc is not None
    for child in psutil.Process(service.proc.pid).children():
        child.send_signal(signal.SIGTERM)
    assert service.proc.wait(60) == 0


def test_a_worker_killed_while_the_database_is_down_is_started_again(
    workdir: Path, own_postgres: EmbeddedPostgres, services: list[Service]
) -> None:
    service = Service(workdir, service_env(workdir, own_postgres.url), free_port())
    services.append(service)
    service.start("--workers", "2")
    service.wait_ready()
    victim, survivor = service.http_workers(2)
    own_postgres.stop()
    try:
        victim.send_signal(signal.SIGKILL)
        time.sleep(4)  # its successor cannot reach the database: it is started again, later
        assert service.proc is not None and service.proc.poll() is None, "serve stopped"
        with urllib.request.urlopen(f"{service.url}/healthz", timeout=10) as r:
            assert r.status == 200  # the survivor answers meanwhile
    finally:
        own_postgres.start()
    assert survivor.is_running()
    assert wait_for(lambda: len(service.http_workers(2)) == 2, timeout=60)
    send(service, "BACK", 5)
    assert service.stop() == 0
