"""`/v1/callbacks/{provider}`: verify, store raw, acknowledge — nothing else on this path."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import structlog
from aiohttp import web

from receiver import adapters, logs, verification
from receiver.adapters.base import Adapter
from receiver.errors import AuthenticationFailed, NotFound, Overloaded
from receiver.http import api, keys
from receiver.http.bodies import read_limited
from receiver.inbox import stored
from receiver.inbox.writer import ROW_OVERHEAD, Room
from receiver.settings import ProviderSettings

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()


@routes.route("GET", "/v1/callbacks/{provider}")
@routes.route("POST", "/v1/callbacks/{provider}")
@api.callback_operation()
async def callback(request: web.Request) -> web.Response:
    """Store one provider callback durably, then answer what the provider expects."""
    settings = request.app[keys.SETTINGS]
    metrics = request.app[keys.METRICS]
    key = request.match_info["provider"]
    provider = settings.providers.get(key)
    if provider is None:
        raise NotFound(f"unknown provider key {key!r}")
    adapter = adapters.get(settings.adapter_name(key))
    writer = request.app[keys.WRITER]
    try:
        # room in the inbox writer before the body is read: a worker holds a bounded amount
        room = writer.room(_expected_size(request, settings.server.max_body_bytes))
    except Overloaded:
        metrics.child(metrics.callbacks, key, "overloaded").inc()
        raise
    with room as held:
        return await _store(request, key, provider, adapter, held)


async def _store(
    request: web.Request,
    key: str,
    provider: ProviderSettings,
    adapter: Adapter,
    room: Room,
) -> web.Response:
    settings = request.app[keys.SETTINGS]
    metrics = request.app[keys.METRICS]
    options = provider.options()
    body = await read_limited(request, settings.server.max_body_bytes)
    raw = stored.request(
        method=request.method,
        path=request.path,
        raw_query=request.rel_url.raw_query_string,
        headers=request.headers.items(),
        body=body,
        # behind a trusted proxy, the client's address from X-Forwarded-For; else the peer
        remote=verification.client_address(
            request.remote,
            request.headers.getall("X-Forwarded-For", []),
            settings.server.trusted_proxies,
        ),
    )
    handshake = adapter.handshake(raw, options)
    if handshake is not None:
        # a subscription check carries no signature; its own token is the check, but an
        # IP allowlist still applies
        if provider.allow_ips and not verification.ip_allowed(raw.remote, provider):
            request.app[keys.REFUSALS].record(key, datetime.now(UTC))
            raise AuthenticationFailed("source address not in allow_ips")
        metrics.child(metrics.callbacks, key, "handshake").inc()
        return web.Response(
            status=handshake.status, body=handshake.body, content_type=handshake.content_type
        )

    verdict = verification.check(raw, provider, adapter, now=time.time())
    if verdict.ok:
        state, stored_verification = "pending", "verified"
    elif provider.verify == "off":
        state, stored_verification = "pending", "unverified"
    elif provider.verify == "quarantine":
        state, stored_verification = "held", "failed"
    else:
        metrics.child(metrics.callbacks, key, "refused").inc()
        request.app[keys.REFUSALS].record(key, datetime.now(UTC))
        log.warning("callback_refused", provider=key, reason=logs.reason_for_log(verdict.reason))
        raise AuthenticationFailed(f"callback verification failed: {verdict.reason}")

    row = stored.to_row(
        raw,
        provider_key=key,
        verification=stored_verification,
        verification_reason=None if verdict.ok else verdict.reason,
        state=state,
        received_at=datetime.now(UTC),
        redact_path_token=provider.path_token is not None,
    )
    try:
        inbox_id = await request.app[keys.WRITER].append(row, room)
    except Exception:
        metrics.child(metrics.callbacks, key, "unavailable").inc()
        raise
    metrics.child(metrics.callbacks, key, "stored" if state == "pending" else "held").inc()
    log.debug("callback_stored", provider=key, inbox_id=inbox_id, state=state)
    ack = adapter.acknowledge(raw, options)
    return web.Response(status=ack.status, body=ack.body, content_type=ack.content_type)


def _expected_size(request: web.Request, max_body_bytes: int) -> int:
    """What the request will hold once read: its declared length, the largest body allowed
    when it sends one without a length (chunked), and its head."""
    if not request.body_exists:
        body = 0
    elif request.content_length is not None:
        body = min(request.content_length, max_body_bytes)
    else:
        body = max_body_bytes
    head = len(request.raw_path) + sum(len(k) + len(v) for k, v in request.raw_headers)
    return ROW_OVERHEAD + body + head
