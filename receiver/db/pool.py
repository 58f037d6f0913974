"""The asyncpg pool, and the one place driver errors become dlrecon errors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

import asyncpg
import structlog

from receiver.errors import DatabaseUnavailable

log = structlog.get_logger(__name__)

# errors meaning "the database is not there right now", as opposed to a bug in a query or a
# value it refuses: the writer and the processor back off, HTTP answers 503
UNAVAILABLE = (
    OSError,
    TimeoutError,
    # 08xxx: cannot connect, connection refused or lost
    asyncpg.exceptions.PostgresConnectionError,
    # 57xxx: shutting down (admin, crash), starting up or in recovery, query cancelled,
    # database dropped
    asyncpg.exceptions.OperatorInterventionError,
    # 53xxx: too many connections, disk full, out of memory
    asyncpg.exceptions.InsufficientResourcesError,
    # a standby (after a failover) cannot write
    asyncpg.exceptions.ReadOnlySQLTransactionError,
    # the client side of a connection that broke under it
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.InternalClientError,
)


def unavailable(exc: BaseException) -> bool:
    """Whether `exc` means the database cannot be used right now (`UNAVAILABLE`, or a database
    that does not accept connections: `ALLOW_CONNECTIONS false`, SQLSTATE 55000, which also
    names other states of other objects)."""
    if isinstance(exc, UNAVAILABLE):
        return True
    return isinstance(
        exc, asyncpg.exceptions.ObjectNotInPrerequisiteStateError
    ) and "accepting connections" in str(exc)


# attempts at a transaction Postgres aborted for a deadlock or a serialization failure
RETRY_ATTEMPTS = 5
T = TypeVar("T")

# errors where trying the same work again later is right (not the data's fault)
RETRYABLE = (
    asyncpg.exceptions.DeadlockDetectedError,
    asyncpg.exceptions.SerializationError,
    asyncpg.exceptions.LockNotAvailableError,
)

Pool = asyncpg.Pool
if TYPE_CHECKING:
    from asyncpg.pool import PoolConnectionProxy

    # what handlers get from a pool, or a plain connection (CLI, migrations)
    Connection: TypeAlias = asyncpg.Connection[Any] | PoolConnectionProxy[Any]
else:
    Connection = asyncpg.Connection


async def init_connection(conn: Connection) -> None:
    """JSON columns travel as Python objects."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


@contextlib.asynccontextmanager
async def translated() -> AsyncIterator[None]:
    """Turn driver-level connectivity errors into `DatabaseUnavailable`."""
    try:
        yield
    except Exception as exc:
        if unavailable(exc):
            raise DatabaseUnavailable(f"database unavailable: {describe(exc)}") from exc
        raise


@contextlib.asynccontextmanager
async def connection(
    pool: Pool, *, transaction: bool = False, timeout: float | None = None
) -> AsyncIterator[Connection]:
    """The one way in: a pooled connection (waiting at most `timeout` for one), driver
    connectivity errors translated into `DatabaseUnavailable`, and with `transaction` the
    work inside one transaction (committed when the block ends, rolled back on an error)."""
    conn = await _acquire(pool, timeout)
    try:
        async with translated():
            if not transaction:
                yield conn
                return
            async with conn.transaction():
                yield conn
    finally:
        async with translated():
            await pool.release(conn)


async def _acquire(pool: Pool, timeout: float | None) -> PoolConnectionProxy[asyncpg.Record]:
    """A connection from the pool; whatever keeps the pool from giving one (the server refusing
    a new session for any reason) means the database is unavailable."""
    try:
        return await pool.acquire(timeout=timeout)
    except (*UNAVAILABLE, asyncpg.exceptions.PostgresError) as exc:
        raise DatabaseUnavailable(f"cannot connect to the database: {describe(exc)}") from exc


@contextlib.asynccontextmanager
async def transaction(conn: Connection) -> AsyncIterator[Connection]:
    """A transaction on a connection already held (a savepoint inside an open one: an error
    then undoes only this part), driver connectivity errors translated."""
    async with translated(), conn.transaction():
        yield conn


async def retried(work: Callable[[], Awaitable[T]], *, event: str) -> T:
    """`work()` (one whole transaction), done again a few times after a short random pause when
    Postgres aborted it for a deadlock or a serialization failure (`RETRYABLE`): it was rolled
    back whole, so doing it again is safe. Each retry is logged as `event`."""
    for attempt in range(1, RETRY_ATTEMPTS + 1):
        try:
            return await work()
        except RETRYABLE as exc:
            if attempt == RETRY_ATTEMPTS:
                raise
            log.info(event, attempt=attempt, error=describe(exc))
            await asyncio.sleep(random.uniform(0.01, 0.05) * attempt)
    raise AssertionError("unreachable")


def refused(exc: BaseException) -> bool:
    """Whether the database server refused a statement (a value it cannot store, a constraint):
    the data's fault, as opposed to the database or the connection being unavailable."""
    return isinstance(exc, asyncpg.exceptions.PostgresError) and not unavailable(exc)


def describe(exc: BaseException) -> str:
    """A one-line description of a connection problem."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def create(url: str, *, min_size: int, max_size: int, timeout: float) -> asyncpg.Pool:
    """Open a pool; raise `DatabaseUnavailable` with one clear line when that fails."""
    try:
        pool = await asyncpg.create_pool(
            url,
            min_size=min_size,
            max_size=max_size,
            timeout=timeout,
            command_timeout=60,
            server_settings={"application_name": "dlrecon"},
            init=init_connection,
        )
    except (*UNAVAILABLE, asyncpg.exceptions.PostgresError) as exc:
        raise DatabaseUnavailable(f"cannot connect to the database: {describe(exc)}") from exc
    assert pool is not None
    return pool


async def create_when_available(
    url: str, *, min_size: int, max_size: int, timeout: float, stop: asyncio.Event, role: str
) -> asyncpg.Pool | None:
    """A pool once the database answers (a role process may start before it does), or None when
    `stop` is set first. Each failed attempt is logged, with pauses that double up to 5 s."""
    backoff = 0.5
    while not stop.is_set():
        try:
            return await create(url, min_size=min_size, max_size=max_size, timeout=timeout)
        except DatabaseUnavailable as exc:
            log.warning("role_database_unavailable", role=role, error=str(exc))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), backoff)
            backoff = min(backoff * 2, 5.0)
    return None


async def connect(url: str, *, timeout: float = 5.0) -> asyncpg.Connection:
    """One connection (CLI commands, migrations)."""
    try:
        conn = await asyncpg.connect(url, timeout=timeout)
        await init_connection(conn)
        return conn
    except (*UNAVAILABLE, asyncpg.exceptions.PostgresError) as exc:
        raise DatabaseUnavailable(f"cannot connect to the database: {describe(exc)}") from exc
