"""Every `web.AppKey` of the reconcile wing."""

from __future__ import annotations

from aiohttp import web

from reconcile.settings import ReconcileConfig

CONFIG = web.AppKey("reconcile_config", ReconcileConfig)
