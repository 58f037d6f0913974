"""`/v1/messages`: register sent messages and look them up."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from receiver import trace
from receiver.db.pool import connection
from receiver.errors import InvalidInput, NotFound
from receiver.http import api, keys
from receiver.http.bodies import json_response, loads_exact, read_limited
from receiver.registration import register as registration
from receiver.registration.model import MessageIn
from receiver.settings import Scope
from receiver.views import ItemOutcome, MessageList, MessageView, Registered

routes = web.RouteTableDef()

MAX_REGISTER_BYTES = 64 * 1024 * 1024
MAX_ITEMS = 10000


def _loads(text: str) -> Any:
    try:
        return loads_exact(text)
    except RecursionError:
        raise json.JSONDecodeError("nested too deeply", text, 0) from None
    except json.JSONDecodeError:
        raise
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise json.JSONDecodeError(str(exc), text, 0) from None


def parse_items(body: bytes, content_type: str) -> tuple[list[Any], dict[int, str]]:
    """One object, an array, or NDJSON; NDJSON lines that are not JSON become item errors."""
    text = body.decode("utf-8", errors="strict") if body else ""
    stripped = text.strip()
    if not stripped:
        raise InvalidInput("empty body: send a JSON object, a JSON array or NDJSON")
    if "ndjson" not in content_type and "jsonlines" not in content_type:
        try:
            decoded = _loads(stripped)
        except json.JSONDecodeError:
            decoded = None
        else:
            return (decoded if isinstance(decoded, list) else [decoded]), {}
    items: list[Any] = []
    errors: dict[int, str] = {}
    for line_no, line in enumerate(stripped.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            items.append(_loads(line))
        except json.JSONDecodeError as exc:
            errors[len(items)] = f"line {line_no}: invalid JSON: {exc.msg}"
            items.append(None)
    return items, errors


_REGISTER_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    api.ref(MessageIn),
                    {"type": "array", "items": api.ref(MessageIn)},
                ]
            }
        },
        "application/x-ndjson": {"schema": {"type": "string"}},
    },
}
_REGISTER_400 = {
    "description": "Invalid input: an error, or per-item results when every item failed",
    "content": {
        "application/json": {
            "schema": {"anyOf": [{"$ref": "#/components/schemas/ErrorBody"}, api.ref(Registered)]}
        }
    },
}


@routes.post("/v1/messages")
@api.operation(
    scope=Scope.SEND,
    summary="Register sent messages (object, array or NDJSON)",
    body=_REGISTER_BODY,
    models=(MessageIn,),
    response=Registered,
    errors=(401, 403, 413, 503),
    responses={"400": _REGISTER_400},
)
async def register(request: web.Request) -> web.Response:
    """Register sent messages; per-item results, good items kept even when others fail."""
    body = await read_limited(request, MAX_REGISTER_BYTES)
    try:
        items, line_errors = parse_items(body, request.content_type)
    except UnicodeDecodeError:
        raise InvalidInput("body is not valid UTF-8") from None
    if not items:
        raise InvalidInput("no messages: send a JSON object, a non-empty array or NDJSON")
    if len(items) > MAX_ITEMS:
        raise InvalidInput(f"at most {MAX_ITEMS} messages per request")
    good = [(i, item) for i, item in enumerate(items) if i not in line_errors]
    async with connection(request.app[keys.POOL]) as conn:
        results = await registration.register(
            conn, request.app[keys.SETTINGS], [item for _, item in good]
        )
    out = [ItemOutcome(index=i, error=e) for i, e in line_errors.items()]
    for (index, _), result in zip(good, results, strict=True):
        if result.error:
            out.append(ItemOutcome(index=index, error=result.error))
        else:
            out.append(
                ItemOutcome(
                    index=index,
                    message_id=result.message_id,
                    created=result.created,
                    warning=result.warning,
                )
            )
    out.sort(key=lambda e: e.index)
    errors = sum(1 for e in out if e.error is not None)
    summary = Registered(
        created=sum(1 for e in out if e.created),
        existing=sum(1 for e in out if e.created is False),
        errors=errors,
        results=out,
    )
    return json_response(summary.to_json(), status=400 if errors == len(out) else 200)


@routes.get("/v1/messages/{id}")
@api.operation(
    scope=Scope.READ,
    summary="One message with its status and event timeline",
    path={"id": "integer"},
    response=MessageView,
    errors=(401, 403, 404, 503),
)
async def get_message(request: web.Request) -> web.Response:
    try:
        message_id = int(request.match_info["id"])
    except ValueError:
        raise NotFound("no such message") from None
    if not 0 < message_id < 2**63:
        raise NotFound("no such message")
    sections = request.app[keys.TRACE_SECTIONS]
    async with connection(request.app[keys.POOL]) as conn:
        view = await trace.message_view(conn, message_id, sections)
    if view is None:
        raise NotFound("no such message")
    return json_response(view.to_json())


class MessageQuery(BaseModel):
    provider: str | None = Field(default=None, description="provider key")
    provider_message_id: str | None = Field(default=None, description="the provider's id")
    client_ref: str | None = Field(default=None, description="the sending system's reference")


@routes.get("/v1/messages")
@api.operation(
    scope=Scope.READ,
    summary="Find messages by provider id or client reference",
    query=MessageQuery,
    response=MessageList,
    errors=(400, 401, 403, 503),
)
async def find_messages(request: web.Request) -> web.Response:
    q = api.query(request, MessageQuery)
    if not (q.provider_message_id or q.client_ref):
        raise InvalidInput("give provider_message_id or client_ref (with provider)")
    sections = request.app[keys.TRACE_SECTIONS]
    async with connection(request.app[keys.POOL]) as conn:
        views = await trace.find(
            conn,
            request.app[keys.SETTINGS],
            provider=q.provider or None,
            provider_message_id=q.provider_message_id or None,
            client_ref=q.client_ref or None,
            sections=sections,
        )
    return json_response(MessageList(messages=views).to_json())
