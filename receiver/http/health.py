"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from receiver import processor
from receiver.db import migrations
from receiver.db.pool import UNAVAILABLE, describe
from receiver.errors import DatabaseUnavailable
from receiver.http import auth, keys
from receiver.http.bodies import json_response

routes = web.RouteTableDef()


@routes.get("/healthz")
@auth.requires(auth.PUBLIC)
async def healthz(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


@routes.get("/readyz")
@auth.requires(auth.PUBLIC)
async def readyz(request: web.Request) -> web.Response:
    """200 when the database answers and every migration is applied, else 503."""
    pool = request.app[keys.POOL]
    try:
        async with asyncio.timeout(2):
            async with pool.acquire() as conn:
                pending = await migrations.pending(conn)
    except (*UNAVAILABLE, TimeoutError) as exc:
        return json_response({"status": "unavailable", "database": describe(exc)}, status=503)
    if pending:
        names = [m.name for m in pending]
        return json_response({"status": "unavailable", "pending_migrations": names}, status=503)
    return json_response({"status": "ready"})


@routes.get("/metrics")
@auth.requires(auth.PUBLIC)
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format; the processor lag is measured at scrape time."""
    app_metrics = request.app[keys.METRICS]
    try:
        async with asyncio.timeout(2):
            app_metrics.processor_lag.set(await processor.lag(request.app[keys.POOL]))
    except (DatabaseUnavailable, TimeoutError):
        pass  # the last known value stays; /readyz says the database is gone
    return web.Response(
        body=app_metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )
