"""`create_app(settings, database_url)`: no I/O here; resources start in `cleanup_ctx`."""

from __future__ import annotations

from collections.abc import AsyncIterator

import structlog
from aiohttp import web

from receiver.db import migrations
from receiver.db import pool as db_pool
from receiver.http import callbacks, health, keys, messages, openapi
from receiver.http.middleware import request_context
from receiver.inbox import InboxWriter
from receiver.metrics import Metrics
from receiver.processor import Processor
from receiver.settings import Settings

log = structlog.get_logger(__name__)

# bodies are read by the handlers themselves, each with its own limit
_CLIENT_MAX_SIZE = 64 * 1024 * 1024


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS].database
    app[keys.POOL] = await db_pool.create(
        app[keys.DATABASE_URL],
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        timeout=settings.connect_timeout,
    )
    if settings.migrate_on_start:
        async with app[keys.POOL].acquire() as conn:
            await migrations.apply(conn)
    yield
    await app[keys.POOL].close()


async def _processor(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    processor = Processor(app[keys.POOL], settings, app[keys.METRICS])
    app[keys.PROCESSOR] = processor
    if settings.processor.enabled:
        processor.start()
    yield
    await processor.stop()


async def _inbox_writer(app: web.Application) -> AsyncIterator[None]:
    processor = app[keys.PROCESSOR]
    writer = InboxWriter(
        app[keys.POOL], app[keys.SETTINGS].inbox, app[keys.METRICS], on_commit=processor.wake
    )
    app[keys.WRITER] = writer
    writer.start()
    yield
    await writer.stop()


def create_app(settings: Settings, database_url: str) -> web.Application:
    """The dlrecon web application."""
    app = web.Application(middlewares=[request_context], client_max_size=_CLIENT_MAX_SIZE)
    app[keys.SETTINGS] = settings
    app[keys.DATABASE_URL] = database_url
    app[keys.METRICS] = Metrics()
    # started in this order, stopped in reverse: the writer drains before the pool closes
    app.cleanup_ctx.extend([_database, _processor, _inbox_writer])
    for table in (health.routes, callbacks.routes, messages.routes, openapi.routes):
        app.router.add_routes(table)
    return app
