"""Process-level plumbing for the CLI: which database, and running the server."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from typing import Any

import click
from aiohttp import web

from receiver import logs
from receiver.db import migrations
from receiver.db import pool as db_pool
from receiver.db.embedded import EmbeddedError, EmbeddedPostgres, default_data_dir
from receiver.errors import DatabaseUnavailable
from receiver.http.app import create_app
from receiver.settings import Settings


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


def _worker(settings: Settings, url: str, host: str, port: int, reuse_port: bool) -> None:
    logs.configure(settings.log.level, settings.log.format)
    settings = settings.model_copy(
        update={"database": settings.database.model_copy(update={"migrate_on_start": False})}
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


def serve(settings: Settings, url: str, host: str, port: int, workers: int) -> None:
    """Run `workers` server processes on one port (SO_REUSEPORT when more than one)."""
    if workers == 1:
        _worker(settings, url, host, port, reuse_port=False)
        return
    context = multiprocessing.get_context("spawn")
    children = [
        context.Process(target=_worker, args=(settings, url, host, port, True), daemon=False)
        for _ in range(workers)
    ]
    for child in children:
        child.start()

    def forward(signum: int, frame: Any) -> None:
        for child in children:
            if child.is_alive() and child.pid:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()
    failed = [c.exitcode for c in children if c.exitcode not in (0, -signal.SIGTERM)]
    if failed:
        sys.exit(1)
