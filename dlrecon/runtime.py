"""`serve`'s processes: the HTTP workers and the role processes of every wing, supervised with
one set of rules (restart after a pause that doubles while a child keeps dying young; a first
start that fails stops `serve`; no child outlives it)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import errno
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import shutil
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import structlog
from prometheus_client.multiprocess import mark_process_dead

from dlrecon import app
from dlrecon.settings import Settings
from receiver import logs
from receiver.http import server as http_server
from receiver.metrics import MULTIPROC_ENV
from receiver.roles import RunRole

log = structlog.get_logger(__name__)


def _worker(
    settings: Settings,
    url: str,
    host: str,
    port: int,
    reuse_port: bool,
    with_processor: bool,
    announce: bool = True,
) -> None:
    """One HTTP worker (in a child of `serve`, or `serve` itself when it is alone). The first
    logs where the service listens once it does (its database pool is open by then)."""
    # the process's last configuration: its loggers are bound once (see logs.configure)
    logs.configure(settings.log.level, settings.log.format, cache=True)
    settings = settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"migrate_on_start": False}),
            "processor": settings.processor.model_copy(update={"enabled": with_processor}),
        }
    )
    address = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    try:
        http_server.run(
            app.build_app(settings, url),
            host=host,
            port=port,
            reuse_port=reuse_port,
            settings=settings.server,
            on_listening=(lambda: log.info("serving", url=address)) if announce else None,
        )
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        log.error("port_in_use", port=port, held_by=port_holder(port) or "unknown")
        sys.exit(1)


def port_in_use(host: str, port: int) -> str | None:
    """Why `serve` cannot listen on host:port (in use, and by which process if that can be
    found), or None when it can. A check before start-up, so the answer is one plain line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        # as asyncio's server sockets: connections of an earlier run in TIME_WAIT are no holder
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                return None  # not ours to judge here (a bad address fails with its own error)
            holder = port_holder(port)
            return f"port {port} on {host} is in use" + (f" by {holder}" if holder else "")
    return None


