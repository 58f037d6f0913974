"""Fixtures: one Postgres per test session (embedded, or DATABASE_URL), a migrated
template database, and a fresh clone of it for every test that asks for one."""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import tempfile
import tomllib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from dlrecon.app import build_app
from receiver.db import migrations
from receiver.db.embedded import EmbeddedPostgres
from receiver.db.pool import init_connection
from receiver.settings import Settings
from tests.support import SECRETS, TOKENS, make_settings, with_database
from tests.support.poll_fakes import POLL_SECRETS
from tests.support.service import CONFIG as SERVICE_CONFIG
from tests.support.service import Service


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


@pytest.fixture(scope="module")
def own_postgres() -> Iterator[EmbeddedPostgres]:
    """A Postgres of the test module's own, so that it can be stopped and started."""
    data_dir = Path(tempfile.mkdtemp(prefix="dlrecon-own-pg-"))
    embedded = EmbeddedPostgres(data_dir)
    embedded.start()
    try:
        yield embedded
    finally:
        embedded.owned = True
        embedded.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


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
    app = build_app(settings, database_url)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


# ---- configured secrets never appear in logs -------------------------------------------------
# Every line written while a test runs (pytest captures stdout, stderr and log records of each
# setup/call/teardown, including structlog's output wherever it is configured to go) and every
# `dlrecon serve` log file of the acceptance and fault tiers (read when the Service closes it)
# is searched for each configured secret; the session fails if one is found.


def _secret_values() -> dict[str, str]:
    values = {f"SECRETS[{k}]": v for k, v in SECRETS.items()}
    values.update({f"POLL_SECRETS[{k}]": v for k, v in POLL_SECRETS.items()})
    values.update({f"TOKENS[{k}]": v for k, v in TOKENS.items()})
    basic = base64.b64encode(f"velip:{SECRETS['velip_password']}".encode()).decode()
    values["basic auth header of velip"] = basic
    # the acceptance configuration's tokens
    for entry in tomllib.loads(SERVICE_CONFIG).get("api", {}).get("tokens", []):
        values[f"acceptance token {entry.get('name') or entry['token'][:4]}"] = entry["token"]
    return values


class SecretLeaks:
    """Collects where secrets were seen; `scan` is called for every captured text."""

    def __init__(self) -> None:
        self.secrets = _secret_values()
        self.found: list[str] = []
        self.scanned = 0

    def scan(self, where: str, text: str) -> None:
        self.scanned += len(text)
        for name, secret in self.secrets.items():
            at = text.find(secret)
            if at >= 0:
                line = text[text.rfind("\n", 0, at) + 1 : text.find("\n", at) % (len(text) + 1)]
                self.found.append(f"{name} in {where}: {line.replace(secret, '<SECRET>')[:300]}")


LEAKS = SecretLeaks()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    for section, text in report.sections:
        LEAKS.scan(f"{report.nodeid} [{section}]", text)
    if report.longreprtext:
        LEAKS.scan(f"{report.nodeid} [{report.when} failure report]", report.longreprtext)


@pytest.fixture(autouse=True, scope="session")
def _scan_serve_logs() -> Iterator[None]:
    """Read every `dlrecon serve` log file when its Service closes it (before its folder goes)."""
    original = Service.close_log

    def close_and_scan(self: Service) -> None:
        original(self)
        if self.log.exists():
            LEAKS.scan(f"serve log {self.log.name}", self.log.read_text(errors="replace"))

    Service.close_log = close_and_scan  # type: ignore[method-assign]
    try:
        yield
    finally:
        Service.close_log = original  # type: ignore[method-assign]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not LEAKS.found:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    lines = ["", "CONFIGURED SECRETS FOUND IN LOGS:", *LEAKS.found[:50]]
    if reporter is not None:
        for line in lines:
            reporter.write_line(line, red=True)
    else:
        print("\n".join(lines))
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
