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

# errors meaning "the database is not there right now", as opposed to a bug in a query
UNAVAILABLE = (
    OSError,
    TimeoutError,
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.ConnectionFailureError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.TooManyConnectionsError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.QueryCanceledError,
)

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
    except UNAVAILABLE as exc:
        raise DatabaseUnavailable(f"database unavailable: {describe(exc)}") from exc


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


async def connect(url: str, *, timeout: float = 5.0) -> asyncpg.Connection:
    """One connection (CLI commands, migrations)."""
    try:
        conn = await asyncpg.connect(url, timeout=timeout)
        await init_connection(conn)
        return conn
    except (*UNAVAILABLE, asyncpg.exceptions.PostgresError) as exc:
        raise DatabaseUnavailable(f"cannot connect to the database: {describe(exc)}") from exc
