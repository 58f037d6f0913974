"""The processor: inbox rows → canonical events → matched messages with derived status."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog

from receiver import adapters, logs
from receiver.adapters.base import Adapter, ParseError
from receiver.db import events as event_store
from receiver.db import inbox as inbox_store
from receiver.db import pool as db_pool
from receiver.db.events import EventRow
from receiver.db.inbox import InboxRow
from receiver.db.pool import (
    RETRYABLE,
    UNAVAILABLE,
    Connection,
    Pool,
    connection,
    describe,
    retried,
    transaction,
)
from receiver.errors import DatabaseUnavailable
from receiver.inbox import stored
from receiver.metrics import Metrics
from receiver.model import Event, Source
from receiver.poll import responses as poll_responses
from receiver.roles import Role
from receiver.settings import Settings

log = structlog.get_logger(__name__)

# how often orphans are matched again, in case a registration and its callback raced
ORPHAN_SWEEP_SECONDS = 5.0
# how often the inbox's monthly partitions are created ahead (also at start and by migrate)
PARTITIONS_SECONDS = 24 * 3600.0
PARTITIONS_RETRY_SECONDS = 600.0
# how long a processor may take to stop cleanly
STOP_SECONDS = 10.0


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


def parse_row(
    row: InboxRow,
    settings: Settings,
    known: dict[str, tuple[Adapter, Mapping[str, Any]]] | None = None,
) -> list[Event]:
    """Run the key's adapter over one stored request; ParseError means quarantine.

    `known` keeps each key's adapter and options for the rows of one batch."""
    found = known.get(row.provider_key) if known is not None else None
    if found is None:
        if row.provider_key not in settings.providers:
            raise ParseError(f"provider key {row.provider_key!r} is no longer configured")
        found = (
            adapters.get(settings.adapter_name(row.provider_key)),
            settings.providers[row.provider_key].options(),
        )
        if known is not None:
            known[row.provider_key] = found
    adapter, options = found
    try:
        if row.source == "poll":
            return poll_responses.parse(row, settings)
        return adapter.parse_callback(stored.from_row(row), options)
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
    async with connection(pool, transaction=True) as conn:
        rows = await inbox_store.claim_pending(conn, limit=settings.processor.batch_size)
        if not rows:
            return 0
        # the lag while this batch is worked on: its rows are the oldest pending ones
        waited = (datetime.now(UTC) - rows[0].received_at).total_seconds()
        metrics.processor_lag.set(max(0.0, waited))
        out = _parse(rows, settings)
        if row_by_row:
            stored_rows = await _store_each(conn, out)
        else:
            stored_rows = await _store(conn, out.rows)
        await inbox_store.mark(
            conn,
            ids=out.ids,
            quarantined=[
                (i, r or "")
                for i, s, r in zip(out.ids, out.states, out.reasons, strict=True)
                if s == "quarantined"
            ],
        )
    _count(metrics, rows, out, stored_rows)
    return len(rows)


def _count(
    metrics: Metrics, rows: list[InboxRow], out: _Outcome, stored_rows: list[EventRow]
) -> None:
    """The batch's counters, each label set incremented once by its total."""
    quarantined = Counter(
        r.provider_key for r, state in zip(rows, out.states, strict=True) if state == "quarantined"
    )
    for key, n in quarantined.items():
        metrics.quarantined.labels(key).inc(n)
    # only new events count: a replayed callback, or a provider sending the same report
    # again, is a duplicate (dropped by its dedupe key), not a new event
    new = Counter((r.provider_key, r.event.status.value) for r in stored_rows)
    for (key, status), n in new.items():
        metrics.events.labels(key, status).inc(n)
    unmapped = Counter(r.provider_key for r in stored_rows if r.event.unmapped)
    for key, n in unmapped.items():
        metrics.unmapped_codes.labels(key).inc(n)
    stored_per_key = Counter(r.provider_key for r in stored_rows)
    for key, n in Counter(r.provider_key for r in out.rows).items():
        duplicates = n - stored_per_key[key]
        if duplicates:
            metrics.duplicate_events.labels(key).inc(duplicates)


