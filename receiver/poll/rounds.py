"""One provider key's rounds: schedule and claim its due messages, ask the provider's API,
store every response in the inbox before the next request, and schedule the next poll."""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import structlog

from receiver.adapters._poll import (
    PollAdapter,
    PollRequest,
    PollResponse,
    PollTarget,
    Window,
    poll_adapter,
)
from receiver.adapters.base import ParseError
from receiver.db import polls as poll_store
from receiver.db.polls import Claimed, Finished, PollResponseRow
from receiver.db.pool import Pool, connection
from receiver.metrics import Metrics
from receiver.poll import schedule
from receiver.poll.client import Answer, Client, query_text
from receiver.poll.gate import BreakerState, Gate
from receiver.poll.summary import Summary
from receiver.settings import ProviderSettings, Settings

log = structlog.get_logger(__name__)

# outcomes where the provider answered about the message (a step of its schedule is used up)
ANSWERED = frozenset({"ok", "not_found", "client_error", "listed", "drained"})
SEED_FACTOR = 50  # messages scheduled per round at most, in batches of the key's batch_size
# each round looks at the messages that crossed poll_after lately (through the indexes); a full
# look over the horizon (late registrations, messages without a submit time) is made at start
# and then every FULL_SEED_SECONDS
FULL_SEED_SECONDS = 600.0
SEED_WINDOW_ROUNDS = 20  # a round's look goes back this many intervals (at least 5 minutes)


