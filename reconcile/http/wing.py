"""The reconcile wing: its routes (runs, findings), the reconciler role, and the findings
that name a message in its trace."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from receiver.http.wing import Wing
from receiver.trace import TraceSection
from reconcile import role
from reconcile.db import findings as finding_store
from reconcile.http import findings, keys, runs
from reconcile.settings import ReconcileConfig


def _install(app: web.Application, settings: Any) -> None:
    app[keys.CONFIG] = ReconcileConfig.of(settings)


WING = Wing(
    name="reconcile",
    routes=(runs.routes, findings.routes),
    roles=(role.ROLE,),
    install=_install,
    trace_sections=(TraceSection("findings", finding_store.of_message),),
)
