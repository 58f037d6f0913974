"""`/v1/messages`: register sent messages and look them up."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from receiver import lookup, registry
from receiver.db.pool import translated
from receiver.errors import InvalidInput, NotFound
from receiver.http import auth, keys
from receiver.http.bodies import json_response, loads_exact, read_limited
from receiver.settings import Scope

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


@routes.post("/v1/messages")
@auth.requires(Scope.SEND)
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
    async with translated(), request.app[keys.POOL].acquire() as conn:
        results = await registry.register(
            conn, request.app[keys.SETTINGS], [item for _, item in good]
        )
    out: list[dict[str, Any]] = [{"index": i, "error": e} for i, e in line_errors.items()]
    for (index, _), result in zip(good, results, strict=True):
        entry: dict[str, Any] = {"index": index}
        if result.error:
            entry["error"] = result.error
        else:
            entry.update(message_id=result.message_id, created=result.created)
            if result.warning:
                entry["warning"] = result.warning
        out.append(entry)
    out.sort(key=lambda e: e["index"])
    errors = sum(1 for e in out if "error" in e)
    summary = {
        "created": sum(1 for e in out if e.get("created")),
        "existing": sum(1 for e in out if e.get("created") is False),
        "errors": errors,
        "results": out,
    }
    return json_response(summary, status=400 if errors == len(out) else 200)


@routes.get("/v1/messages/{id}")
@auth.requires(Scope.READ)
async def get_message(request: web.Request) -> web.Response:
    try:
        message_id = int(request.match_info["id"])
    except ValueError:
        raise NotFound("no such message") from None
    if not 0 < message_id < 2**63:
        raise NotFound("no such message")
    async with translated(), request.app[keys.POOL].acquire() as conn:
        view = await lookup.message_view(conn, message_id)
    if view is None:
        raise NotFound("no such message")
    return json_response(view)


@routes.get("/v1/messages")
@auth.requires(Scope.READ)
async def find_messages(request: web.Request) -> web.Response:
    q = request.query
    if not (q.get("provider_message_id") or q.get("client_ref")):
        raise InvalidInput("give provider_message_id or client_ref (with provider)")
    if any("\x00" in value for value in q.values()):
        raise InvalidInput("query parameters must not contain NUL characters")
    async with translated(), request.app[keys.POOL].acquire() as conn:
        views = await lookup.find(
            conn,
            request.app[keys.SETTINGS],
            provider=q.get("provider") or None,
            provider_message_id=q.get("provider_message_id") or None,
            client_ref=q.get("client_ref") or None,
        )
    return json_response({"messages": views})
