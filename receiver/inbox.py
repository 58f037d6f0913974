"""The durable inbox: group commit of raw callbacks.

A request appends its row to an in-process batch and waits; the batch is written in one
transaction every few milliseconds (or when full), and each waiting request is answered
when its batch has committed. If the write fails, every request of the batch fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable

import structlog

from receiver.db import inbox as inbox_store
from receiver.db.inbox import NewInboxRow
from receiver.db.pool import Pool, describe, translated
from receiver.errors import DatabaseUnavailable, Overloaded
from receiver.metrics import Metrics
from receiver.settings import InboxSettings

log = structlog.get_logger(__name__)

_Item = tuple[NewInboxRow, "asyncio.Future[int]"]


class InboxWriter:
    """Batches inbox rows and commits them together."""

    def __init__(
        self,
        pool: Pool,
        settings: InboxSettings,
        metrics: Metrics,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._metrics = metrics
        self._on_commit = on_commit
        # None is the stop marker, queued behind every row already accepted
        self._queue: asyncio.Queue[_Item | None] = asyncio.Queue(maxsize=settings.queue_max)
        self._closing = False
        self._slots = asyncio.Semaphore(settings.concurrent_batches)
        self._writes: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._deadlines: deque[tuple[float, asyncio.Future[int]]] = deque()

    async def append(self, row: NewInboxRow) -> int:
        """Store one row; return its inbox id once committed."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        future.add_done_callback(_retrieve)
        if self._closing:
            raise Overloaded("shutting down")
        try:
            self._queue.put_nowait((row, future))
        except asyncio.QueueFull:
            raise Overloaded("inbox queue is full") from None
        self._metrics.inbox_queue.set(self._queue.qsize())
        # no timer per request: the reaper fails the future when its deadline passes; the row
        # stays in its batch and may still commit later (the provider's retry is then a
        # harmless duplicate)
        self._deadlines.append((loop.time() + self._settings.commit_timeout, future))
        return await future

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-writer")
        self._reaper = asyncio.create_task(self._reap(), name="inbox-reaper")

    async def stop(self) -> None:
        """Write everything queued so far, then stop."""
        self._closing = True
        await self._queue.put(None)  # after every row already queued
        if self._task:
            await self._task
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        if self._reaper:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper

    async def _reap(self) -> None:
        """Fail each request whose row has not committed by its deadline (503, retry later).
        Deadlines are in arrival order, so only the oldest ones are looked at."""
        loop = asyncio.get_running_loop()
        tick = min(0.1, self._settings.commit_timeout / 4)
        while True:
            await asyncio.sleep(tick)
            now = loop.time()
            waiting = self._deadlines
            while waiting and (waiting[0][1].done() or waiting[0][0] <= now):
                _, future = waiting.popleft()
                if not future.done():
                    future.set_exception(DatabaseUnavailable("inbox commit timed out"))

    async def _run(self) -> None:
        delay = self._settings.batch_delay_ms / 1000
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                return
            await self._slots.acquire()
            if delay and self._queue.qsize() < self._settings.batch_max:
                await asyncio.sleep(delay)
            batch = [first]
            while len(batch) < self._settings.batch_max and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            self._metrics.inbox_queue.set(self._queue.qsize())
            task = asyncio.create_task(self._write(batch))
            self._writes.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        self._slots.release()

    async def _write(self, batch: list[_Item]) -> None:
        started = time.perf_counter()
        try:
            async with (
                translated(),
                self._pool.acquire(timeout=self._settings.commit_timeout) as conn,
                conn.transaction(),
            ):
                ids = await inbox_store.insert_batch(conn, [row for row, _ in batch])
        except Exception as exc:  # every request of the batch must learn it failed
            log.warning("inbox_batch_failed", size=len(batch), error=describe(exc))
            if len(batch) > 1 and not isinstance(exc, DatabaseUnavailable):
                # the database is there but refused a row: write each row alone, so one
                # request the database cannot store does not fail the others of its batch
                for item in batch:
                    await self._write([item])
                return
            error = DatabaseUnavailable(f"inbox write failed: {describe(exc)}")
            for _, future in batch:
                if not future.done():
                    future.set_exception(error)
            return
        self._metrics.inbox_batch_size.observe(len(batch))
        self._metrics.inbox_commit_seconds.observe(time.perf_counter() - started)
        for (_, future), inbox_id in zip(batch, ids, strict=True):
            if not future.done():
                future.set_result(inbox_id)
        self._on_commit()


def _retrieve(future: asyncio.Future[int]) -> None:
    # a waiter that timed out no longer looks at its future: mark the outcome as seen
    if not future.cancelled():
        future.exception()
