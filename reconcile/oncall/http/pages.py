"""`/ops`: the operations page for people (stuck overview, provider health, recent findings,
quarantined and held callbacks, links to traces), a message's trace page and an inbox row's
page, and signing in and out (see `session`). Rendered on the server from the same answers
the JSON API gives; a small script refreshes the numbers from that API."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from receiver import trace
from receiver.db import inbox as inbox_store
from receiver.db.pool import connection
from receiver.errors import NotFound
from receiver.http import auth, keys
from receiver.settings import Scope
from reconcile import pages
from reconcile.db import findings as finding_store
from reconcile.durations import duration_text
from reconcile.oncall import queries
from reconcile.oncall import stuck as stuck_module
from reconcile.oncall.http import api as oncall_api
from reconcile.oncall.http import keys as oncall_keys
from reconcile.oncall.http import session
from reconcile.oncall.views import HealthAnswer, ProviderHealth, StuckAnswer

routes = web.RouteTableDef()
PACKAGE = "reconcile.oncall.http"
LOGIN = "/ops/login"
# how many of the latest open findings /ops lists (all of them: dlrecon findings list)
RECENT_FINDINGS = 15


def _page(request: web.Request, name: str, status: int = 200, **context: Any) -> web.Response:
    nonce = secrets.token_urlsafe(16)
    body = pages.render(
        PACKAGE, name, nonce=nonce, logout_csrf=session.csrf_for(request), **context
    )
    response = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
    response.headers["Content-Security-Policy"] = (
        f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'unsafe-inline'; "
        "img-src data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
        "base-uri 'none'"
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


class HealthRow:
    """One provider key's row on /ops: the first window's figures, every window's state."""

    def __init__(self, provider: str, listed: list[ProviderHealth], windows: list[str]) -> None:
        by_window = {p.window: p for p in listed}
        self.provider = provider
        self.first = by_window[windows[0]]
        self.states = {w: by_window[w].state for w in windows}
        self.reasons = {w: "; ".join(by_window[w].reasons) for w in windows}


def health_rows(answer: HealthAnswer) -> list[HealthRow]:
    providers = sorted({p.provider for p in answer.providers})
    return [
        HealthRow(k, [p for p in answer.providers if p.provider == k], answer.windows)
        for k in providers
    ]


async def stuck_overview(app: web.Application, limit: int = 20) -> StuckAnswer:
    """What is stuck now."""
    async with connection(app[keys.POOL]) as conn:
        return await stuck_module.stuck(
            conn,
            app[oncall_keys.STUCK],
            now=datetime.now(UTC),
            limit=limit,
            cache=app[oncall_keys.THRESHOLDS],
        )


@routes.get("/ops")
@auth.page(Scope.READ, LOGIN)
async def ops(request: web.Request) -> web.Response:
    app = request.app
    oncall = app[oncall_keys.ONCALL]
    answer = await oncall_api.provider_health(app, oncall_api.HealthQuery())
    inbox = await oncall_api.inbox_list(app, oncall_api.InboxQuery(limit=20))
    stuck = await stuck_overview(app)
    rows = health_rows(answer)
    async with connection(app[keys.POOL]) as conn:
        oldest = await queries.oldest_open(conn, [r.provider for r in rows])
        findings = await finding_store.recent_open(conn, RECENT_FINDINGS)
        findings_by_rule = await finding_store.open_by_rule(conn)
    return _page(
        request,
        "ops.html",
        as_of=answer.as_of,
        refresh_seconds=oncall.page_refresh_seconds,
        windows=answer.windows,
        first_window=answer.windows[0],
        health_rows=rows,
        oldest=oldest,
        usual_days=oncall.health.usual_days,
        usual_gap=duration_text(oncall.health.usual_gap),
        inbox=inbox,
        stuck=stuck,
        findings=findings,
        findings_by_rule=findings_by_rule,
    )


@routes.get("/ops/messages/{id}")
@auth.page(Scope.READ, LOGIN)
async def message_page(request: web.Request) -> web.Response:
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
    return _page(request, "message.html", m=view)


@routes.get("/ops/inbox/{id}")
@auth.page(Scope.READ, LOGIN)
async def inbox_page(request: web.Request) -> web.Response:
    try:
        inbox_id = int(request.match_info["id"])
    except ValueError:
        raise NotFound("no such inbox row") from None
    if not 0 < inbox_id < 2**63:
        raise NotFound("no such inbox row")
    async with connection(request.app[keys.POOL]) as conn:
        row = await inbox_store.get(conn, inbox_id)
    if row is None:
        raise NotFound("no such inbox row")
    return _page(request, "inbox_row.html", r=trace.stored_request(row))


def _safe_next(target: str | None) -> str:
    """Only a path of this site (never `//other.example` or a URL): no open redirect."""
    if not target:
        return "/ops"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/ops"
    return target


def _login_form(request: web.Request, error: str | None = None, status: int = 200) -> web.Response:
    csrf = secrets.token_urlsafe(32)
    response = _page(
        request,
        "login.html",
        status=status,
        csrf=csrf,
        next=_safe_next(request.query.get("next")),
        error=error,
        hours=f"{request.app[oncall_keys.ONCALL].session_hours:g}",
    )
    session.set_cookie(response, request, session.LOGIN_CSRF_COOKIE, csrf, max_age=3600)
    return response


@routes.get(LOGIN)
@auth.requires(auth.PUBLIC)
async def login_form(request: web.Request) -> web.Response:
    return _login_form(request)


@routes.post(LOGIN)
@auth.requires(auth.PUBLIC)
async def login(request: web.Request) -> web.Response:
    form = await request.post()
    given = str(form.get("csrf", ""))
    expected = request.cookies.get(session.LOGIN_CSRF_COOKIE, "")
    if not session.same_origin(request) or not expected or not _same(expected, given):
        return _login_form(request, "The form expired or came from elsewhere; try again.", 403)
    token = session.find_token(request, str(form.get("token", "")))
    if token is None or not session.can_sign_in(token):
        return _login_form(request, "That token is unknown or lacks the read scope.", 401)
    lifetime = request.app[oncall_keys.ONCALL].session_hours * 3600
    response = web.Response(status=303, headers={"Location": _safe_next(str(form.get("next", "")))})
    session.set_cookie(
        response, request, session.COOKIE, session.new_value(token, lifetime), int(lifetime)
    )
    response.del_cookie(session.LOGIN_CSRF_COOKIE, path=session.PATH)
    return response


def _same(a: str, b: str) -> bool:
    from receiver import signatures

    return signatures.same(a, b)


@routes.post("/ops/logout")
@auth.requires(auth.PUBLIC)
async def logout(request: web.Request) -> web.Response:
    form = await request.post()
    if not session.same_origin(request) or not session.check_csrf(
        request, str(form.get("csrf", ""))
    ):
        return web.Response(status=403, text="forbidden: stale or foreign form\n")
    response = web.Response(status=303, headers={"Location": LOGIN})
    response.del_cookie(session.COOKIE, path=session.PATH)
    return response
