"""Two `dlrecon serve` instances on different ports against one database, under load: each
with its own HTTP worker and processor process, callbacks and registrations sent to both.
Receivers and processors are stateless and claim their work in Postgres, so no inbox row is
processed twice (each callback gives exactly its one event, no event row is repeated, and the
processors' counters add up to what the database holds) and no acknowledged callback is lost.
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from pathlib import Path

import aiohttp
import asyncpg

from tests.support import TOKENS
from tests.support.service import Service, free_port, service_env, stored_message_ids

CALLBACKS = 3000  # distinct callbacks, half to each instance
REGISTERED = 1000  # of which this many are also registered (half to each instance)
CONCURRENCY = 48
BATCH = 50  # messages per registration request


def _mid(n: int) -> str:
    return f"TWO{n:06d}"


async def _load(urls: list[str]) -> tuple[set[str], set[str], list[str]]:
    """Send every callback and registration, spread over both instances; return the message
    ids whose callback was acknowledged, those registered (2xx) and what each registration
    that failed was answered."""
    acknowledged: set[str] = set()
    registered: set[str] = set()
    failures: list[str] = []
    limit = asyncio.Semaphore(CONCURRENCY)
    auth = {"Authorization": f"Bearer {TOKENS['send']}"}

    async with aiohttp.ClientSession() as session:

        async def callback(n: int) -> None:
            mid = _mid(n)
            async with limit:
                try:
                    async with session.get(
                        f"{urls[n % 2]}/v1/callbacks/open",
                        params={"messageId": mid, "status": "delivered", "recipient": "659000"},
                    ) as r:
                        await r.read()
                        if 200 <= r.status < 300:
                            acknowledged.add(mid)
                except aiohttp.ClientError:
                    pass

        async def register(first: int) -> None:
            ids = [_mid(n) for n in range(first, min(first + BATCH, REGISTERED))]
            body = [
                {"provider": "open", "client_ref": f"ref-{mid}", "provider_message_ids": [mid]}
                for mid in ids
            ]
            async with (
                limit,
                session.post(
                    f"{urls[(first // BATCH) % 2]}/v1/messages", json=body, headers=auth
                ) as r,
            ):
                answer = await r.json()
                if 200 <= r.status < 300 and answer["created"] == len(ids):
                    registered.update(ids)
                else:
                    failures.append(f"{r.status} {str(answer)[:200]}")

        # registrations interleaved with the callbacks: some events arrive before their
        # message is registered (matched later), some after
        work = [callback(n) for n in range(CALLBACKS)]
        for k, first in enumerate(range(0, REGISTERED, BATCH)):
            work.insert(k * 7 * BATCH // 10 + k, register(first))
        await asyncio.gather(*work)
    return acknowledged, registered, failures


def _counter(text: str, name: str) -> float:
    """The sum of a counter's samples in a Prometheus text exposition."""
    total = 0.0
    for line in text.splitlines():
        if re.match(rf"{name}(\{{|\s)", line):
            total += float(line.rsplit(" ", 1)[1])
    return total


def _metrics(service: Service) -> str:
    request = urllib.request.Request(
        f"{service.url}/metrics", headers={"Authorization": f"Bearer {TOKENS['read']}"}
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return str(r.read().decode())


async def _pending(database_url: str) -> int:
    conn = await asyncpg.connect(database_url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM inbox WHERE state = 'pending'"))
    finally:
        await conn.close()


def test_two_instances_on_one_database_process_each_row_once(
    workdir: Path, database_url: str, services: list[Service]
) -> None:
    env = service_env(workdir, database_url)
    pair = [Service(workdir, env, free_port()), Service(workdir, env, free_port())]
    services.extend(pair)
    for service in pair:  # both migrate on start: the second finds it done
        service.start("--workers", "1")
    for service in pair:
        service.wait_ready()
        assert len(service.http_workers(1)) == 1

    acknowledged, registered, failures = asyncio.run(_load([s.url for s in pair]))
    assert len(acknowledged) == CALLBACKS, "every callback is acknowledged without a fault"
    assert not failures, f"registrations failed: {failures}"
    assert len(registered) == REGISTERED

    # nothing acknowledged is lost
    assert acknowledged <= stored_message_ids(database_url)

    deadline = time.monotonic() + 60
    while asyncio.run(_pending(database_url)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert asyncio.run(_pending(database_url)) == 0, "the processors did not catch up"
    facts = asyncio.run(_facts(database_url))
    # a callback processed while its message's registration was committing is stored as an
    # orphan and matched by the processors' orphan sweep (`ORPHAN_SWEEP_SECONDS`): waited for
    deadline = time.monotonic() + 15
    while facts["registered_delivered"] < REGISTERED and time.monotonic() < deadline:
        time.sleep(0.2)
        facts = asyncio.run(_facts(database_url))

    # each inbox row processed once: exactly one event from each callback, none repeated
    assert facts["inbox_rows"] == CALLBACKS
    assert facts["rows_without_one_event"] == 0
    assert facts["callback_events"] == CALLBACKS
    assert facts["repeated_events"] == 0
    assert facts["not_processed"] == 0
    # the registered messages found their events, whichever instance had each
    assert facts["registered_unmatched"] == 0, "events of registered messages left unmatched"
    assert facts["registered_delivered"] == REGISTERED

    # the two processors' counters add up to what the database holds, and neither saw a
    # duplicate (a row processed a second time would parse its event again as one); the
    # counters move just after each batch commits, so they are waited for
    deadline = time.monotonic() + 10
    while True:
        texts = [_metrics(s) for s in pair]
        events = sum(_counter(t, "dlrecon_events_total") for t in texts)
        if events >= CALLBACKS or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert events == CALLBACKS
    assert sum(_counter(t, "dlrecon_duplicate_events_total") for t in texts) == 0
    assert sum(_counter(t, "dlrecon_quarantined_total") for t in texts) == 0
    # both instances took callbacks (and neither stored what the other did)
    stored = [_counter(t, "dlrecon_callbacks_total") for t in texts]
    assert stored == [CALLBACKS / 2, CALLBACKS / 2]

    for service in pair:
        assert service.stop() == 0
    for service in pair:
        assert "Traceback" not in service.log.read_text()


async def _facts(database_url: str) -> dict[str, int]:
    conn = await asyncpg.connect(database_url)
    try:
        row = await conn.fetchrow(
            """
            SELECT
              (SELECT count(*) FROM inbox) AS inbox_rows,
              (SELECT count(*) FROM inbox WHERE state <> 'processed') AS not_processed,
              (SELECT count(*) FROM inbox i
               WHERE (SELECT count(*) FROM events e WHERE e.inbox_id = i.id) <> 1)
                AS rows_without_one_event,
              (SELECT count(*) FROM events WHERE source = 'callback') AS callback_events,
              (SELECT count(*) FROM (
                 SELECT 1 FROM events WHERE source = 'callback'
                 GROUP BY provider_key, provider_message_id, status HAVING count(*) > 1) d)
                AS repeated_events,
              (SELECT count(*) FROM messages WHERE status = 'delivered') AS registered_delivered,
              (SELECT count(*) FROM events e
               WHERE source = 'callback' AND message_id IS NULL
                 AND provider_message_id IN (
                   SELECT provider_message_id FROM message_parts)) AS registered_unmatched
            """
        )
        return dict(row)
    finally:
        await conn.close()
