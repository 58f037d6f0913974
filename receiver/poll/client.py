"""Sending one poll request: timeouts, retries with back-off and jitter, Retry-After, breaker."""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlencode, urlsplit

import aiohttp
import structlog

from receiver.adapters._poll import PollRequest
from receiver.db.polls import PollLog
from receiver.metrics import Metrics
from receiver.poll.gate import Gate

log = structlog.get_logger(__name__)

# outcomes worth trying again after a pause: the provider or the network had a moment
TRANSIENT = frozenset({"server_error", "timeout", "network", "rate_limited"})
# outcomes that say the provider is not well (they open the breaker when they repeat)
UNHEALTHY = frozenset({"server_error", "timeout", "network", "auth"})
_ERROR_TEXT = 300  # characters of an error body kept in the poll log


@dataclass(slots=True)
class Answer:
    """The last attempt's result, with every attempt made for the poll log."""

    outcome: str  # ok | not_found | rate_limited | server_error | timeout | network | ...
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    received_at: datetime | None = None
    error: str | None = None
    attempts: list[PollLog] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.outcome == "ok"


def classify(status: int) -> str:
    """The outcome an HTTP status means."""
    if 200 <= status < 300:
        return "ok"
    if status == 404:
        return "not_found"
    if status == 429:
        return "rate_limited"
    if status in (401, 403):
        return "auth"
    if status >= 500:
        return "server_error"
    return "client_error"


def retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for (delta seconds or an HTTP date), else None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential back-off with full jitter: uniform in [0, min(cap, base * 2**attempt)]."""
    return rng.uniform(0, min(cap, base * 2**attempt))


class Client:
    """Sends poll requests of one provider key through its gate."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        key: str,
        base_url: str,
        gate: Gate,
        metrics: Metrics,
        rng: random.Random | None = None,
    ) -> None:
        self._session = session
        self._key = key
        self._base = base_url.rstrip("/")
        self._gate = gate
        self._metrics = metrics
        self._rng = rng or random.Random()
        settings = gate.settings
        self._timeout = aiohttp.ClientTimeout(
            total=None, sock_connect=settings.connect_timeout, sock_read=settings.read_timeout
        )

    @property
    def remote(self) -> str:
        return urlsplit(self._base).netloc

    def url(self, request: PollRequest) -> str:
        return self._base + request.path

    async def send(self, request: PollRequest) -> Answer:
        """The request, tried again on 5xx, timeouts, network errors and 429 (up to the key's
        `retries`), after the pause the provider asks for or an exponential back-off."""
        settings = self._gate.settings
        answer = Answer("breaker_open")
        for attempt in range(settings.retries + 1):
            if not self._gate.breaker.allow():
                answer.outcome, answer.error = "breaker_open", "circuit breaker open"
                self._metrics.polls.labels(self._key, "breaker_open").inc()
                break
            async with self._gate.slot(request.kind):
                await self._attempt(request, answer)
            self._after(answer)
            asked = retry_after(answer.headers.get("retry-after"))
            if answer.outcome in TRANSIENT and asked is not None:
                # the key pauses (every request waits in its gate), not only this one, and
                # also when this request has no attempt left
                self._gate.pause(min(asked, settings.retry_after_max))
            if answer.outcome not in TRANSIENT or attempt == settings.retries:
                break
            if asked is None:
                await asyncio.sleep(
                    backoff(attempt, settings.backoff_base, settings.backoff_max, self._rng)
                )
        return answer

    async def _attempt(self, request: PollRequest, answer: Answer) -> None:
        headers = dict(request.headers)
        if request.auth is not None:
            headers.update(request.auth.headers())
        requested_at = datetime.now(UTC)
        started = time.perf_counter()
        answer.status, answer.headers, answer.body, answer.error = None, {}, b"", None
        try:
            async with self._session.request(
                request.method,
                self.url(request),
                params=list(request.query) or None,
                json=request.json_body,
                headers=headers,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                answer.body = await response.read()
                answer.status = response.status
                answer.headers = {k.lower(): v for k, v in response.headers.items()}
                answer.outcome = classify(response.status)
        except TimeoutError:
            answer.outcome, answer.error = "timeout", "timed out"
        except aiohttp.ClientError as exc:
            answer.outcome, answer.error = "network", f"{type(exc).__name__}: {exc}"[:_ERROR_TEXT]
        answer.received_at = datetime.now(UTC)
        if answer.status is not None and not answer.ok:
            answer.error = answer.body[:_ERROR_TEXT].decode("utf-8", "replace") or None
        answer.attempts.append(
            PollLog(
                provider_key=self._key,
                message_id=request.message_id,
                kind=request.kind,
                requested_at=requested_at,
                duration_ms=round((time.perf_counter() - started) * 1000),
                request=request.described(),
                outcome=answer.outcome,
                http_status=answer.status,
                error=answer.error,
                inbox_id=None,
            )
        )
        self._metrics.polls.labels(self._key, answer.outcome).inc()

    def _after(self, answer: Answer) -> None:
        breaker = self._gate.breaker
        if answer.outcome in UNHEALTHY:
            breaker.failure()
        elif answer.outcome == "rate_limited":
            breaker.neutral()
        else:
            breaker.success()
        self._gate.report_breaker()
        if answer.outcome != "ok":
            log.info(
                "poll_failed",
                provider=self._key,
                outcome=answer.outcome,
                http_status=answer.status,
                breaker=self._gate.breaker.state.name.lower(),
            )


def query_text(request: PollRequest) -> str:
    """The stored query string of a request (credentials redacted)."""
    described = request.described()
    return urlencode([tuple(pair) for pair in described["query"]])
