"""The processor: inbox rows → canonical events → matched messages with derived status."""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

import structlog

from receiver import adapters
from receiver.adapters.base import ParseError
from receiver.db import events as event_store
from receiver.db import inbox as inbox_store
from receiver.db.events import EventRow
from receiver.db.inbox import InboxRow
from receiver.db.pool import (
    RETRYABLE,
    UNAVAILABLE,
    Connection,
    Pool,
    describe,
    retried,
    translated,
)
from receiver.errors import DatabaseUnavailable
from receiver.metrics import Metrics
from receiver.model import Event, RawRequest, Source
from receiver.settings import Settings

log = structlog.get_logger(__name__)

# how often orphans are matched again, in case a registration and its callback raced
ORPHAN_SWEEP_SECONDS = 5.0
# attempts at a batch that Postgres aborted for a deadlock or a serialization failure


def raw_request(row: InboxRow) -> RawRequest:
    """Rebuild what the adapter sees from a stored inbox row."""
    headers = {k.lower(): v for k, v in row.headers.items()}
    return RawRequest(
        method=row.method,
        path=row.path,
        query=tuple(parse_qsl(row.query, keep_blank_values=True)),
        headers=headers,
        body=row.body,
        content_type=headers.get("content-type", "").split(";")[0].strip().lower(),
        remote=row.remote_addr,
    )


@dataclass(slots=True)
class _Outcome:
    """What became of each claimed inbox row (parallel lists), and the events to store."""

    ids: list[int] = field(default_factory=list)
    states: list[str] = field(default_factory=list)
    reasons: list[str | None] = field(default_factory=list)
    counts: list[int] = field(default_factory=list)
    rows: list[EventRow] = field(default_factory=list)

    def quarantine(self, index: int, reason: str) -> None:
        self.states[index] = "quarantined"
        self.reasons[index] = reason[:1000]
        self.counts[index] = 0


def parse_row(row: InboxRow, settings: Settings) -> list[Event]:
    """Run the key's adapter over one stored request; ParseError means quarantine."""
    if row.provider_key not in settings.providers:
        raise ParseError(f"provider key {row.provider_key!r} is no longer configured")
    adapter = adapters.get(settings.adapter_name(row.provider_key))
    options = settings.providers[row.provider_key].options()
    try:
        return adapter.parse_callback(raw_request(row), options)
    except ParseError:
        raise
    except Exception as exc:  # an adapter bug must not block the other rows
        log.exception("adapter_crashed", provider=row.provider_key, inbox_id=row.id)
        raise ParseError(f"adapter error: {type(exc).__name__}: {exc}") from exc


async def process_batch(pool: Pool, settings: Settings, metrics: Metrics) -> int:
    """Process up to one batch of pending inbox rows in one transaction; return how many.

    If the database refuses the batch's events (not a connectivity problem: a value it
    cannot store), the batch is done again row by row, and the rows it refuses are
    quarantined with the reason, so one bad callback never blocks the others.
    """
    try:
        return await retried(
            lambda: _process(pool, settings, metrics, row_by_row=False), event="processor_retry"
        )
    except (DatabaseUnavailable, *RETRYABLE):
        raise
    except Exception as exc:
        log.warning("processor_batch_refused", error=describe(exc))
        return await retried(
            lambda: _process(pool, settings, metrics, row_by_row=True), event="processor_retry"
        )


async def _process(pool: Pool, settings: Settings, metrics: Metrics, *, row_by_row: bool) -> int:
    async with translated(), pool.acquire() as conn, conn.transaction():
        rows = await inbox_store.claim_pending(conn, limit=settings.processor.batch_size)
        if not rows:
            return 0
        out = _parse(rows, settings)
        if row_by_row:
            await _store_each(conn, out)
        else:
            await _store(conn, out.rows)
        await inbox_store.mark(
            conn, ids=out.ids, states=out.states, reasons=out.reasons, event_counts=out.counts
        )
    for state, key in zip(out.states, (r.provider_key for r in rows), strict=True):
        if state == "quarantined":
            metrics.quarantined.labels(key).inc()
    for r in out.rows:
        metrics.events.labels(r.provider_key, r.event.status.value).inc()
        if r.event.unmapped:
            metrics.unmapped_codes.labels(r.provider_key).inc()
    return len(rows)