def _parse(rows: list[InboxRow], settings: Settings) -> _Outcome:
    out = _Outcome()
    known: dict[str, tuple[Adapter, Mapping[str, Any]]] = {}
    for row in rows:
        out.ids.append(row.id)
        try:
            parsed = parse_row(row, settings, known)
        except ParseError as exc:
            out.states.append("quarantined")
            out.reasons.append(str(exc)[:1000])
            out.counts.append(0)
            log.warning(
                "callback_quarantined",
                provider=row.provider_key,
                inbox_id=row.id,
                reason=logs.reason_for_log(str(exc)),
            )
            continue
        out.states.append("processed")
        out.reasons.append(None)
        out.counts.append(len(parsed))
        out.rows.extend(
            EventRow(row.provider_key, _source(row), event, row.received_at, inbox_id=row.id)
            for event in parsed
        )
    return out


def _source(row: InboxRow) -> Source:
    return Source.POLL if row.source == "poll" else Source.CALLBACK


async def _store(conn: Connection, rows: list[EventRow]) -> list[EventRow]:
    """Store, match and roll up; the rows that were new (not duplicates of stored events)."""
    keys = [event_store.key_of(r) for r in rows]
    inserted = await event_store.insert_new(conn, rows, [k for _, k in keys])
    any_aliases = any(r.event.aliases for r in rows)
    # most events are stored matched (their provider id is registered); the others are
    # orphans, matched here by client reference or by an id learned from an alias
    matched = {i.message_id for i in inserted if i.message_id is not None}
    orphans = [i.id for i in inserted if i.message_id is None]
    touched = (
        await event_store.match(conn, orphans, aliases=False, stored_matched=False)
        if orphans
        else set()
    )
    touched |= matched
    if any_aliases and touched:
        touched |= await event_store.learn_aliases(conn, touched)
    await event_store.refresh_status(conn, touched)
    new = {(i.provider_key, i.dedupe_key) for i in inserted}
    return [r for r, k in zip(rows, keys, strict=True) if k in new]


async def _store_each(conn: Connection, out: _Outcome) -> list[EventRow]:
    """Store each inbox row's events under a savepoint; quarantine the rows refused. The new
    rows stored."""
    kept: list[EventRow] = []
    new: list[EventRow] = []
    for index, inbox_id in enumerate(out.ids):
        rows = [r for r in out.rows if r.inbox_id == inbox_id]
        if not rows:
            continue
        try:
            async with transaction(conn):
                new.extend(await _store(conn, rows))
        except (DatabaseUnavailable, *UNAVAILABLE, *RETRYABLE):
            raise  # not this row's fault: the batch is tried again later
        except Exception as exc:
            out.quarantine(index, f"events could not be stored: {describe(exc)}")
            log.warning(
                "callback_quarantined",
                inbox_id=inbox_id,
                reason="events could not be stored",
                error=type(exc).__name__,
            )
            continue
        kept.extend(rows)
    out.rows = kept
    return new


@dataclass(slots=True)
class ArchiveReplay:
    """What replaying archived rows did."""

    rows: int = 0
    events: int = 0  # events parsed from them
    new_events: int = 0  # stored (the others were already there: dropped by their dedupe key)
    unparsed: list[tuple[int, str]] = field(default_factory=list)  # (inbox id, reason)


