"""Good citizenship per provider key: requests in flight, rate limit, Retry-After, breaker."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import time
from collections.abc import AsyncIterator, Callable

from aiolimiter import AsyncLimiter

from receiver.metrics import Metrics
from receiver.settings import KeyPollSettings


class BreakerState(enum.IntEnum):
    """The value of the `dlrecon_poll_breaker_state` gauge."""

    CLOSED = 0
    OPEN = 1
    HALF_OPEN = 2


class Breaker:
    """A circuit breaker: open after `threshold` failures in a row, refusing requests for
    `reset` seconds; then half-open, letting one probe through, whose success closes it and
    whose failure opens it again."""

    def __init__(
        self, threshold: int, reset: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._threshold = threshold
        self._reset = reset
        self._clock = clock
        self._failures = 0
        self._opened_at: float | None = None
        self._probing = False

    @property
    def state(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self._reset:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def allow(self) -> bool:
        """Whether a request may go now (in half-open state: the one probe only)."""
        state = self.state
        if state is BreakerState.CLOSED:
            return True
        if state is BreakerState.HALF_OPEN and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        self._opened_at = None
        self._probing = False

    def failure(self) -> None:
        self._failures += 1
        if self._probing or self._failures >= self._threshold:
            self._opened_at = self._clock()
        self._probing = False

    def neutral(self) -> None:
        """An answer that says nothing of the provider's health (429): a probe may go again."""
        self._probing = False


class Gate:
    """Everything a request to one provider key waits for, in order: a slot among the key's
    requests in flight, the end of a pause a `Retry-After` asked for, the hourly list budget
    (Velip: 200 list queries an hour), and a token of the key's rate limit. A request is
    sent as soon as it holds its token, so tokens are never spent waiting for a slot."""

    def __init__(
        self,
        key: str,
        settings: KeyPollSettings,
        metrics: Metrics,
        *,
        list_per_hour: float | None = None,
        in_flight: asyncio.Semaphore | None = None,
    ) -> None:
        self.key = key
        self.settings = settings
        self._metrics = metrics
        # a bucket of `burst` tokens refilled at `rate_limit` per second: in any window of
        # W seconds at most burst + rate_limit * W requests are let through
        self._limiter = AsyncLimiter(settings.burst, settings.burst / settings.rate_limit)
        self._lists = AsyncLimiter(1, 3600 / list_per_hour) if list_per_hour else None
        self._slots = asyncio.Semaphore(settings.max_in_flight)
        self._shared = in_flight
        self._paused_until = 0.0
        self.breaker = Breaker(settings.breaker_failures, settings.breaker_reset)
        self.report_breaker()

    def pause(self, seconds: float) -> None:
        """Send nothing to this key for `seconds` (a Retry-After), counted from now."""
        until = time.monotonic() + seconds
        self._paused_until = max(self._paused_until, until)

    def report_breaker(self) -> None:
        self._metrics.poll_breaker_state.labels(self.key).set(int(self.breaker.state))

    @contextlib.asynccontextmanager
    async def slot(self, kind: str) -> AsyncIterator[None]:
        """Hold a place to send one request of this kind (`lookup`, `list`, `drain`)."""
        async with contextlib.AsyncExitStack() as stack:
            if self._shared is not None:
                await stack.enter_async_context(self._shared)
            await stack.enter_async_context(self._slots)
            started = time.monotonic()
            while True:  # a pause may be made longer while this request waits it out
                wait = self._paused_until - time.monotonic()
                if wait <= 0:
                    break
                await asyncio.sleep(wait)
            if kind == "list" and self._lists is not None:
                await self._lists.acquire()
            await self._limiter.acquire()
            waited = time.monotonic() - started
            if waited > 0.001:
                self._metrics.poll_rate_limit_waits.labels(self.key).inc()
                self._metrics.poll_rate_limit_wait_seconds.labels(self.key).inc(waited)
            yield
