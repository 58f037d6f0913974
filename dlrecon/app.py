"""The composition root: the aiohttp application and the role processes, assembled from the
wings every package offers. Only this package imports both `receiver` and `reconcile`."""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from receiver.http import keys, openapi
from receiver.http import wing as receiver_wing
from receiver.http.middleware import request_context
from receiver.http.wing import Wing
from receiver.roles import Role
from receiver.settings import Settings
from receiver.trace import TraceSection
from reconcile.http import wing as reconcile_wing
from reconcile.oncall.http import wing as oncall_wing
from reconcile.reports.http import wing as reports_wing

# in start-up order (each wing's steps after those of the wings before it; stopped in reverse)
WINGS: tuple[Wing, ...] = (
    receiver_wing.WING,
    reconcile_wing.WING,
    oncall_wing.WING,
    reports_wing.WING,
)

# bodies are read by the handlers themselves, each with its own limit
_CLIENT_MAX_SIZE = 64 * 1024 * 1024


def build_app(
    settings: Settings, database_url: str, wings: Sequence[Wing] = WINGS
) -> web.Application:
    """The dlrecon web application (no I/O here: resources start in `cleanup_ctx`)."""
    app = web.Application(middlewares=[request_context], client_max_size=_CLIENT_MAX_SIZE)
    app[keys.DATABASE_URL] = database_url
    app[keys.TRACE_SECTIONS] = trace_sections(wings)
    app[keys.SESSIONS] = tuple(session for wing in wings for session in wing.sessions)
    for wing in wings:
        wing.install(app, settings)
    for wing in wings:
        app.cleanup_ctx.extend(wing.startup)
        for table in wing.routes:
            app.router.add_routes(table)
    app[keys.OPENAPI] = openapi.document(app.router)
    return app


def roles(wings: Sequence[Wing] = WINGS) -> list[Role]:
    """Every role process the wings offer, in wing order."""
    return [role for wing in wings for role in wing.roles]


def trace_sections(wings: Sequence[Wing] = WINGS) -> tuple[TraceSection, ...]:
    """What every wing adds to a message's trace, in wing order."""
    return tuple(section for wing in wings for section in wing.trace_sections)
