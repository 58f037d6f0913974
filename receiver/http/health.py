"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST

from receiver.db import migrations
from receiver.db.pool import connection, describe
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
    try:
        async with asyncio.timeout(2), connection(request.app[keys.POOL]) as conn:
            pending = await migrations.pending(conn)
    except DatabaseUnavailable as exc:
        return json_response({"status": "unavailable", "database": str(exc)}, status=503)
    except TimeoutError as exc:
        return json_response({"status": "unavailable", "database": describe(exc)}, status=503)
    if pending:
        names = [m.name for m in pending]
        return json_response({"status": "unavailable", "pending_migrations": names}, status=503)
    return json_response({"status": "ready"})


@routes.get("/metrics")
@auth.requires(auth.PUBLIC)
async def metrics(request: web.Request) -> web.Response:
    """Prometheus text format. Nothing is queried here: figures from SQL (processor lag,
    on-call gauges) are set by the processes that compute them (the processor, the on-call
    refresher), whatever the number of workers answering scrapes."""
    app_metrics = request.app[keys.METRICS]
    return web.Response(
        body=app_metrics.exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )
