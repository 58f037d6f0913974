"""Fixtures of the poller's integration tests: the fake provider server and a pool."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from receiver.db import pool as db_pool
from tests.support.poll_fakes import FakeProviders


@pytest.fixture
async def fake() -> AsyncIterator[FakeProviders]:
    server = FakeProviders()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[db_pool.Pool]:
    created = await db_pool.create(database_url, min_size=1, max_size=8, timeout=5)
    yield created
    await created.close()
