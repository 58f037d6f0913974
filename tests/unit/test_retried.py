"""Transactions Postgres aborts for a deadlock are done again, a bounded number of times
(the processor's batches and sweeps, the import's chunks)."""

from __future__ import annotations

import asyncpg
import pytest

from receiver.db import pool


async def test_a_deadlocked_batch_is_done_again() -> None:
    calls = 0

    async def work() -> int:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")
        return 7

    assert await pool.retried(work, event="test_retry") == 7
    assert calls == 3


async def test_retrying_gives_up_and_other_errors_are_not_retried() -> None:
    calls = 0

    async def always() -> int:
        nonlocal calls
        calls += 1
        raise asyncpg.exceptions.SerializationError("could not serialize access")

    with pytest.raises(asyncpg.exceptions.SerializationError):
        await pool.retried(always, event="test_retry")
    assert calls == pool.RETRY_ATTEMPTS

    calls = 0

    async def broken() -> int:
        nonlocal calls
        calls += 1
        raise ValueError("not the database's doing")

    with pytest.raises(ValueError):
        await pool.retried(broken, event="test_retry")
    assert calls == 1
