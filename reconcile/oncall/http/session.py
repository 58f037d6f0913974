"""The `/ops` page's session: a person signs in with an API token that has the `read` scope,
through a form, and gets a cookie that stands for that token's `read` scope only.

- The cookie holds `expiry.nonce.mac`, the MAC keyed by a key derived from the token itself:
  nothing is stored on the server, every HTTP worker and every `serve` instance checks it the
  same way, and removing the token from the configuration ends its sessions. It is `HttpOnly`
  (scripts cannot read it), `SameSite=Strict` (a browser never sends it with a request from
  another site) and `Secure` when the page was reached over HTTPS.
- It authorizes only GET and HEAD requests (`receiver.http.auth.SAFE_METHODS`) and only the
  `read` scope, so even a forged request could change nothing.
- Signing in and out are POSTs carrying a CSRF token: for the login form a random value also
  set as a cookie (double submit), for logout one derived from the session. A POST whose
  `Origin` names another site is refused as well.
- Logging out deletes the cookie in the browser; a copy taken before stays valid until it
  expires (`[oncall] session_hours`), as with any stateless session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from urllib.parse import urlsplit

from aiohttp import web

from receiver import signatures
from receiver.http import auth, keys
from receiver.settings import ApiToken, Scope

COOKIE = "dlrecon_ops"
LOGIN_CSRF_COOKIE = "dlrecon_ops_login"
PATH = "/"
GRANTED = frozenset({Scope.READ.value})


def _key(token: ApiToken) -> bytes:
    secret = token.token.get_secret_value().encode()
    return hmac.new(secret, b"dlrecon ops session v1", hashlib.sha256).digest()


def _mac(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def can_sign_in(token: ApiToken) -> bool:
    return Scope.READ in token.scopes or Scope.ADMIN in token.scopes


def new_value(token: ApiToken, lifetime_seconds: float, now: float | None = None) -> str:
    """A session cookie's value for `token`, valid for `lifetime_seconds`."""
    expiry = int((now if now is not None else time.time()) + lifetime_seconds)
    body = f"{expiry}.{secrets.token_hex(16)}"
    return f"{body}.{_mac(_key(token), body)}"


def token_of(request: web.Request, now: float | None = None) -> ApiToken | None:
    """The token whose session the request's cookie is, if it is valid and not expired."""
    value = request.cookies.get(COOKIE, "")
    parts = value.split(".")
    if len(parts) != 3 or not parts[0].isdigit():
        return None
    if int(parts[0]) < (now if now is not None else time.time()):
        return None
    body = f"{parts[0]}.{parts[1]}"
    found = None
    for token in request.app[keys.SETTINGS].api.tokens:
        # every candidate is compared, in constant time
        if can_sign_in(token) and signatures.same(_mac(_key(token), body), parts[2]):
            found = token
    return found


def session_scopes(request: web.Request) -> frozenset[str] | None:
    """`receiver.http.auth.Session`: a valid cookie grants `read`, nothing else."""
    return GRANTED if token_of(request) is not None else None


def csrf_for(request: web.Request) -> str | None:
    """The logout form's CSRF token of the request's session (None without a session)."""
    token = token_of(request)
    if token is None:
        return None
    nonce = request.cookies[COOKIE].split(".")[1]
    return _mac(_key(token), f"csrf.{nonce}")


def check_csrf(request: web.Request, given: str) -> bool:
    expected = csrf_for(request)
    return expected is not None and signatures.same(expected, given)


def same_origin(request: web.Request) -> bool:
    """False when the request says it comes from another site (`Origin`, else `Referer`)."""
    origin = request.headers.get("Origin") or request.headers.get("Referer")
    if not origin or origin == "null":
        return origin is None
    parts = urlsplit(origin)
    return parts.netloc == request.host


def secure(request: web.Request) -> bool:
    return request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"


def set_cookie(
    response: web.StreamResponse, request: web.Request, name: str, value: str, max_age: int | None
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=PATH,
        httponly=True,
        samesite="Strict",
        secure=secure(request),
    )


def find_token(request: web.Request, presented: str) -> ApiToken | None:
    return auth.find_token(request.app[keys.SETTINGS], presented)
