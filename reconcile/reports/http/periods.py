"""`/v1/periods`: list the closed months, close one, reopen one (with a reason)."""

from __future__ import annotations

from aiohttp import web

from receiver.db.pool import connection
from receiver.http import api, keys
from receiver.http.bodies import json_response, read_limited
from receiver.settings import Scope
from reconcile.http import keys as reconcile_keys
from reconcile.http.runs import parse_body
from reconcile.http.who import token_name
from reconcile.reports import months, periods
from reconcile.reports.views import (
    ClosingView,
    PeriodList,
    ReopenRequest,
    closing_view,
    period_view,
)

routes = web.RouteTableDef()


@routes.get("/v1/periods")
@api.operation(
    scope=Scope.FINANCE,
    summary="Every month ever closed, with its closings and reopenings",
    response=PeriodList,
    errors=(401, 403, 503),
)
async def list_periods(request: web.Request) -> web.Response:
    async with connection(request.app[keys.POOL]) as conn:
        found = await periods.listing(conn)
    return json_response(PeriodList(periods=[period_view(p) for p in found]).to_json())


@routes.post("/v1/periods/{month}/close")
@api.operation(
    scope=Scope.FINANCE,
    summary="Close a month that has ended: its report's figures are frozen as of now",
    path={"month": "string"},
    response=ClosingView,
    errors=(400, 401, 403, 409, 503),
)
async def close_period(request: web.Request) -> web.Response:
    month = months.parse(request.match_info["month"])
    config = request.app[reconcile_keys.CONFIG]
    async with connection(request.app[keys.POOL]) as conn:
        closing = await periods.close(
            conn,
            month,
            by=token_name(request),
            config=config.run_config(),
            work_mem=config.settings.work_mem,
        )
    return json_response(closing_view(closing).to_json())


@routes.post("/v1/periods/{month}/reopen")
@api.operation(
    scope=Scope.FINANCE,
    summary="Reopen a closed month (recorded: who, when, why); its report is computed again",
    path={"month": "string"},
    body=ReopenRequest,
    response=ClosingView,
    errors=(400, 401, 403, 409, 503),
)
async def reopen_period(request: web.Request) -> web.Response:
    month = months.parse(request.match_info["month"])
    body = parse_body(await read_limited(request, 16 * 1024), ReopenRequest)
    assert isinstance(body, ReopenRequest)
    async with connection(request.app[keys.POOL]) as conn:
        closing = await periods.reopen(conn, month, by=token_name(request), reason=body.reason)
    return json_response(closing_view(closing).to_json())
