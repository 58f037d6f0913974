"""Bearer tokens with scopes for everything under /v1 except callbacks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from aiohttp import web

from receiver import signatures
from receiver.errors import AuthenticationFailed, PermissionDenied
from receiver.settings import ApiToken, Scope, Settings

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
_SCOPE_ATTR = "__dlrecon_scope__"
_LOGIN_ATTR = "__dlrecon_login__"
PUBLIC = "public"
# methods that change nothing: the only ones a session (cookie) may authorize, so that a
# request forged from another site can never change anything
SAFE_METHODS = frozenset({"GET", "HEAD"})

# another way than the bearer header to present credentials (e.g. the /ops page's session
# cookie, offered by a wing): the scopes it grants this request, or None when it has none
Session = Callable[[web.Request], frozenset[str] | None]


def requires(scope: Scope | str) -> Callable[[Handler], Handler]:
    """Mark a handler with the scope it needs (`PUBLIC` for none)."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, _SCOPE_ATTR, scope)
        return handler

    return mark


def page(scope: Scope | str, login: str) -> Callable[[Handler], Handler]:
    """Mark a page for people: it needs `scope`, and a visitor without credentials is sent to
    `login` (with `?next=` the page) instead of getting a JSON 401."""

    def mark(handler: Handler) -> Handler:
        setattr(handler, _SCOPE_ATTR, scope)
        setattr(handler, _LOGIN_ATTR, login)
        return handler

    return mark


def login_page(handler: Any) -> str | None:
    """Where a page sends visitors without credentials (None: not a page)."""
    found: str | None = getattr(handler, _LOGIN_ATTR, None)
    return found


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


def authorize_request(
    request: web.Request, settings: Settings, scope: Scope | str, sessions: Sequence[Session]
) -> None:
    """The bearer header when there is one; else, for a safe method, the first session that
    recognises the request (it grants only its own scopes); else refused."""
    if scope == PUBLIC:
        return
    header = request.headers.get("Authorization")
    if header is None and request.method in SAFE_METHODS:
        for session in sessions:
            granted = session(request)
            if granted is None:
                continue
            if scope not in granted and Scope.ADMIN not in granted:
                raise PermissionDenied(f"this needs the {scope!s} scope")
            return
    authorize(settings, header, scope)


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
