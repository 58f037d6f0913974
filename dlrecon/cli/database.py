"""The database a command works on: the configured one or the embedded Postgres, a pool for
the command's work, and driver problems turned into one clear line (exit status 1)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine, Iterator
from typing import Any, TypeVar

import click

from dlrecon.settings import Settings
from receiver.db import migrations
from receiver.db import pool as db_pool
from receiver.db.embedded import EmbeddedError, EmbeddedPostgres, default_data_dir
from receiver.errors import DatabaseUnavailable

T = TypeVar("T")


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


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a command's coroutine; database problems become one clear line and exit status 1."""
    try:
        return asyncio.run(coro)
    except DatabaseUnavailable as exc:
        raise click.ClickException(str(exc)) from None


@contextlib.asynccontextmanager
async def pool(
    settings: Settings, url: str, *, size: int = 2, migrated: bool = True
) -> AsyncIterator[db_pool.Pool]:
    """A small pool for one command (`db_pool.connection(pool, ...)` takes from it); with
    `migrated`, one clear line (exit 1) when the database's schema is not up to date."""
    opened = await db_pool.create(
        url, min_size=1, max_size=size, timeout=settings.database.connect_timeout
    )
    try:
        if migrated:
            async with db_pool.connection(opened) as conn:
                pending = await migrations.pending(conn)
            if pending:
                raise click.ClickException(
                    f"the database's schema is not up to date ({len(pending)} migrations not "
                    "applied): run `dlrecon migrate` first (`dlrecon serve` applies them too)"
                )
        yield opened
    finally:
        await opened.close()


async def migrate(settings: Settings, url: str) -> list[str]:
    """Apply pending migrations; the names of those applied."""
    async with (
        pool(settings, url, size=1, migrated=False) as opened,
        db_pool.connection(opened) as conn,
    ):
        return [m.name for m in await migrations.apply(conn)]


async def check_connection(settings: Settings, url: str) -> None:
    """Raise `DatabaseUnavailable` (one clear line) unless the database answers."""
    async with pool(settings, url, size=1, migrated=False):
        pass
