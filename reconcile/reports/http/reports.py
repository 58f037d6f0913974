"""`GET /v1/reports/finance`: the finance report of a window, as JSON, CSV, XLSX or HTML (all
rendered from the one document)."""

from __future__ import annotations

from datetime import date

from aiohttp import web
from pydantic import BaseModel, Field

from receiver.db.pool import connection
from receiver.http import api, keys
from receiver.http.bodies import json_response
from receiver.settings import Scope
from reconcile.http import keys as reconcile_keys
from reconcile.reports import finance, html, tabular
from reconcile.reports.document import DIMENSIONS, FinanceReport

routes = web.RouteTableDef()

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


class FinanceQuery(BaseModel):
    start: date = Field(alias="from", description="first day (UTC) of the window")
    end: date = Field(alias="to", description="the day after the window (exclusive)")
    group_by: str = Field(
        default=",".join(DIMENSIONS),
        max_length=200,
        description="comma-separated subset of provider, channel, country, currency "
        "(currency is always added)",
    )
    format: str = Field(default="json", pattern="^(json|csv|xlsx|html)$")


@routes.get("/v1/reports/finance")
@api.operation(
    scope=Scope.FINANCE,
    summary="The finance report of a window: figures per group and per currency, daily series, "
    "amounts at stake, completeness, closed periods and adjustments",
    query=FinanceQuery,
    response=FinanceReport,
    responses={
        "200": {
            "description": "The report",
            "content": {
                "application/json": {"schema": api.ref(FinanceReport)},
                "text/csv": {"schema": {"type": "string"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
                "text/html": {"schema": {"type": "string"}},
            },
        }
    },
    models=(FinanceReport,),
    errors=(400, 401, 403, 503),
)
async def finance_report(request: web.Request) -> web.Response:
    q = api.query(request, FinanceQuery)
    dimensions = q.group_by.split(",")
    finance.group_by(dimensions)  # bad names answer 400 before any work
    finance.window(q.start, q.end)
    config = request.app[reconcile_keys.CONFIG]
    async with connection(request.app[keys.POOL]) as conn:
        doc = await finance.compute(
            conn,
            start=q.start,
            end=q.end,
            dimensions=dimensions,
            config=config.run_config(),
            work_mem=config.settings.work_mem,
        )
    name = f"finance-{q.start}-{q.end}"
    if q.format == "csv":
        return web.Response(
            text=tabular.csv_text(doc),
            content_type="text/csv",
            charset="utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    if q.format == "xlsx":
        return web.Response(
            body=tabular.xlsx_bytes(doc),
            content_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
        )
    if q.format == "html":
        # self-contained (inline CSS and SVG, no script): nothing else may load
        return web.Response(
            text=html.render(doc),
            content_type="text/html",
            charset="utf-8",
            headers={
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                "img-src data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
                "X-Content-Type-Options": "nosniff",
                "Cache-Control": "no-store",
                "Referrer-Policy": "same-origin",
            },
        )
    return json_response(doc.to_json())
