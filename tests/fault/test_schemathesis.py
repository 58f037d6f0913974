"""Schemathesis against /v1/openapi.json of the running app (a real server on 127.0.0.1 in a
thread, its own database), with a bearer token holding every scope: no 500s, and every
response (status, content type, body, headers) matches the published schema."""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi import checks as openapi_checks

from dlrecon.app import build_app
from receiver.http import openapi
from tests.support import TOKENS, make_settings, with_database
from tests.support.load import scaled

ADMIN = {"Authorization": f"Bearer {TOKENS['admin']}"}


class Server:
    """The app on an ephemeral port, served by its own event loop in a thread."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.loop = asyncio.new_event_loop()
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(60)
        return self

    async def _start(self) -> None:
        app = build_app(make_settings(), self.database_url)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    def __exit__(self, *exc: object) -> None:
        assert self.runner is not None
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(60)
        self.loop.call_soon_threadsafe(self.loop.stop)


async def _admin(url: str, sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def api_server(server_url: str, template_database: str) -> Iterator[Server]:
    name = f"dlrecon_fuzz_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"'))
    try:
        with Server(with_database(server_url, name)) as server:
            yield server
    finally:
        asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# the published document; the test below checks the server serves exactly this one
SPEC = openapi.document(build_app(make_settings(), "postgresql://unused/x").router)
SCHEMA = schemathesis.openapi.from_dict(SPEC)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]

CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.response_headers_conformance,
]


def test_served_spec_is_the_published_one(api_server: Server) -> None:
    import json
    import urllib.request

    request = urllib.request.Request(f"{api_server.url}/v1/openapi.json", headers=ADMIN)
    with urllib.request.urlopen(request, timeout=10) as r:
        assert json.load(r) == json.loads(json.dumps(SPEC))


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda o: o.label)
def test_api_conforms_to_its_schema(operation: Any, api_server: Server) -> None:
    # schemathesis' pytest loader does not run on pytest 9; its Python API does
    @given(case=operation.as_strategy())
    @settings(
        max_examples=int(scaled(40, 400)),
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=api_server.url, headers=ADMIN, checks=CHECKS)

    run()
