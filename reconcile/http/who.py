"""Who is asking: the name of the API token a request carries (recorded with what it does)."""

from __future__ import annotations

from aiohttp import web

from receiver.http import auth, keys
from receiver.settings import Scope


def token_name(request: web.Request) -> str:
    """The name of the request's token (the middleware has checked it already)."""
    token = auth.authorize(
        request.app[keys.SETTINGS], request.headers.get("Authorization"), Scope.FINANCE
    )
    if token is None or not token.name:
        return "unnamed token"
    return token.name
