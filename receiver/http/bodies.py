"""Reading request bodies within limits, and JSON that keeps money exact."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any

from aiohttp import web


class TooLarge(web.HTTPRequestEntityTooLarge):
    def __init__(self, limit: int) -> None:
        super().__init__(max_size=limit, actual_size=limit + 1)


async def read_limited(request: web.Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it passes `limit` bytes."""
    if request.content_length is not None and request.content_length > limit:
        raise TooLarge(limit)
    chunks = []
    size = 0
    async for chunk in request.content.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise TooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # money is a string in JSON, never a float
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


dumps = partial(json.dumps, default=_default, ensure_ascii=False)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)


def loads_exact(text: str | bytes) -> Any:
    """JSON with decimals as `Decimal` (so money sent as numbers stays exact)."""
    return json.loads(text, parse_float=Decimal)
