"""Reading request bodies within limits, and JSON answers that keep money exact."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from receiver.errors import ClientDisconnected, RequestTimeout, TooLarge
from receiver.exactjson import dumps, loads_exact
from receiver.http import keys

__all__ = ["dumps", "json_response", "loads_exact", "read_limited"]


async def read_limited(request: web.Request, limit: int, timeout: float | None = None) -> bytes:
    """The whole body, or 413 as soon as it passes `limit` bytes; `ClientDisconnected` when
    the client goes before it has sent it all, `RequestTimeout` (and the connection closed)
    when it has not sent it all within `timeout` seconds (`server.body_timeout` unless given)."""
    if timeout is None:
        timeout = request.app[keys.SETTINGS].server.body_timeout
    length = request.content_length
    if length is not None and length > limit:
        raise TooLarge(limit)
    if not request.body_exists:
        return b""
    chunks: list[bytes] = []
    size = 0
    try:
        if length is not None:
            # the usual callback: a small body with its length, already whole in the buffer
            # (it came in the same packets as the head): taken at once, without a chunk
            # iterator or a timer; whatever has not come yet is read below
            first = request.content.read_nowait(length)
            if len(first) == length:
                return first
            chunks.append(first)
            size = len(first)
        async with asyncio.timeout(timeout):
            async for chunk in request.content.iter_chunked(64 * 1024):
                size += len(chunk)
                if size > limit:
                    raise TooLarge(limit)
                chunks.append(chunk)
    except ConnectionError:
        raise ClientDisconnected(f"connection closed after {size} bytes of the body") from None
    except TimeoutError:
        # a body trickling in: no answer is owed, and the connection is not kept
        if request.transport is not None:
            request.transport.close()
        raise RequestTimeout(f"{size} bytes of the body in {timeout:g} s") from None
    return b"".join(chunks)


def json_response(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=dumps)
