"""Request id and access log, auth, metrics, and the one place errors become responses."""

from __future__ import annotations

import itertools
import os
import re
import time
from urllib.parse import urlencode

import structlog
from aiohttp import web

from receiver.errors import (
    AuthenticationFailed,
    ClientDisconnected,
    Conflict,
    DatabaseUnavailable,
    DlreconError,
    InvalidInput,
    NotFound,
    Overloaded,
    PermissionDenied,
    RequestTimeout,
    TooLarge,
)
from receiver.http import auth, keys, server

log = structlog.get_logger(__name__)

_STATUS = {
    NotFound: 404,
    InvalidInput: 400,
    Conflict: 409,
    AuthenticationFailed: 401,
    PermissionDenied: 403,
    DatabaseUnavailable: 503,
    Overloaded: 503,
    TooLarge: 413,
}


def error_response(status: int, code: str, message: str, **extra: object) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message, **extra}}, status=status)


def _for_domain_error(exc: DlreconError, retry_after: int) -> web.Response:
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 500)
    if status == 500:
        log.error("unmapped_domain_error", error=type(exc).__name__)
        return error_response(500, "internal_error", "internal error")
    response = error_response(status, _snake(type(exc).__name__), str(exc), **exc.details)
    if status == 503:
        response.headers["Retry-After"] = str(retry_after)
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="dlrecon"'
    return response


# a caller's request id is kept only when it is short and plain (it goes into every log line)
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


# a request id is this process's random prefix and a counter: unique without a uuid4 each time
_ID_PREFIX = os.urandom(6).hex()
_id_counter = itertools.count(1)


def _new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter):08x}"


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name).lstrip("_")


@web.middleware
async def request_context(request: web.Request, handler: auth.Handler) -> web.StreamResponse:
    """Bind a request id, log the request, count it, and map errors to JSON responses."""
    given = request.headers.get("X-Request-Id", "")
    request_id = given if given and _REQUEST_ID.fullmatch(given) else _new_request_id()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    started = time.perf_counter()
    settings = request.app[keys.SETTINGS]
    route = (
        request.match_info.route.resource.canonical
        if request.match_info.route.resource
        else "unmatched"
    )
    server.request_began(request)
    try:
        try:
            # by the handler's own mark, not by path: an unmarked route needs admin
            if request.match_info.route.resource is not None:
                sessions = request.app[keys.SESSIONS]
                scope = auth.required_scope(request.match_info.handler)
                auth.authorize_request(request, settings, scope, sessions)
            response = await handler(request)
        except ClientDisconnected as exc:
            # not a server error: nobody is there to answer; 499 ("client closed request", as
            # nginx logs it) in the metrics
            log.info("http_client_disconnected", method=request.method, route=route, error=str(exc))
            request.app[keys.METRICS].http_incomplete.labels("body", "disconnect").inc()
            response = error_response(499, "client_disconnected", str(exc))
        except RequestTimeout as exc:
            # a body trickling in (slowloris): its connection was closed
            log.info("http_body_timeout", method=request.method, route=route, error=str(exc))
            request.app[keys.METRICS].http_incomplete.labels("body", "timeout").inc()
            response = error_response(408, "request_timeout", str(exc))
        except AuthenticationFailed as exc:
            login = auth.login_page(request.match_info.handler)
            if login is not None and request.method in auth.SAFE_METHODS:
                # a page for people: to its login form, and back here after it
                target = f"{login}?{urlencode({'next': request.path_qs})}"
                response = web.Response(status=303, headers={"Location": target})
            else:
                response = _for_domain_error(exc, settings.inbox.retry_after)
        except DlreconError as exc:
            response = _for_domain_error(exc, settings.inbox.retry_after)
        except web.HTTPException as exc:
            if exc.status >= 400 and exc.content_type != "application/json":
                response = error_response(
                    exc.status, _snake(type(exc).__name__.removeprefix("HTTP")), exc.reason
                )
                for name in ("Allow", "Retry-After"):
                    if name in exc.headers:
                        response.headers[name] = exc.headers[name]
            else:
                raise
        except Exception:
            log.exception("request_failed", method=request.method, route=route)
            response = error_response(500, "internal_error", "internal error")
    finally:
        structlog.contextvars.unbind_contextvars("request_id")
    response.headers["X-Request-Id"] = request_id
    elapsed = time.perf_counter() - started
    metrics = request.app[keys.METRICS]
    metrics.child(metrics.http_requests, request.method, route, str(response.status)).inc()
    metrics.child(metrics.http_latency, route).observe(elapsed)
    log.debug(
        "http_request",
        method=request.method,
        route=route,
        status=response.status,
        ms=round(elapsed * 1000, 2),
        request_id=request_id,
    )
    return response
