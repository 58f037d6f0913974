"""On-call's JSON API: provider health and the inbox's quarantined and held callbacks."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Literal

from aiohttp import web
from pydantic import BaseModel, Field, field_validator

from receiver import trace
from receiver.db import inbox as inbox_store
from receiver.db.pool import connection
from receiver.errors import InvalidInput, NotFound
from receiver.http import api, keys
from receiver.http.bodies import json_response
from receiver.settings import Scope
from receiver.views import StoredRequestView
from reconcile.durations import parse_duration
from reconcile.oncall import health as health_module
from reconcile.oncall.http import keys as oncall_keys
from reconcile.oncall.views import HealthAnswer, InboxCount, InboxList

routes = web.RouteTableDef()


class HealthQuery(BaseModel):
    window: str | None = Field(
        default=None,
        description="one window (e.g. 15m, 1h, 24h; 1 minute to 7 days); default: those of "
        "[oncall] windows",
    )
    provider: str | None = Field(default=None, description="only this provider key")

    @field_validator("window")
    @classmethod
    def _window(cls, value: str | None) -> str | None:
        if value is None:
            return None
        d = parse_duration(value)
        if not timedelta(minutes=1) <= d <= timedelta(days=7):
            raise ValueError("a window is from 1m to 7d")
        return value


async def provider_health(app: web.Application, q: HealthQuery) -> HealthAnswer:
    """Provider health as the API answers it (the /ops page renders the same answer)."""
    settings = app[keys.SETTINGS]
    oncall = app[oncall_keys.ONCALL]
    windows = [parse_duration(q.window)] if q.window else list(oncall.windows)
    wanted = [q.provider] if q.provider else list(settings.providers)
    now = datetime.now(UTC)
    async with connection(app[keys.POOL]) as conn:
        usual = await app[oncall_keys.USUAL].get(conn, now)
        if q.provider:
            usual = {k: v for k, v in usual.items() if k == q.provider}
        answer = await health_module.health(
            conn,
            now=now,
            windows=windows,
            keys=wanted,
            rules=oncall.health,
            usual=usual,
            long_windows=app[oncall_keys.LONG_WINDOWS],
        )
    if q.provider:
        answer = answer.model_copy(
            update={"providers": [p for p in answer.providers if p.provider == q.provider]}
        )
    return answer


@routes.get("/v1/providers/health")
@api.operation(
    scope=Scope.READ,
    summary="Per provider key and window: sent, callbacks per message against the usual "
    "ratio, failures, orphans, quarantine, verification failures, time to final, a state",
    query=HealthQuery,
    response=HealthAnswer,
    errors=(400, 401, 403, 503),
)
async def get_health(request: web.Request) -> web.Response:
    answer = await provider_health(request.app, api.query(request, HealthQuery))
    return json_response(answer.to_json())


class InboxQuery(BaseModel):
    state: Literal["quarantined", "held"] | None = Field(
        default=None, description="only this state (default: both)"
    )
    provider: str | None = Field(default=None, description="only this provider key")
    limit: int = Field(default=50, ge=1, le=500)
    cursor: str | None = Field(default=None, description="`next_cursor` of the previous page")


def _cursor(text: str | None) -> tuple[datetime, int] | None:
    if not text:
        return None
    try:
        at, _, row_id = base64.urlsafe_b64decode(text.encode()).decode().partition("|")
        return datetime.fromisoformat(at), int(row_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("invalid cursor") from None


def _next_cursor(rows: list[StoredRequestView], limit: int) -> str | None:
    if len(rows) < limit:
        return None
    last = rows[-1]
    return base64.urlsafe_b64encode(f"{last.received_at.isoformat()}|{last.id}".encode()).decode()


async def inbox_list(app: web.Application, q: InboxQuery) -> InboxList:
    states = [q.state] if q.state else ["quarantined", "held"]
    async with connection(app[keys.POOL]) as conn:
        rows = await inbox_store.attention(
            conn, states=states, provider_key=q.provider, after=_cursor(q.cursor), limit=q.limit
        )
        counts = await inbox_store.attention_counts(conn)
    views = [trace.stored_request(r) for r in rows]
    return InboxList(
        counts=[
            InboxCount(provider=k, state=s, count=n)
            for k, s, n in counts
            if (q.provider is None or k == q.provider) and s in states
        ],
        requests=views,
        next_cursor=_next_cursor(views, q.limit),
    )


@routes.get("/v1/inbox")
@api.operation(
    scope=Scope.READ,
    summary="Quarantined and held callbacks, newest first (release them with `dlrecon inbox "
    "release ID` or `dlrecon replay`)",
    query=InboxQuery,
    response=InboxList,
    errors=(400, 401, 403, 503),
)
async def get_inbox(request: web.Request) -> web.Response:
    answer = await inbox_list(request.app, api.query(request, InboxQuery))
    return json_response(answer.to_json())


@routes.get("/v1/inbox/{id}")
@api.operation(
    scope=Scope.READ,
    summary="One stored callback as it arrived (credentials redacted) and what became of it",
    path={"id": "integer"},
    response=StoredRequestView,
    errors=(401, 403, 404, 503),
)
async def get_inbox_row(request: web.Request) -> web.Response:
    try:
        inbox_id = int(request.match_info["id"])
    except ValueError:
        raise NotFound("no such inbox row") from None
    if not 0 < inbox_id < 2**63:
        raise NotFound("no such inbox row")
    async with connection(request.app[keys.POOL]) as conn:
        row = await inbox_store.get(conn, inbox_id)
    if row is None:
        raise NotFound("no such inbox row")
    return json_response(trace.stored_request(row).to_json())