async def replay_archived(
    pool: Pool, settings: Settings, metrics: Metrics, rows: Iterable[InboxRow]
) -> ArchiveReplay:
    """Parse archived inbox rows (their partitions dropped by retention) and store their
    events as the processor does, a batch per transaction; the inbox itself is not written.
    A row that does not parse is reported with its reason, and stays in the archive."""
    outcome = ArchiveReplay()
    size = settings.processor.batch_size
    batch: list[InboxRow] = []

    async def flush() -> None:
        out = _parse(batch, settings)
        outcome.rows += len(batch)
        outcome.events += len(out.rows)
        outcome.unparsed += [
            (i, r or "")
            for i, st, r in zip(out.ids, out.states, out.reasons, strict=True)
            if st == "quarantined"
        ]

        async def store() -> list[EventRow]:
            async with connection(pool, transaction=True) as conn:
                return await _store(conn, out.rows)

        stored_rows = await retried(store, event="processor_retry")
        outcome.new_events += len(stored_rows)
        _count(metrics, batch, out, stored_rows)
        batch.clear()

    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            await flush()
    if batch:
        await flush()
    await sweep_orphans(pool)
    return outcome


async def sweep_orphans(pool: Pool) -> int:
    """Match every orphan event again; return how many messages changed."""

    async def sweep() -> int:
        async with connection(pool, transaction=True) as conn:
            touched = await event_store.match(conn, None)
            await event_store.refresh_status(conn, touched)
        return len(touched)

    return await retried(sweep, event="processor_retry")


async def ensure_partitions(pool: Pool) -> int:
    """The inbox's monthly partitions, created ahead of the rows that will need them."""
    async with connection(pool) as conn:
        return await inbox_store.ensure_partitions(conn)


async def lag(pool: Pool) -> float:
    async with connection(pool) as conn:
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
        last_partitions = -PARTITIONS_SECONDS
        backoff = idle
        lagging = True  # the lag gauge may show more than 0: measure it after the next batch
        while True:
            try:
                n = await process_batch(self._pool, self._settings, self._metrics)
                swept = time.monotonic() - last_sweep > ORPHAN_SWEEP_SECONDS
                if swept:
                    await sweep_orphans(self._pool)
                    last_sweep = time.monotonic()
                    self._metrics.orphan_sweeps.inc()
                # the gauge follows each batch (not only each sweep), so that a lag of 0 on
                # /metrics means that what was acknowledged before the last batch is processed
                if n or lagging or swept:
                    waiting = await lag(self._pool)
                    self._metrics.processor_lag.set(waiting)
                    lagging = waiting > 0
                if time.monotonic() - last_partitions > PARTITIONS_SECONDS:
                    last_partitions = time.monotonic()
                    try:
                        await ensure_partitions(self._pool)
                    except Exception as exc:  # the inbox was busy: again in 10 minutes
                        log.warning("inbox_partitions_not_created", error=describe(exc))
                        last_partitions -= PARTITIONS_SECONDS - PARTITIONS_RETRY_SECONDS
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


async def run(
    settings: Settings, url: str, stop: asyncio.Event, *, wait_for_database: bool = True
) -> None:
    """The processor loop until `stop` is set (`serve`'s processor role, `dlrecon process`).

    With `wait_for_database`, a database that is not there yet is waited for; otherwise
    `DatabaseUnavailable` is raised at once."""
    timeout = settings.database.connect_timeout
    pool: Pool | None
    if wait_for_database:
        pool = await db_pool.create_when_available(
            url, min_size=1, max_size=2, timeout=timeout, stop=stop, role="processor"
        )
        if pool is None:
            return
    else:
        pool = await db_pool.create(url, min_size=1, max_size=2, timeout=timeout)
    worker = Processor(pool, settings, Metrics())
    worker.start()
    await stop.wait()
    try:
        # a batch in progress is rolled back and claimed again by the next processor
        async with asyncio.timeout(STOP_SECONDS):
            await worker.stop()
            await pool.close()
    except TimeoutError:
        log.warning("processor_stop_timed_out")
        pool.terminate()


async def _run_role(settings: Settings, url: str, stop: asyncio.Event) -> None:
    if settings.processor.nice:
        os.nice(settings.processor.nice)
    await run(settings, url, stop)


def _processes(settings: Settings) -> int:
    p = settings.processor
    return p.processes if p.enabled else 0


ROLE = Role("processor", _run_role, _processes)
