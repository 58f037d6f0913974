"""`/v1/stuck`: messages not final past their threshold."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from aiohttp import web
from pydantic import BaseModel, Field, field_validator

from receiver.db.pool import connection
from receiver.http import api, keys
from receiver.http.bodies import json_response
from receiver.settings import Scope
from reconcile.durations import parse_duration
from reconcile.oncall import stuck as stuck_module
from reconcile.oncall.http import keys as oncall_keys
from reconcile.oncall.views import StuckAnswer

routes = web.RouteTableDef()


class StuckQuery(BaseModel):
    older_than: str | None = Field(
        default=None,
        description="only those open at least this long (e.g. 30m), besides "
        "being past their threshold",
    )
    provider: str | None = Field(default=None, description="provider key")
    channel: str | None = Field(default=None, description="sms, whatsapp or voice")
    status: str | None = Field(default=None, description="their (non-final) status")
    as_of: datetime | None = Field(
        default=None, description="what was stuck at this instant (default: now)"
    )
    limit: int = Field(default=100, ge=1, le=1000)
    cursor: str | None = Field(default=None, description="`next_cursor` of the previous page")

    @field_validator("as_of")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("as_of needs a UTC offset (e.g. 2026-12-01T10:00:00Z)")
        return value

    @field_validator("older_than")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    def older(self) -> timedelta | None:
        return parse_duration(self.older_than) if self.older_than else None


async def answer(app: web.Application, q: StuckQuery) -> StuckAnswer:
    async with connection(app[keys.POOL]) as conn:
        return await stuck_module.stuck(
            conn,
            app[oncall_keys.STUCK],
            now=q.as_of or datetime.now(UTC),
            # thresholds learned a few minutes ago serve "now"; another instant learns its own
            cache=None if q.as_of else app[oncall_keys.THRESHOLDS],
            older_than=q.older(),
            provider=q.provider,
            channel=q.channel,
            status=q.status,
            limit=q.limit,
            cursor=q.cursor,
        )


@routes.get("/v1/stuck")
@api.operation(
    scope=Scope.READ,
    summary="Messages not final past their threshold (configured, learned or default), "
    "newest problems first, counted by provider key, channel, status and age",
    query=StuckQuery,
    response=StuckAnswer,
    errors=(400, 401, 403, 503),
)
async def get_stuck(request: web.Request) -> web.Response:
    found = await answer(request.app, api.query(request, StuckQuery))
    return json_response(found.to_json())
