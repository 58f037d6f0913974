"""For the fault tier: a `dlrecon serve` configured for faults, a bounded load generator on
127.0.0.1 with a unique message id per request, and the checks every fault test makes.

Bounded by default (CI); `DLRECON_FULL=1` runs longer and with more load.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import re
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from tests.support import SECRETS, TOKENS
from tests.support.service import Service, free_port, service_env

FULL = os.environ.get("DLRECON_FULL") == "1"


def scaled(ci: float, full: float) -> float:
    """The CI figure, or the full one under DLRECON_FULL=1."""
    return full if FULL else ci


def fault_config(
    inbox: dict[str, Any] | None = None,
    database: dict[str, Any] | None = None,
    server: dict[str, Any] | None = None,
) -> str:
    """A serve configuration: every test token, an open key for load, a path-token key."""
    tokens = ", ".join(f'{{ token = "{t}", scopes = ["{s}"] }}' for s, t in TOKENS.items())
    sections = {
        "server": server or {},
        "inbox": {"batch_delay_ms": 1, "commit_timeout": 2, "retry_after": 1, **(inbox or {})},
        "database": {"connect_timeout": 1, **(database or {})},
        "processor": {"idle_interval": 0.05},
    }
    text = f"[api]\ntokens = [{tokens}]\n"
    for name, values in sections.items():
        text += f"[{name}]\n" + "".join(f"{k} = {v!r}\n" for k, v in values.items())
    text += '[providers.open]\nadapter = "geniq"\nverify = "off"\n'
    text += f'[providers.geniq]\npath_token = "{SECRETS["geniq_token"]}"\n'
    text += '[log]\nformat = "json"\n'
    return text


def start_service(
    workdir: Path,
    services: list[Service],
    database_url: str,
    *args: str,
    inbox: dict[str, Any] | None = None,
    server: dict[str, Any] | None = None,
) -> Service:
    (workdir / "dlrecon.toml").write_text(fault_config(inbox, server=server))
    service = Service(workdir, service_env(workdir, database_url), free_port())
    services.append(service)
    service.start(*args)
    service.wait_ready()
    return service


def ready(service: Service) -> int:
    try:
        with urllib.request.urlopen(f"{service.url}/readyz", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code


def metric(service: Service, name: str, **labels: str) -> float:
    """The sum of a metric's samples on the service's /metrics (those with `labels`)."""
    from prometheus_client.parser import text_string_to_metric_families

    with urllib.request.urlopen(f"{service.url}/metrics", timeout=5) as r:
        text = r.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items())
    )


def log_lines(service: Service) -> list[str]:
    """Every line the service's processes have written to its log so far."""
    return service.log.read_text(errors="replace").splitlines()


def log_records(service: Service) -> list[dict[str, Any]]:
    """The log lines that are JSON objects (all of them, with `format = "json"`)."""
    records = []
    for line in log_lines(service):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


@dataclass
class Load:
    """Posts callbacks with unique ids; remembers which were acknowledged."""

    base_url: str
    prefix: str
    concurrency: int = 16
    body_bytes: int = 0
    timeout: float = 20.0
    acked: set[str] = field(default_factory=set)
    refused: set[str] = field(default_factory=set)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    timeline: list[tuple[float, int, float]] = field(default_factory=list)  # (start, status, s)
    sent: int = 0

    @functools.cached_property
    def body(self) -> bytes:
        """One body for every POST (a thousand connections need not hold a thousand copies)."""
        return b"x" * (self.body_bytes or 32)

    def _next(self) -> str:
        self.sent += 1
        return f"{self.prefix}{self.sent:07d}"

    async def one(self, session: aiohttp.ClientSession, mid: str) -> int:
        started = time.monotonic()
        params = {"messageId": mid, "status": "delivered"}
        try:
            # every other request is a POST (never retried by the client on a dead connection)
            if self.body_bytes or self.sent % 2:
                request = session.post(
                    f"{self.base_url}/v1/callbacks/open",
                    params=params,
                    data=self.body,
                    headers={"Content-Type": "application/octet-stream"},
                )
            else:
                request = session.get(f"{self.base_url}/v1/callbacks/open", params=params)
            async with request as r:
                await r.read()
                status = r.status
                if status >= 500 and (status != 503 or "Retry-After" not in r.headers):
                    self.violations.append(f"{mid}: {status} {r.headers.get('Retry-After')}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.errors[type(exc).__name__] += 1
            status = 0
        self.timeline.append((started, status, time.monotonic() - started))
        self.statuses[status] += 1
        if 200 <= status < 300:
            self.acked.add(mid)
        else:
            self.refused.add(mid)
        return status

    async def run(self, stop: asyncio.Event, max_requests: int) -> None:
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        connector = aiohttp.TCPConnector(limit=self.concurrency)
        async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:

            async def worker() -> None:
                while not stop.is_set() and self.sent < max_requests:
                    await self.one(session, self._next())

            await asyncio.gather(*(worker() for _ in range(self.concurrency)))

    async def burst(self, n: int) -> list[int]:
        """`n` requests on fresh connections, one after another: all must be 2xx after recovery."""
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        async with aiohttp.ClientSession(
            timeout=timeout, connector=aiohttp.TCPConnector(force_close=True)
        ) as session:
            return [await self.one(session, self._next()) for _ in range(n)]

    def summary(self) -> str:
        return f"sent={self.sent} statuses={dict(self.statuses)} errors={dict(self.errors)}"


_ID = re.compile(r"messageId=([A-Za-z0-9_-]+)")


async def stored_ids(database_url: str, prefix: str) -> list[str]:
    """Message ids of the inbox rows with this prefix (a list: duplicates would show)."""
    conn = await asyncpg.connect(database_url)
    try:
        rows = await conn.fetch(
            "SELECT query FROM inbox WHERE query LIKE $1", f"%messageId={prefix}%"
        )
    finally:
        await conn.close()
    return [m.group(1) for r in rows if (m := _ID.search(r["query"]))]


async def check_invariants(load: Load, database_url: str) -> list[str]:
    """No 2xx for anything not stored, nothing stored lost, no 500, no 503 without Retry-After."""
    ids = await stored_ids(database_url, load.prefix)
    stored = set(ids)
    missing = load.acked - stored
    assert not missing, (
        f"{len(missing)} acknowledged callbacks are not in the inbox: {sorted(missing)[:5]}"
    )
    twice = sorted(i for i, n in Counter(ids).items() if n > 1)
    # a request whose answer was lost (connection died after the commit) may be stored again
    # when the client retries it: a harmless duplicate, like a provider's retry
    print(f"stored twice: {twice[:10]} ({len(twice)})")
    assert not load.violations, load.violations[:5]
    assert load.statuses[500] == 0
    assert stored <= load.acked | load.refused, "stored ids that were never sent"
    return ids
