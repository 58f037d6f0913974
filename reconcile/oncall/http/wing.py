"""The on-call wing: its routes (`/v1/providers/health`, `/v1/stuck`, `/v1/inbox`, `/ops`),
the refresher of its gauges (inside the HTTP workers when `[oncall] processes = 0`, else its
own role process), and the `/ops` session."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from aiohttp import web

from receiver.http import keys as receiver_keys
from receiver.http.wing import Wing
from reconcile.oncall import refresh
from reconcile.oncall import stuck as stuck_module
from reconcile.oncall.health import LongWindows, UsualCache
from reconcile.oncall.http import api, keys, pages, session, stuck
from reconcile.oncall.metrics import OncallMetrics
from reconcile.oncall.stuck import ThresholdCache


def _install(app: web.Application, settings: Any) -> None:
    app[keys.ONCALL] = settings.oncall
    app[keys.USUAL] = UsualCache(settings.oncall.health)
    app[keys.LONG_WINDOWS] = LongWindows(settings.oncall.health)
    app[keys.THRESHOLDS] = ThresholdCache(settings.oncall.thresholds_refresh)
    app[keys.STUCK] = stuck_module.thresholds(settings)
    app[keys.METRICS] = OncallMetrics(app[receiver_keys.METRICS].registry)


async def _refresher(app: web.Application) -> AsyncIterator[None]:
    settings: Any = app[receiver_keys.SETTINGS]  # the whole configuration (has `oncall`)
    worker = refresh.Refresher(
        app[receiver_keys.POOL], settings, app[keys.METRICS], app[receiver_keys.METRICS]
    )
    if app[keys.ONCALL].processes == 0:
        worker.start()
    warmer = refresh.Warmer(
        app[receiver_keys.POOL], settings, app[keys.USUAL], app[keys.THRESHOLDS]
    )
    warmer.start()
    yield
    await warmer.stop()
    await worker.stop()


WING = Wing(
    name="oncall",
    routes=(api.routes, stuck.routes, pages.routes),
    startup=(_refresher,),
    roles=(refresh.ROLE,),
    install=_install,
    sessions=(session.session_scopes,),
)
