"""Every `web.AppKey` of the app, in one place."""

from __future__ import annotations

from aiohttp import web

from receiver.db.pool import Pool
from receiver.inbox import InboxWriter
from receiver.metrics import Metrics
from receiver.processor import Processor
from receiver.settings import Settings

SETTINGS = web.AppKey("settings", Settings)
DATABASE_URL = web.AppKey("database_url", str)
METRICS = web.AppKey("metrics", Metrics)
POOL = web.AppKey("pool", Pool)
WRITER = web.AppKey("inbox_writer", InboxWriter)
PROCESSOR = web.AppKey("processor", Processor)
