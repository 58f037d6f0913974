"""`/v1/callbacks/{provider}`: verify, store raw, acknowledge — nothing else on this path."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime

import structlog
from aiohttp import web

from receiver import adapters, verification
from receiver.db.inbox import NewInboxRow
from receiver.errors import AuthenticationFailed, NotFound
from receiver.http import auth, keys
from receiver.http.bodies import read_limited
from receiver.model import RawRequest

log = structlog.get_logger(__name__)
routes = web.RouteTableDef()

# stored as "[redacted]": credentials, not evidence
_TOKEN_VALUE = re.compile(rf"(^|&){verification.PATH_TOKEN_PARAM}=[^&]*")
REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


def _stored_query(raw_query: str, redact_token: bool) -> str:
    """The query string as received; only a path token's value is replaced (when the key uses
    one: it is a credential, not evidence)."""
    if not redact_token:
        return raw_query
    return _TOKEN_VALUE.sub(rf"\1{verification.PATH_TOKEN_PARAM}=[redacted]", raw_query)


def _storable(text: str) -> str:
    """Text a jsonb column can hold. Header bytes that were not UTF-8 reach us as lone
    surrogates; they become `\\xNN` escapes (and NUL `\\x00`). Valid text is unchanged."""
    if text.isascii():  # the usual case, and the cheap one
        return text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        escaped = all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)
        raw = text.encode("utf-8", "surrogateescape" if escaped else "surrogatepass")
        text = raw.decode("utf-8", "backslashreplace")
    return text.replace("\x00", "\\x00")


def _stored_headers(headers: dict[str, str]) -> dict[str, str]:
    """`headers` has lower-cased names already. One header the database cannot store must not
    fail the whole batch it is written with, so each is made storable."""
    return {
        _storable(name): "[redacted]" if name in REDACTED_HEADERS else _storable(value)
        for name, value in headers.items()
    }


@routes.route("GET", "/v1/callbacks/{provider}")
@routes.route("POST", "/v1/callbacks/{provider}")
@auth.requires(auth.PUBLIC)
async def callback(request: web.Request) -> web.Response:
    """Store one provider callback durably, then answer what the provider expects."""
    settings = request.app[keys.SETTINGS]
    metrics = request.app[keys.METRICS]
    key = request.match_info["provider"]
    provider = settings.providers.get(key)
    if provider is None:
        raise NotFound(f"unknown provider key {key!r}")
    adapter = adapters.get(settings.adapter_name(key))
    options = provider.options()
    body = await read_limited(request, settings.server.max_body_bytes)
    headers = {k.lower(): v for k, v in request.headers.items()}
    raw = RawRequest(
        method=request.method,
        path=request.path,
        query=tuple(request.query.items()),
        headers=headers,
        body=body,
        content_type=request.content_type.lower(),
        remote=request.remote,
        raw_query=request.rel_url.raw_query_string,
    )
    handshake = adapter.handshake(raw, options)
    if handshake is not None:
        # a subscription check carries no signature; its own token is the check, but an
        # IP allowlist still applies
        if provider.allow_ips and not verification.ip_allowed(raw.remote, provider):
            raise AuthenticationFailed("source address not in allow_ips")
        metrics.callbacks.labels(key, "handshake").inc()
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
        metrics.callbacks.labels(key, "refused").inc()
        log.warning("callback_refused", provider=key, reason=verdict.reason)
        raise AuthenticationFailed(f"callback verification failed: {verdict.reason}")

    row = NewInboxRow(
        provider_key=key,
        method=request.method,
        path=request.path,
        query=_stored_query(request.rel_url.raw_query_string, provider.path_token is not None),
        headers=_stored_headers(headers),
        body=body,
        remote_addr=request.remote,
        verification=stored_verification,
        verification_reason=None if verdict.ok else verdict.reason,
        received_at=datetime.now(UTC),
        state=state,
    )
    try:
        inbox_id = await request.app[keys.WRITER].append(row)
    except Exception:
        metrics.callbacks.labels(key, "unavailable").inc()
        raise
    metrics.callbacks.labels(key, "stored" if state == "pending" else "held").inc()
    log.debug("callback_stored", provider=key, inbox_id=inbox_id, state=state)
    ack = adapter.acknowledge(raw, options)
    return web.Response(status=ack.status, body=ack.body, content_type=ack.content_type)
