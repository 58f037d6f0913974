"""Fixtures: one Postgres per test session (embedded, or DATABASE_URL), a migrated
template database, and a fresh clone of it for every test that asks for one."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from receiver.db import migrations
from receiver.db.embedded import EmbeddedPostgres
from receiver.db.pool import init_connection
from receiver.http.app import create_app
from receiver.settings import Settings
from tests.support import make_settings, with_database


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """A Postgres server URL whose role may create databases."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    data_dir = Path(tempfile.mkdtemp(prefix="dlrecon-test-pg-"))
    embedded = EmbeddedPostgres(data_dir)
    try:
        yield embedded.start()
    finally:
        embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


async def _admin(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _create_template(url: str, name: str) -> None:
    await _admin(url, f'CREATE DATABASE "{name}"')
    conn = await asyncpg.connect(with_database(url, name))
    try:
        await migrations.apply(conn)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_database(server_url: str) -> Iterator[str]:
    name = f"dlrecon_template_{os.getpid()}"
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}"'))
    asyncio.run(_create_template(server_url, name))
    yield name
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def database_url(server_url: str, template_database: str) -> AsyncIterator[str]:
    """A migrated database of this test's own."""
    name = f"dlrecon_test_{uuid.uuid4().hex[:16]}"
    await _admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
    yield with_database(server_url, name)
    await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def empty_database_url(server_url: str) -> AsyncIterator[str]:
    """An empty database (no migrations applied)."""
    name = f"dlrecon_empty_{uuid.uuid4().hex[:16]}"
    await _admin(server_url, f'CREATE DATABASE "{name}"')
    yield with_database(server_url, name)
    await _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    await init_connection(connection)
    yield connection
    await connection.close()


@pytest.fixture
def settings() -> Settings:
    return make_settings()


@pytest.fixture
async def client(database_url: str, settings: Settings) -> AsyncIterator[TestClient]:  # type: ignore[type-arg]
    """The app on a test server, against this test's database."""
    app = create_app(settings, database_url)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client