def _parse(rows: list[InboxRow], settings: Settings) -> _Outcome:
    out = _Outcome()
    for row in rows:
        out.ids.append(row.id)
        try:
            parsed = parse_row(row, settings)
        except ParseError as exc:
            out.states.append("quarantined")
            out.reasons.append(str(exc)[:1000])
            out.counts.append(0)
            log.warning(
                "callback_quarantined",
                provider=row.provider_key,
                inbox_id=row.id,
                reason=str(exc)[:200],
            )
            continue
        out.states.append("processed")
        out.reasons.append(None)
        out.counts.append(len(parsed))
        out.rows.extend(
            EventRow(row.provider_key, Source.CALLBACK, event, row.received_at, inbox_id=row.id)
            for event in parsed
        )
    return out


async def _store(conn: Connection, rows: list[EventRow]) -> None:
    inserted = await event_store.insert(conn, rows)
    any_aliases = any(r.event.aliases for r in rows)
    touched = await event_store.match(conn, inserted, aliases=any_aliases)
    await event_store.refresh_status(conn, touched)


async def _store_each(conn: Connection, out: _Outcome) -> None:
    """Store each inbox row's events under a savepoint; quarantine the rows refused."""
    kept: list[EventRow] = []
    for index, inbox_id in enumerate(out.ids):
        rows = [r for r in out.rows if r.inbox_id == inbox_id]
        if not rows:
            continue
        try:
            async with conn.transaction():
                await _store(conn, rows)
        except (DatabaseUnavailable, *UNAVAILABLE, *RETRYABLE):
            raise  # not this row's fault: the batch is tried again later
        except Exception as exc:
            out.quarantine(index, f"events could not be stored: {describe(exc)}")
            log.warning("callback_quarantined", inbox_id=inbox_id, reason=describe(exc)[:200])
            continue
        kept.extend(rows)
    out.rows = kept


async def sweep_orphans(pool: Pool) -> int:
    """Match every orphan event again; return how many messages changed."""

    async def sweep() -> int:
        async with translated(), pool.acquire() as conn, conn.transaction():
            touched = await event_store.match(conn, None)
            await event_store.refresh_status(conn, touched)
        return len(touched)

    return await retried(sweep, event="processor_retry")


async def lag(pool: Pool) -> float:
    async with translated(), pool.acquire() as conn:
        return await inbox_store.lag_seconds(conn)


async def drain(pool: Pool, settings: Settings, metrics: Metrics) -> int:
    """Process until nothing is pending (CLI `process --once`, replay, tests)."""
    total = 0
    while n := await process_batch(pool, settings, metrics):
        total += n
    await sweep_orphans(pool)
    return total


class Processor:
    """Runs `process_batch` in a loop; woken early when the inbox commits."""

    def __init__(self, pool: Pool, settings: Settings, metrics: Metrics) -> None:
        self._pool = pool
        self._settings = settings
        self._metrics = metrics
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="processor")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        idle = self._settings.processor.idle_interval
        last_sweep = 0.0
        backoff = idle
        while True:
            try:
                n = await process_batch(self._pool, self._settings, self._metrics)
                if time.monotonic() - last_sweep > ORPHAN_SWEEP_SECONDS:
                    await sweep_orphans(self._pool)
                    self._metrics.processor_lag.set(await lag(self._pool))
                    last_sweep = time.monotonic()
                backoff = idle
            except DatabaseUnavailable as exc:
                log.warning("processor_database_unavailable", error=describe(exc))
                n, backoff = 0, min(backoff * 2, 5.0)
            except Exception:
                log.exception("processor_failed")
                n, backoff = 0, min(backoff * 2, 5.0)
            if n < self._settings.processor.batch_size:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), backoff)
