"""Every `web.AppKey` of the receiver's wing, in one place."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from receiver.db.pool import Pool
from receiver.http.auth import Session
from receiver.inbox.refusals import Refusals
from receiver.inbox.writer import InboxWriter
from receiver.metrics import Metrics
from receiver.processor import Processor
from receiver.settings import Settings
from receiver.trace import TraceSection

# the whole configuration (with the sections of every wing: see dlrecon/settings.py)
SETTINGS = web.AppKey("settings", Settings)
DATABASE_URL = web.AppKey("database_url", str)
METRICS = web.AppKey("metrics", Metrics)
POOL = web.AppKey("pool", Pool)
WRITER = web.AppKey("inbox_writer", InboxWriter)
REFUSALS = web.AppKey("callback_refusals", Refusals)
PROCESSOR = web.AppKey("processor", Processor)
# the OpenAPI document, written once the routes of every wing are added
OPENAPI = web.AppKey("openapi", dict[str, Any])
# what every wing adds to a message's trace (see `receiver.trace.TraceSection`)
TRACE_SECTIONS = web.AppKey("trace_sections", tuple[TraceSection, ...])
# the sessions wings offer besides bearer tokens (see `receiver.http.auth.Session`)
SESSIONS = web.AppKey("sessions", tuple[Session, ...])
