"""What a package offers the composition root (`dlrecon.app`): a `Wing` of routes, start-up
steps and role processes. `WING` is the receiver's: callbacks, registration and trace, health,
the OpenAPI document, the pool, the inbox writer and the processor."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from receiver import processor
from receiver.db import migrations
from receiver.db import pool as db_pool
from receiver.http import callbacks, health, keys, messages, openapi
from receiver.http.auth import Session
from receiver.inbox.refusals import Refusals
from receiver.inbox.writer import InboxWriter
from receiver.metrics import Metrics
from receiver.poll import poller
from receiver.processor import Processor
from receiver.roles import Role
from receiver.trace import TraceSection

# a `cleanup_ctx` entry: set up before `yield`, torn down after
Startup = Callable[[web.Application], AsyncIterator[None]]


@dataclass(frozen=True, slots=True)
class Wing:
    """One package's part of the application. The root installs every wing (`install`, with
    the whole configuration, before the app starts), adds its routes, and runs the start-up
    steps of all wings in order (stopped in reverse)."""

    name: str
    routes: Sequence[web.RouteTableDef] = ()
    startup: Sequence[Startup] = ()
    roles: Sequence[Role] = ()
    # what the wing adds to a message's trace (`GET /v1/messages/{id}`, `dlrecon trace`)
    trace_sections: Sequence[TraceSection] = ()
    # ways besides bearer tokens to authorize safe requests (the /ops page's session cookie)
    sessions: Sequence[Session] = ()
    # puts what the wing's handlers need into the app (`settings` is the whole configuration)
    install: Callable[[web.Application, Any], None] = lambda app, settings: None


def _install(app: web.Application, settings: Any) -> None:
    app[keys.SETTINGS] = settings
    app[keys.METRICS] = Metrics()


async def _database(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS].database
    app[keys.POOL] = await db_pool.create(
        app[keys.DATABASE_URL],
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        timeout=settings.connect_timeout,
    )
    if settings.migrate_on_start:
        async with db_pool.connection(app[keys.POOL]) as conn:
            await migrations.apply(conn)
    yield
    await app[keys.POOL].close()


async def _processor(app: web.Application) -> AsyncIterator[None]:
    settings = app[keys.SETTINGS]
    worker = Processor(app[keys.POOL], settings, app[keys.METRICS])
    app[keys.PROCESSOR] = worker
    # `serve` turns it off in its HTTP workers when the processor has processes of its own
    if settings.processor.enabled:
        worker.start()
    yield
    await worker.stop()


async def _inbox_writer(app: web.Application) -> AsyncIterator[None]:
    writer = InboxWriter(
        app[keys.POOL],
        app[keys.SETTINGS].inbox,
        app[keys.METRICS],
        on_commit=app[keys.PROCESSOR].wake,
    )
    app[keys.WRITER] = writer
    writer.start()
    yield
    await writer.stop()


async def _refusals(app: web.Application) -> AsyncIterator[None]:
    counter = Refusals(app[keys.POOL])
    app[keys.REFUSALS] = counter
    counter.start()
    yield
    await counter.stop()


WING = Wing(
    name="receiver",
    routes=(health.routes, callbacks.routes, messages.routes, openapi.routes),
    # started in this order, stopped in reverse: the writer drains before the pool closes
    startup=(_database, _refusals, _processor, _inbox_writer),
    roles=(processor.ROLE, poller.ROLE),
    install=_install,
)
