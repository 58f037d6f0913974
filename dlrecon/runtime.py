"""Process-level plumbing for the CLI: which database, and running the server."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import structlog
from aiohttp import web
from prometheus_client.multiprocess import mark_process_dead

from receiver import logs
from receiver.db import migrations
from receiver.db import pool as db_pool
from receiver.db.embedded import EmbeddedError, EmbeddedPostgres, default_data_dir
from receiver.errors import DatabaseUnavailable
from receiver.http.app import create_app
from receiver.metrics import MULTIPROC_ENV, Metrics
from receiver.processor import Processor
from receiver.settings import Settings

log = structlog.get_logger(__name__)


def embedded_for(settings: Settings) -> EmbeddedPostgres:
    return EmbeddedPostgres(settings.database.data_dir or default_data_dir())


@contextlib.contextmanager
def database_url(settings: Settings, *, keep_running: bool = False) -> Iterator[str]:
    """The configured URL, or an embedded Postgres started (or re-attached) for this process."""
    if settings.database.url is not None:
        yield settings.database.url.get_secret_value()
        return
    embedded = embedded_for(settings)
    try:
        url = embedded.start()
    except EmbeddedError as exc:
        raise click.ClickException(f"embedded Postgres failed to start: {exc}") from None
    try:
        yield url
    finally:
        if not keep_running:
            embedded.stop()


def run_async(coro: Any) -> Any:
    """Run a coroutine; database problems become one clear line and exit status 1."""
    try:
        return asyncio.run(coro)
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from None


async def migrate(url: str, timeout: float) -> list[str]:
    conn = await db_pool.connect(url, timeout=timeout)
    try:
        return [m.name for m in await migrations.apply(conn)]
    finally:
        await conn.close()


def _worker(
    settings: Settings, url: str, host: str, port: int, reuse_port: bool, with_processor: bool
) -> None:
    """One HTTP worker (in a child of `serve`, or `serve` itself when it is alone)."""
    logs.configure(settings.log.level, settings.log.format)
    settings = settings.model_copy(
        update={
            "database": settings.database.model_copy(update={"migrate_on_start": False}),
            "processor": settings.processor.model_copy(update={"enabled": with_processor}),
        }
    )
    app = create_app(settings, url)
    web.run_app(
        app,
        host=host,
        port=port,
        reuse_port=reuse_port,
        shutdown_timeout=settings.server.shutdown_timeout,
        print=None,
        access_log=None,
    )


def _processor_worker(settings: Settings, url: str) -> None:
    """One processor process of `serve` (niced as configured)."""
    logs.configure(settings.log.level, settings.log.format)
    if settings.processor.nice:
        os.nice(settings.processor.nice)
    asyncio.run(run_processor(settings, url, wait_for_database=True))


async def run_processor(settings: Settings, url: str, *, wait_for_database: bool) -> None:
    """The processor loop until SIGTERM or SIGINT (`dlrecon process`, `serve`'s processors).

    With `wait_for_database`, a database that is not there yet is waited for; otherwise
    `DatabaseUnavailable` is raised at once."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)  # the stop itself is bounded (_STOP_SECONDS)
    timeout = settings.database.connect_timeout
    backoff = 0.5
    while True:
        try:
            pool = await db_pool.create(url, min_size=1, max_size=2, timeout=timeout)
            break
        except DatabaseUnavailable as exc:
            if not wait_for_database:
                raise
            log.warning("processor_database_unavailable", error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            if stop.is_set():
                return
            backoff = min(backoff * 2, 5.0)
    worker = Processor(pool, settings, Metrics())
    worker.start()
    await stop.wait()
    try:
        # a batch in progress is rolled back and claimed again by the next processor
        async with asyncio.timeout(_STOP_SECONDS):
            await worker.stop()
            await pool.close()
    except TimeoutError:
        log.warning("processor_stop_timed_out")
        pool.terminate()


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
# how long a processor may take to stop cleanly
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
    """Run `workers` HTTP processes on one port (SO_REUSEPORT when more than one) and
    `processor.processes` processor processes beside them, or everything in this process
    when that is one HTTP worker with the processor inside it."""
    p = settings.processor
    in_worker = p.enabled and p.processes == 0
    separate = p.processes if p.enabled else 0
    if workers == 1 and separate == 0:
        _clear_given_metrics_dir()
        _worker(settings, url, host, port, reuse_port=False, with_processor=in_worker)
        return
    children = [
        _Child(f"http-{n}", _worker, (settings, url, host, port, workers > 1, in_worker))
        for n in range(workers)
    ] + [_Child(f"processor-{n}", _processor_worker, (settings, url)) for n in range(separate)]
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

    signal.signal(signal.SIGTERM, stop_all)
    signal.signal(signal.SIGINT, stop_all)
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
                    "child_exited", child=child.name, exitcode=process.exitcode, restart_in=pause
                )
                child.start_at = time.monotonic() + pause  # the others go on serving meanwhile
    return failed
