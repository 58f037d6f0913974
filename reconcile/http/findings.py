"""`/v1/findings`: findings across runs, one with its history, and changing its state."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from receiver.db.pool import connection
from receiver.errors import NotFound
from receiver.http import api, keys
from receiver.http.bodies import json_response, read_limited
from receiver.settings import Scope
from reconcile import lifecycle
from reconcile.db import findings
from reconcile.http.runs import _id, parse_body
from reconcile.http.who import token_name
from reconcile.views import (
    FindingChange,
    FindingDetail,
    FindingList,
    FindingView,
    State,
    finding_detail,
    finding_view,
)

routes = web.RouteTableDef()


class FindingsQuery(BaseModel):
    rule: str | None = Field(default=None, description="only this rule")
    state: State | None = Field(default=None, description="only findings in this state")
    provider: str | None = Field(default=None, description="only this provider key")
    after: int | None = Field(
        default=None, ge=0, lt=2**63, description="the `next` of the previous page"
    )
    limit: int = Field(default=100, ge=1, le=1000)


@routes.get("/v1/findings")
@api.operation(
    scope=Scope.FINANCE,
    summary="Findings across runs (one per problem), oldest first",
    query=FindingsQuery,
    response=FindingList,
    errors=(400, 401, 403, 503),
)
async def list_findings(request: web.Request) -> web.Response:
    q = api.query(request, FindingsQuery)
    async with connection(request.app[keys.POOL]) as conn:
        found = await findings.page(
            conn,
            rule=q.rule,
            state=q.state,
            provider_key=q.provider,
            after_id=q.after,
            limit=q.limit,
        )
    following = found[-1].id if len(found) == q.limit else None
    return json_response(
        FindingList(findings=[finding_view(f) for f in found], next=following).to_json()
    )


@routes.get("/v1/findings/{id}")
@api.operation(
    scope=Scope.FINANCE,
    summary="One finding with every change of its state and the runs that saw it",
    path={"id": "integer"},
    response=FindingDetail,
    errors=(401, 403, 404, 503),
)
async def get_finding(request: web.Request) -> web.Response:
    finding_id = _id(request, "finding")
    async with connection(request.app[keys.POOL]) as conn:
        found = await findings.get(conn, finding_id)
        if found is None:
            raise NotFound("no such finding")
        detail = finding_detail(
            found,
            await findings.changes(conn, finding_id),
            await findings.runs(conn, finding_id),
        )
    return json_response(detail.to_json())


@routes.patch("/v1/findings/{id}")
@api.operation(
    scope=Scope.FINANCE,
    summary="Acknowledge, resolve, accept (with a note) or reopen a finding",
    path={"id": "integer"},
    body=FindingChange,
    response=FindingView,
    errors=(400, 401, 403, 404, 503),
)
async def change_finding(request: web.Request) -> web.Response:
    finding_id = _id(request, "finding")
    body = parse_body(await read_limited(request, 64 * 1024), FindingChange)
    assert isinstance(body, FindingChange)
    async with connection(request.app[keys.POOL]) as conn:
        changed = await lifecycle.change(
            conn, finding_id, state=body.state, note=body.note, by=token_name(request)
        )
    return json_response(finding_view(changed).to_json())
