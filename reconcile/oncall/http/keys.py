"""Every `web.AppKey` of the on-call wing."""

from __future__ import annotations

from aiohttp import web

from reconcile.oncall.health import LongWindows, UsualCache
from reconcile.oncall.metrics import OncallMetrics
from reconcile.oncall.settings import OncallSettings
from reconcile.oncall.stuck import ThresholdCache, Thresholds

ONCALL = web.AppKey("oncall_settings", OncallSettings)
USUAL = web.AppKey("oncall_usual", UsualCache)
METRICS = web.AppKey("oncall_metrics", OncallMetrics)
THRESHOLDS = web.AppKey("oncall_stuck_thresholds", ThresholdCache)
# the configured stuck thresholds, read from the configuration once
STUCK = web.AppKey("oncall_stuck", Thresholds)
LONG_WINDOWS = web.AppKey("oncall_long_windows", LongWindows)
