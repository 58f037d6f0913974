"""Group commit of raw callbacks into the inbox.

A request takes room in the writer before it reads its body (`room`), appends its row to an
in-process batch and waits; the batch is written in one transaction every few milliseconds (or
when full), and each waiting request is answered when its batch has committed. If the write
fails, every request of the batch fails. A batch's outcome is whether its COMMIT returned: a
connection that fails afterwards (while it is given back to the pool) does not make a stored
batch a failed one.

Memory is bounded: the requests a worker holds (reading their bodies, queued, being written)
are at most `queue_max` in number and `queue_max_bytes` in size; beyond that a request is
refused at once (`Overloaded`, 503), before its body is read. A request whose commit does not
come within `commit_timeout` is answered 503; its row is dropped if it has not started writing,
and counted as stored after 503 if its batch commits all the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import structlog

from receiver.db import inbox as inbox_store
from receiver.db.inbox import NewInboxRow
from receiver.db.pool import Pool, connection, describe, refused
from receiver.errors import DatabaseUnavailable, Overloaded
from receiver.metrics import Metrics
from receiver.settings import InboxSettings

log = structlog.get_logger(__name__)

# pauses between batches while the database is unavailable: doubling from the first to the
# last, so an outage costs a few attempts a second, not one per queued batch
PAUSE_FIRST = 0.05
PAUSE_MAX = 1.0
# what a row holds besides its body, headers, query and path (objects, the future...)
ROW_OVERHEAD = 512


def row_size(row: NewInboxRow) -> int:
    """The bytes a row holds in memory, near enough."""
    headers = sum(len(k) + len(v) for k, v in row.headers.items())
    return ROW_OVERHEAD + len(row.body) + len(row.query) + len(row.path) + headers


@dataclass(eq=False, slots=True)
class Room:
    """One request's share of the writer's memory: taken before its body is read, given back
    when its row is written or dropped (or, before it was queued, when the request ends)."""

    size: int
    state: str = "reading"  # reading -> queued -> writing -> done (or queued -> done: dropped)
    row: NewInboxRow | None = None
    future: asyncio.Future[int] | None = None
    deadline: float = 0.0


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
        # rooms in arrival order; a dropped one stays as an empty shell until it is reached
        self._queue: deque[Room] = deque()
        self._queued = 0  # rooms in the queue that still hold a row
        self._held = 0  # requests holding room (reading, queued or being written)
        self._held_bytes = 0
        self._wake = asyncio.Event()
        self._closing = False
        self._slots = asyncio.Semaphore(settings.concurrent_batches)
        self._writes: set[asyncio.Task[None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        self._deadlines: deque[Room] = deque()
        # while the database is unavailable: since when, the pause before the next batch, and
        # how many batches failed
        self._down_since: float | None = None
        self._pause = 0.0
        self._failed_while_down = 0

    def room(self, size: int) -> contextlib.AbstractContextManager[Room]:
        """Room for a request of about `size` bytes, or `Overloaded` at once (from this call)
        when the writer holds its maximum; given back when the `with` block ends unless the
        request's row was queued by then."""
        return self._holding(self._reserve(size))

    @contextlib.contextmanager
    def _holding(self, room: Room) -> Iterator[Room]:
        try:
            yield room
        finally:
            if room.state == "reading":
                self._free(room)

    async def append(self, row: NewInboxRow, room: Room | None = None) -> int:
        """Store one row (in the `room` its request took, else in new room); return its inbox
        id once committed."""
        if room is None:
            with self.room(row_size(row)) as new:
                return await self.append(row, new)
        if self._closing:
            raise Overloaded("shutting down")
        size = row_size(row)
        self._held_bytes += size - room.size
        room.size = size
        loop = asyncio.get_running_loop()
        future: asyncio.Future[int] = loop.create_future()
        future.add_done_callback(_retrieve)
        room.row, room.future, room.state = row, future, "queued"
        # no timer per request: the reaper fails the future when its deadline passes
        room.deadline = loop.time() + self._settings.commit_timeout
        self._queue.append(room)
        self._deadlines.append(room)
        self._queued += 1
        self._wake.set()
        return await future

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="inbox-writer")
        self._reaper = asyncio.create_task(self._reap(), name="inbox-reaper")

    async def stop(self) -> None:
        """Write everything queued so far, then stop."""
        self._closing = True
        self._wake.set()
        if self._task:
            await self._task
        if self._writes:
            await asyncio.gather(*self._writes, return_exceptions=True)
        if self._reaper:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper

    def _reserve(self, size: int) -> Room:
        if self._closing:
            raise Overloaded("shutting down")
        s = self._settings
        if self._held >= s.queue_max:
            self._metrics.inbox_full.labels("count").inc()
            raise Overloaded(f"inbox queue is full ({s.queue_max} requests)")
        # a request alone always gets room, however large (its body is bounded elsewhere)
        if self._held and self._held_bytes + size > s.queue_max_bytes:
            self._metrics.inbox_full.labels("bytes").inc()
            raise Overloaded(f"inbox queue is full ({s.queue_max_bytes} bytes)")
        self._held += 1
        self._held_bytes += size
        return Room(size)

    def _free(self, room: Room) -> None:
        if room.state == "done":
            return
        if room.state == "queued":
            self._queued -= 1
        room.state, room.row = "done", None
        self._held -= 1
        self._held_bytes -= room.size

    def _gauges(self) -> None:
        """The queue gauges, set once per batch and once per reaper tick (not per request: a
        multiprocess gauge write is a few microseconds, and a request changed them three
        times)."""
        self._metrics.inbox_queue.set(self._queued)
        self._metrics.inbox_queue_bytes.set(self._held_bytes)

    async def _reap(self) -> None:
        """Fail each request whose row has not committed by its deadline (503, retry later), and
        drop its row when it has not started writing. Deadlines are in arrival order, so only
        the oldest ones are looked at."""
        loop = asyncio.get_running_loop()
        tick = min(0.1, self._settings.commit_timeout / 4)
        while True:
            await asyncio.sleep(tick)
            self._gauges()
            now = loop.time()
            waiting = self._deadlines
            while waiting and (waiting[0].state == "done" or waiting[0].deadline <= now):
                room = waiting.popleft()
                if room.state == "done":
                    continue
                assert room.future is not None
                if not room.future.done():
                    room.future.set_exception(DatabaseUnavailable("inbox commit timed out"))
                if room.state == "queued":
                    self._free(room)
                    self._metrics.inbox_timeouts.labels("dropped").inc()
                # being written: counted when its batch ends (see _committed)

    async def _run(self) -> None:
        delay = self._settings.batch_delay_ms / 1000
        while True:
            if not self._queued:
                self._queue.clear()  # only dropped rooms are left
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            await self._slots.acquire()
            if self._pause:
                await asyncio.sleep(self._pause)
            if delay and self._queued < self._settings.batch_max:
                await asyncio.sleep(delay)
            batch = self._take()
            if not batch:
                self._slots.release()
                continue
            task = asyncio.create_task(self._write(batch))
            self._writes.add(task)
            task.add_done_callback(self._done)

    def _take(self) -> list[Room]:
        """The next batch: queued rooms, oldest first, up to `batch_max` rows and
        `batch_max_bytes` (one larger row goes alone): writing a batch copies its rows into the
        driver's buffers, so its size bounds that extra memory."""
        batch: list[Room] = []
        size = 0
        s = self._settings
        while self._queue and len(batch) < s.batch_max:
            room = self._queue[0]
            if room.state != "queued":
                self._queue.popleft()
                continue
            if batch and size + room.size > s.batch_max_bytes:
                break
            self._queue.popleft()
            room.state = "writing"
            self._queued -= 1
            size += room.size
            batch.append(room)
        self._gauges()
        return batch

    def _done(self, task: asyncio.Task[None]) -> None:
        self._writes.discard(task)
        self._slots.release()

    async def _write(self, batch: list[Room]) -> None:
        started = time.perf_counter()
        rows = [_row(room) for room in batch]
        ids: list[int] | None = None
        try:
            async with connection(self._pool, timeout=self._settings.commit_timeout) as conn:
                # one statement, outside a transaction block: it commits before it returns
                # (no BEGIN and COMMIT round trips: two fewer per batch for the worker and for
                # Postgres); either every row of the batch is stored or none
                inserted = await inbox_store.insert_batch(conn, rows)
                # the statement returned, so it committed: the batch is stored, whatever
                # happens to the connection from here on (a backend terminated now fails its
                # release, not the batch)
                ids = inserted
        except Exception as exc:
            if ids is None:
                await self._failed(batch, exc)
                return
            log.warning("inbox_release_failed", size=len(batch), error=describe(exc))
        self._metrics.inbox_batch_size.observe(len(batch))
        self._metrics.inbox_commit_seconds.observe(time.perf_counter() - started)
        self._committed(batch, ids)

    def _committed(self, batch: list[Room], ids: list[int]) -> None:
        late = 0
        for room, inbox_id in zip(batch, ids, strict=True):
            assert room.future is not None
            if room.future.done():
                late += 1  # answered 503 while it was being written
            else:
                room.future.set_result(inbox_id)
            self._free(room)
        if late:
            self._metrics.inbox_timeouts.labels("stored").inc(late)
        self._gauges()
        self._available()
        self._on_commit()

    async def _failed(self, batch: list[Room], exc: Exception) -> None:
        """Every request of a batch that did not commit learns it failed, unless the database
        refused a row: then each row is written alone, so that one request the database cannot
        store does not fail the others of its batch. When the database itself is unavailable,
        the writer pauses before the next batch (see `PAUSE_FIRST`)."""
        if len(batch) > 1 and refused(exc):
            self._metrics.inbox_batches_failed.labels("refused").inc()
            log.warning("inbox_batch_refused", size=len(batch), error=describe(exc))
            for room in batch:
                await self._write([room])
            return
        if isinstance(exc, DatabaseUnavailable):
            self._unavailable(len(batch), exc)
        else:
            self._metrics.inbox_batches_failed.labels("refused" if refused(exc) else "error").inc()
            log.warning("inbox_batch_failed", size=len(batch), error=describe(exc))
        error = DatabaseUnavailable(f"inbox write failed: {describe(exc)}")
        for room in batch:
            assert room.future is not None
            if not room.future.done():
                room.future.set_exception(error)
            self._free(room)
        self._gauges()

    def _unavailable(self, size: int, exc: Exception) -> None:
        """One warning when an outage starts; later failures only lengthen the pause."""
        self._metrics.inbox_batches_failed.labels("unavailable").inc()
        self._failed_while_down += 1
        self._pause = min(max(self._pause * 2, PAUSE_FIRST), PAUSE_MAX)
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning("inbox_database_unavailable", size=size, error=describe(exc))
        else:
            log.debug("inbox_batch_failed", size=size, error=describe(exc), pause=self._pause)

    def _available(self) -> None:
        if self._down_since is not None:
            log.info(
                "inbox_database_available",
                after_seconds=round(time.monotonic() - self._down_since, 2),
                failed_batches=self._failed_while_down,
            )
        self._down_since, self._pause, self._failed_while_down = None, 0.0, 0


def _row(room: Room) -> NewInboxRow:
    assert room.row is not None, "a room being written holds its row"
    return room.row


def _retrieve(future: asyncio.Future[int]) -> None:
    # a waiter that timed out no longer looks at its future: mark the outcome as seen
    if not future.cancelled():
        future.exception()