def port_holder(port: int) -> str | None:
    """The process listening on `port` ("python3 (pid 1234)"), when the system says."""
    try:
        for conn in psutil.net_connections("tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    return None
                return f"{psutil.Process(conn.pid).name()} (pid {conn.pid})"
    except (psutil.Error, OSError):
        return None
    return None


def _role_worker(role_name: str, settings: Settings, url: str) -> None:
    """One process of a role (the processor...), until SIGTERM or SIGINT."""
    # the process's last configuration: its loggers are bound once (see logs.configure)
    logs.configure(settings.log.level, settings.log.format, cache=True)
    role = next(r for r in app.roles() if r.name == role_name)
    asyncio.run(until_signal(role.run, settings, url))


async def until_signal(run: RunRole, settings: Settings, url: str) -> None:
    """`run(settings, url, stop)` with `stop` set by SIGTERM or SIGINT (serve's role processes,
    and commands that run a role in the foreground, such as `dlrecon process`)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)  # each role bounds its own stop
    await run(settings, url, stop)


def _child_main(target: Callable[..., None], args: tuple[Any, ...], parent: int) -> None:
    # a process group of its own: a terminal's Ctrl-C (or a signal to serve's group) reaches
    # only `serve`, which stops each child once, instead of every child getting it twice
    os.setpgrp()
    _die_with_parent(parent)
    target(*args)


def _die_with_parent(parent: int) -> None:
    """Linux: have the kernel send SIGTERM to this child when `serve` dies, even by SIGKILL,
    so no worker outlives it (elsewhere this does nothing)."""
    if not sys.platform.startswith("linux"):
        return
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    # `serve` died before prctl took effect (`serve` itself may be pid 1, in a container)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


_PR_SET_PDEATHSIG = 1
# how long a role process may take to stop cleanly, after the HTTP workers' shutdown timeout
_STOP_SECONDS = 10.0
# a child that exits with an error this soon after its first start failed to start: `serve`
# stops with it rather than starting it again and again (a port in use...). A child killed by
# a signal, one that ran longer, or one started again later, is started again, after a pause
# that doubles while it keeps dying young (up to _MAX_PAUSE seconds)
_STARTUP_SECONDS = 30.0
_MAX_PAUSE = 30.0


@dataclass
class _Child:
    name: str
    target: Callable[..., None]
    args: tuple[Any, ...]
    process: multiprocessing.process.BaseProcess | None = None
    started: float = 0.0
    starts: int = 0
    young_deaths: int = 0  # deaths in a row within _STARTUP_SECONDS of their start
    start_at: float | None = None  # when to start it again


def serve(settings: Settings, url: str, host: str, port: int, workers: int) -> None:
    """Run `workers` HTTP processes on one port (SO_REUSEPORT when more than one) and the
    processes of every role beside them (`processor.processes` processors...), or everything
    in this process when that is one HTTP worker with the processor inside it."""
    p = settings.processor
    in_worker = p.enabled and p.processes == 0
    role_children = [
        _Child(f"{role.name}-{n}", _role_worker, (role.name, settings, url))
        for role in app.roles()
        for n in range(role.processes(settings))
    ]
    if workers == 1 and not role_children:
        _clear_given_metrics_dir()
        _worker(settings, url, host, port, reuse_port=False, with_processor=in_worker)
        return
    children = [
        _Child(f"http-{n}", _worker, (settings, url, host, port, workers > 1, in_worker, n == 0))
        for n in range(workers)
    ] + role_children
    with _shared_metrics_dir():
        failed = _supervise(children, settings.server.shutdown_timeout + _STOP_SECONDS)
    if failed:
        sys.exit(1)


@contextlib.contextmanager
def _shared_metrics_dir() -> Iterator[None]:
    """A fresh folder where every child records its metrics (see `receiver.metrics`)."""
    if _clear_given_metrics_dir():
        yield
        return
    _remove_stale_metrics_dirs()
    folder = tempfile.mkdtemp(prefix=f"dlrecon-metrics-{os.getpid()}-")
    os.environ[MULTIPROC_ENV] = folder
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def _clear_given_metrics_dir() -> bool:
    """Empty the operator's `PROMETHEUS_MULTIPROC_DIR`, if set, as prometheus_client requires
    at start (else the values of an earlier run are added in). Whether one is set."""
    given = os.environ.get(MULTIPROC_ENV)
    if not given:
        return False
    for stale in Path(given).glob("*.db"):
        stale.unlink()
    return True


def _remove_stale_metrics_dirs() -> None:
    """The folders of `serve`s that were killed (SIGKILL leaves no chance to clean up)."""
    for folder in Path(tempfile.gettempdir()).glob("dlrecon-metrics-*-*"):
        owner = folder.name.split("-")[2]
        if owner.isdigit() and not _alive(int(owner)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True


def _supervise(children: list[_Child], kill_after: float) -> bool:
    """Start the children, start again one that dies after it was up, stop them all on SIGTERM
    or SIGINT. True when a child failed (at its first start, or with an error at the end)."""
    context = multiprocessing.get_context("spawn")
    stopping = False
    failed = False

    def start(child: _Child) -> None:
        if stopping:
            return
        child.start_at = None
        child.process = context.Process(
            target=_child_main, args=(child.target, child.args, os.getpid()), name=child.name
        )
        child.process.start()
        child.started = time.monotonic()
        child.starts += 1
        if stopping and child.process.pid:  # the signal came while it was being started
            os.kill(child.process.pid, signal.SIGTERM)

    def stop_all(signum: int = signal.SIGTERM, frame: Any = None) -> None:
        nonlocal stopping
        stopping = True
        for child in children:
            if child.process is not None and child.process.is_alive() and child.process.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.process.pid, signal.SIGTERM)

    previous = {n: signal.signal(n, stop_all) for n in (signal.SIGTERM, signal.SIGINT)}
    try:
        for child in children:
            start(child)
        running = list(children)
        stopped_at: float | None = None
        while running:
            for child in running:
                due = child.start_at is not None and time.monotonic() >= child.start_at
                if child.process is None and due:
                    start(child)
            sentinels = [c.process.sentinel for c in running if c.process is not None]
            multiprocessing.connection.wait(sentinels, timeout=0.5)
            if stopping and stopped_at is None:
                stopped_at = time.monotonic()
            if stopped_at is not None and time.monotonic() - stopped_at > kill_after:
                stopped_at = float("inf")  # once
                for child in running:  # past their own shutdown timeouts: not coming back
                    if child.process is not None and child.process.pid:
                        log.error("child_killed_at_stop", child=child.name)
                        with contextlib.suppress(ProcessLookupError):
                            os.kill(child.process.pid, signal.SIGKILL)
            for child in list(running):
                process = child.process
                if process is None:  # waiting to be started again
                    if stopping:
                        running.remove(child)
                    continue
                if process.is_alive():
                    continue
                process.join()
                child.process = None
                if process.pid is not None:
                    with contextlib.suppress(OSError):
                        mark_process_dead(process.pid)  # type: ignore[no-untyped-call]
                young = time.monotonic() - child.started < _STARTUP_SECONDS
                if stopping:
                    failed = failed or process.exitcode not in (0, -signal.SIGTERM)
                    running.remove(child)
                elif child.starts == 1 and young and (process.exitcode or 0) > 0:
                    log.error("child_failed_at_start", child=child.name, exitcode=process.exitcode)
                    failed = True
                    running.remove(child)
                    stop_all()
                else:
                    child.young_deaths = child.young_deaths + 1 if young else 0
                    pause = min(_MAX_PAUSE, 0.5 * 2**child.young_deaths)
                    log.error(
                        "child_exited",
                        child=child.name,
                        exitcode=process.exitcode,
                        restart_in=pause,
                    )
                    child.start_at = time.monotonic() + pause  # the others go on serving meanwhile
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    return failed
