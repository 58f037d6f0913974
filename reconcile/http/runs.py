"""`/v1/reconcile/runs`: start a run (it executes in the reconciler role), follow it, read
its findings (JSON pages or the whole CSV)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field, ValidationError

from receiver.db.pool import Connection, connection
from receiver.errors import InvalidInput, NotFound
from receiver.exactjson import loads_exact
from receiver.http import api, keys
from receiver.http.bodies import json_response, read_limited
from receiver.settings import Scope
from reconcile import report, runner
from reconcile.db import runs
from reconcile.http import keys as reconcile_keys
from reconcile.http.who import token_name
from reconcile.views import RunAccepted, RunFindings, RunRequest, RunView, run_finding_view

routes = web.RouteTableDef()
MAX_PAGE = 5000


def _id(request: web.Request, what: str) -> int:
    try:
        value = int(request.match_info["id"])
    except ValueError:
        raise NotFound(f"no such {what}") from None
    if not 0 < value < 2**63:
        raise NotFound(f"no such {what}")
    return value


def parse_body(raw: bytes, model: type[BaseModel]) -> BaseModel:
    try:
        data = loads_exact(raw or b"{}")
        return model.model_validate(data)
    except ValueError as exc:  # JSON errors and pydantic's ValidationError
        if isinstance(exc, ValidationError):
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidInput(f"invalid body: {problems}") from None
        raise InvalidInput(f"the body is not JSON: {exc}") from None


@routes.post("/v1/reconcile/runs")
@api.operation(
    scope=Scope.FINANCE,
    summary="Start a reconciliation run over a window (executed in the background)",
    body=RunRequest,
    response=RunAccepted,
    status=202,
    errors=(400, 401, 403, 503),
)
async def start_run(request: web.Request) -> web.Response:
    body = parse_body(await read_limited(request, 64 * 1024), RunRequest)
    assert isinstance(body, RunRequest)
    config = request.app[reconcile_keys.CONFIG]
    async with connection(request.app[keys.POOL]) as conn:
        run_id = await runner.queue(
            conn,
            window_from=body.window_from,
            window_to=body.window_to,
            as_of=body.as_of,
            config=config.run_config(),
            requested_by=token_name(request),
        )
    accepted = RunAccepted(id=run_id, state="queued", href=f"/v1/reconcile/runs/{run_id}")
    response = json_response(accepted.to_json(), status=202)
    response.headers["Location"] = accepted.href
    return response


@routes.get("/v1/reconcile/runs/{id}")
@api.operation(
    scope=Scope.FINANCE,
    summary="A run: state, window, cut-off, duration, counts and amounts by rule, ledger",
    path={"id": "integer"},
    response=RunView,
    errors=(401, 403, 404, 503),
)
async def get_run(request: web.Request) -> web.Response:
    run_id = _id(request, "run")
    async with connection(request.app[keys.POOL]) as conn:
        view = await report.run_view(conn, run_id)
    if view is None:
        raise NotFound("no such run")
    return json_response(view.to_json())


class RunFindingsQuery(BaseModel):
    rule: str | None = Field(default=None, description="only this rule")
    provider: str | None = Field(default=None, description="only this provider key")
    format: str = Field(default="json", pattern="^(json|csv)$", description="json or csv")
    after: str | None = Field(default=None, description="the `next` of the previous page")
    limit: int = Field(default=1000, ge=1, le=MAX_PAGE)


@routes.get("/v1/reconcile/runs/{id}/findings")
@api.operation(
    scope=Scope.FINANCE,
    summary="The findings a run saw, in rule and subject order (JSON pages, or all as CSV)",
    path={"id": "integer"},
    query=RunFindingsQuery,
    response=RunFindings,
    responses={
        "200": {
            "description": "The findings",
            "content": {
                "application/json": {"schema": api.ref(RunFindings)},
                "text/csv": {"schema": {"type": "string"}},
            },
        }
    },
    models=(RunFindings,),
    errors=(400, 401, 403, 404, 503),
)
async def run_findings(request: web.Request) -> web.StreamResponse:
    run_id = _id(request, "run")
    q = api.query(request, RunFindingsQuery)
    after = None
    if q.after:
        rule, sep, subject = q.after.partition(":")
        if not sep:
            raise InvalidInput("after: give the `next` of the previous page")
        after = (rule, subject)
    async with connection(request.app[keys.POOL]) as conn:
        if await runs.get(conn, run_id) is None:
            raise NotFound("no such run")
        if q.format == "csv":
            return await _csv(request, conn, run_id, q)
        found = await runs.findings_page(
            conn, run_id, rule=q.rule, provider_key=q.provider, after=after, limit=q.limit
        )
    following = f"{found[-1].rule}:{found[-1].subject}" if len(found) == q.limit else None
    page = RunFindings(findings=[run_finding_view(f) for f in found], next=following)
    return json_response(page.to_json())


async def _csv(
    request: web.Request, conn: Connection, run_id: int, q: RunFindingsQuery
) -> web.StreamResponse:
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/csv; charset=utf-8",
            "Content-Disposition": f'attachment; filename="run-{run_id}-findings.csv"',
        }
    )
    await response.prepare(request)
    await response.write(report.csv_text([]).encode())
    async for page in report.all_findings(conn, run_id, rule=q.rule, provider_key=q.provider):
        await response.write(report.csv_text(page, header=False).encode())
    await response.write_eof()
    return response
