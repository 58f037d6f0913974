"""Bearer tokens with scopes for everything under /v1 except callbacks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from receiver import signatures
from receiver.errors import AuthenticationFailed, PermissionDenied
from receiver.settings import ApiToken, Scope, Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SCOPE_ATTR = "__dlrecon_scope__"
PUBLIC = "public"


def requires(scope: Scope | str) -> Callable[[Handler], Handler]:
    """Mark a handler with the scope it needs (`PUBLIC` for none)."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, _SCOPE_ATTR, scope)
        return handler

    return mark


def required_scope(handler: Any) -> Scope | str:
    """The handler's scope; unmarked handlers need `admin` (deny by default)."""
    return getattr(handler, _SCOPE_ATTR, Scope.ADMIN)


def find_token(settings: Settings, presented: str) -> ApiToken | None:
    """The configured token equal to `presented`; every candidate is compared in constant time."""
    found = None
    for candidate in settings.api.tokens:
        if signatures.same(candidate.token.get_secret_value(), presented):
            found = candidate
    return found


def authorize(settings: Settings, header: str | None, scope: Scope | str) -> ApiToken | None:
    """Check `Authorization: Bearer …` against the scope; raise when refused."""
    if scope == PUBLIC:
        return None
    kind, _, presented = (header or "").partition(" ")
    if kind.lower() != "bearer" or not presented.strip():
        raise AuthenticationFailed("missing bearer token")
    token = find_token(settings, presented.strip())
    if token is None:
        raise AuthenticationFailed("invalid bearer token")
    if scope not in token.scopes and Scope.ADMIN not in token.scopes:
        raise PermissionDenied(f"this needs the {scope!s} scope")
    return token