class KeyPoller:
    """Polls one provider key."""

    def __init__(
        self,
        key: str,
        settings: Settings,
        pool: Pool,
        session: aiohttp.ClientSession,
        metrics: Metrics,
        *,
        shared_slots: asyncio.Semaphore | None = None,
        rng: random.Random | None = None,
    ) -> None:
        provider = settings.providers[key]
        adapter = poll_adapter(settings.adapter_name(key))
        if provider.poll is None or adapter is None or not provider.api_base_url:
            raise ValueError(f"provider key {key!r} is not configured for polling")
        self.key = key
        self.provider: ProviderSettings = provider
        self.poll = provider.poll
        self.adapter: PollAdapter = adapter
        self._options = provider.options()
        self._pool = pool
        self._rng = rng or random.Random()
        list_per_hour = self.poll.list_per_hour or adapter.list_per_hour
        self.gate = Gate(
            key, self.poll, metrics, list_per_hour=list_per_hour, in_flight=shared_slots
        )
        self._client = Client(session, key, provider.api_base_url, self.gate, metrics, self._rng)
        self._full_seed_at: float | None = None  # when to look over the whole horizon again

    async def round(self, *, dry_run: bool = False) -> Summary:
        """Schedule, claim and poll one batch of the key's due messages."""
        if dry_run:
            return await self._preview()
        claimed = await self._claim()
        if not claimed:
            return Summary()
        try:
            summary = await self._poll(claimed)
        except BaseException:
            # cancelled (stopping) or broken: the messages are due again at once, not at lease end
            with contextlib.suppress(Exception):
                await asyncio.shield(self._release([c.message_id for c in claimed]))
            raise
        summary.before = {c.message_id: (c.status, c.priced) for c in claimed}
        log.info(
            "poll_round_finished",
            provider=self.key,
            polled=summary.polled,
            requests=summary.requests,
            responses=summary.responses,
            failed=dict(summary.failed),
        )
        return summary

    async def _claim(self) -> list[Claimed]:
        state = self.gate.breaker.state
        if state is BreakerState.OPEN:
            self.gate.report_breaker()
            return []
        # no more than the key's rate can ask about within half the lease, so that the lease
        # never runs out while this poller is still at them (another would poll them too)
        affordable = max(1, int(self.poll.rate_limit * self.poll.lease / 2))
        limit = 1 if state is BreakerState.HALF_OPEN else min(self.poll.batch_size, affordable)
        async with connection(self._pool, transaction=True) as conn:
            return await self._schedule_and_claim(conn, limit)

    async def _schedule_and_claim(self, conn: Any, limit: int) -> list[Claimed]:
        gives_price = self.adapter.gives_price
        await poll_store.retire(
            conn, provider_key=self.key, gives_price=gives_price, horizon=self.poll.horizon
        )
        full = self._full_seed_at is None or time.monotonic() >= self._full_seed_at
        seeded = await poll_store.seed(
            conn,
            provider_key=self.key,
            poll_after=self.provider.poll_after,
            horizon=self.poll.horizon,
            gives_price=gives_price,
            limit=self.poll.batch_size * SEED_FACTOR,
            window=None if full else max(300.0, self.poll.interval * SEED_WINDOW_ROUNDS),
        )
        if full and seeded < self.poll.batch_size * SEED_FACTOR:
            # everything there was is scheduled: the rounds' short looks suffice for a while
            self._full_seed_at = time.monotonic() + FULL_SEED_SECONDS
        return await poll_store.claim(
            conn, provider_key=self.key, limit=limit, lease=self.poll.lease
        )

    async def _preview(self) -> Summary:
        """What a round would ask, without sending anything or changing the database."""
        summary = Summary()
        full_seed_at = self._full_seed_at
        async with connection(self._pool) as conn:
            transaction = conn.transaction()
            await transaction.start()
            try:
                claimed = await self._schedule_and_claim(conn, self.poll.batch_size)
            finally:
                await transaction.rollback()
                self._full_seed_at = full_seed_at  # nothing was scheduled after all
        targets = [_target(c) for c in claimed]
        sweep = self._sweep_request(targets)
        requests = [sweep] if sweep else [self._lookup_request(t)[0] for t in targets]
        summary.polled = len(claimed)
        summary.planned = [
            {"provider": self.key, "url": self._client.url(r), **r.described()}
            for r in requests
            if r is not None
        ]
        return summary

    async def _poll(self, claimed: list[Claimed]) -> Summary:
        targets = [_target(c) for c in claimed]
        sweep = self._sweep_request(targets)
        if sweep is not None:
            return await self._sweep(sweep, claimed)
        if self.adapter.mode == "drain":
            await self._release([c.message_id for c in claimed])
            return Summary()
        return await self._lookups(claimed, targets)

    def _sweep_request(self, targets: list[PollTarget]) -> PollRequest | None:
        """One list or drain request covering the targets, when the provider and the key's
        `list_min` call for it."""
        drain = self.adapter.mode == "drain"
        if not drain and not (self.poll.list_min and len(targets) >= self.poll.list_min):
            return None
        now = datetime.now(UTC)
        earliest = min((t.submitted_at for t in targets if t.submitted_at), default=now)
        window = Window(start=earliest - timedelta(seconds=self.poll.list_margin), end=now)
        return self.adapter.list_request(targets, window, self.poll.page_size, self._options)

    def _lookup_request(self, target: PollTarget) -> tuple[PollRequest | None, str]:
        try:
            return self.adapter.poll_request(target, self._options), "unpollable"
        except ParseError as exc:  # a configuration problem the settings check cannot see
            return None, f"unpollable: {exc}"[:200]

    async def _sweep(self, first: PollRequest, claimed: list[Claimed]) -> Summary:
        """Page through a list or drain: each page is stored before the next is asked for, so
        a poller killed in the middle loses no page it was given."""
        summary = Summary(polled=len(claimed))
        request: PollRequest | None = first
        answer = Answer("ok")
        while request is not None:
            answer = await self._client.send(request)
            summary.requests += len(answer.attempts)
            await self._record(request, answer)
            if not answer.ok:
                summary.failed[answer.outcome] += 1
                break
            summary.responses += 1
            try:
                request = self.adapter.next_page(request, _response(request, answer), self._options)
            except ParseError as exc:  # the page is stored; the processor judges its content
                log.warning("poll_pagination_stopped", provider=self.key, reason=str(exc)[:200])
                request = None
        if answer.outcome == "breaker_open" and not summary.responses:
            await self._release([c.message_id for c in claimed])
            return summary
        outcome = (
            ("drained" if first.kind == "drain" else "listed") if answer.ok else answer.outcome
        )
        await self._finish([self._finished(c, outcome) for c in claimed])
        return summary

    async def _lookups(self, claimed: list[Claimed], targets: list[PollTarget]) -> Summary:
        summary = Summary()

        async def one(c: Claimed, target: PollTarget) -> Finished | None:
            request, why = self._lookup_request(target)
            if request is None:
                summary.unpollable += 1
                return Finished(c.message_id, datetime.now(UTC), why, False, unpollable=True)
            answer = await self._client.send(request)
            summary.requests += len(answer.attempts)
            await self._record(request, answer)
            if answer.outcome == "breaker_open" and not answer.attempts:
                return None  # nothing was sent: released below, due again
            summary.polled += 1
            if answer.ok:
                summary.responses += 1
            elif answer.outcome not in ANSWERED:
                summary.failed[answer.outcome] += 1
            return self._finished(c, answer.outcome)

        results = await asyncio.gather(*(one(c, t) for c, t in zip(claimed, targets, strict=True)))
        done = [r for r in results if r is not None]
        released = [c.message_id for c, r in zip(claimed, results, strict=True) if r is None]
        await self._finish(done)
        await self._release(released)
        return summary

    def _finished(self, claimed: Claimed, outcome: str) -> Finished:
        now = datetime.now(UTC)
        if outcome in ANSWERED:
            at = schedule.after_answer(claimed.attempts, self.poll.schedule, now, self._rng)
            return Finished(claimed.message_id, at, outcome, True)
        at = schedule.after_failure(
            claimed.failures, self.poll.schedule, self.poll.failure_backoff_max, now, self._rng
        )
        return Finished(claimed.message_id, at, outcome, False)

    async def _record(self, request: PollRequest, answer: Answer) -> None:
        """Store a successful response in the inbox and log every attempt, in one transaction."""
        attempts = list(answer.attempts)
        async with connection(self._pool, transaction=True) as conn:
            if answer.ok and attempts:
                inbox_id = await poll_store.store_response(conn, self._row(request, answer))
                attempts[-1] = replace(attempts[-1], inbox_id=inbox_id)
            await poll_store.log(conn, attempts)

    def _row(self, request: PollRequest, answer: Answer) -> PollResponseRow:
        return PollResponseRow(
            provider_key=self.key,
            method=request.method,
            path=request.path,
            query=query_text(request),
            headers=answer.headers,
            body=answer.body,
            remote_addr=self._client.remote,
            received_at=answer.received_at or datetime.now(UTC),
            request=request.described(),
            status=answer.status or 200,
        )

    async def _finish(self, rows: list[Finished]) -> None:
        if rows:
            async with connection(self._pool, transaction=True) as conn:
                await poll_store.finish(conn, rows)

    async def _release(self, message_ids: list[int]) -> None:
        if message_ids:
            async with connection(self._pool) as conn:
                await poll_store.release(conn, message_ids)


def _target(c: Claimed) -> PollTarget:
    return PollTarget(
        message_id=c.message_id,
        channel=c.channel,
        client_ref=c.client_ref,
        provider_message_ids=c.provider_message_ids,
        submitted_at=c.submitted_at,
        final=c.final,
        priced=c.priced,
        submit_response=c.submit_response,
    )


def _response(request: PollRequest, answer: Answer) -> PollResponse:
    return PollResponse(
        request=request.described(),
        status=answer.status or 200,
        headers=answer.headers,
        body=answer.body,
    )
