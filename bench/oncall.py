"""bench/oncall: `/v1/stuck` and `/v1/providers/health` over 10,000,000 messages of which
50,000 are open. Builds the data set once with generate_series (keep it with --keep, reuse it
with --url), then times each answer over HTTP (an in-process server, the real app) and
prints median and 95th percentile. Target: under 200 ms.

Data: 20 provider keys, 10M messages sent evenly over 90 days, all final but the 50,000 sent
last (in the last ~11 hours); the final ones took 5-120 s, 2% of them 30-60 min; a callback
in the inbox for each final message of the last 8 days (what the usual and the windows read)."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
import urllib.parse
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import asyncpg

from bench._common import embedded_postgres, log, machine, postgres_version

KEYS = 20
DAYS = 90

BUILD = [
    "SET synchronous_commit = off",
    f"""
    INSERT INTO messages (provider_key, channel, client_ref, submitted_at, registered_at, status,
                          final, status_at, error_class)
    SELECT 'p' || (g % {KEYS}), 'sms', NULL, t, t,
           CASE WHEN g > $1 - $2 THEN 'accepted'
                WHEN g % 10 = 0 THEN 'failed' ELSE 'delivered' END,
           g <= $1 - $2,
           CASE WHEN g > $1 - $2 THEN t
                ELSE t + make_interval(secs => CASE WHEN g % 50 = 0 THEN 1800 + g % 1800
                                                    ELSE 5 + g % 115 END) END,
           CASE WHEN g % 10 = 0 AND g <= $1 - $2 THEN 'recipient' END
    FROM generate_series(1, $1) g,
         LATERAL (SELECT now() - interval '{DAYS} days'
                         + (interval '{DAYS} days') * (g::float8 / $1) AS t) x
    """,
    # the months of the inbox rows below (migration 0012: partitioned by month)
    "SELECT dlrecon_inbox_partitions(now() - interval '8 days', 3)",
    # processed callbacks: stored requests with no queue entry and no exception (0010)
    """
    INSERT INTO inbox_requests (provider_key, method, path, query, headers, body, verification,
                                received_at)
    SELECT provider_key, 'POST', '/v1/callbacks/' || provider_key, '', '{}'::jsonb, '\\x'::bytea,
           'verified', status_at
    FROM messages
    WHERE final AND submitted_at >= now() - interval '8 days'
    """,
    "VACUUM ANALYZE messages",
    "VACUUM ANALYZE inbox_requests",
]


async def build(url: str, messages: int, open_: int) -> None:
    from receiver.db import migrations

    conn = await asyncpg.connect(url)
    try:
        await migrations.apply(conn)
        have = await conn.fetchval("SELECT count(*) FROM messages")
        if have:
            log(f"reusing the data set: {have:,} messages")
            return
        for sql in BUILD:
            started = time.perf_counter()
            if "$1" in sql:
                await conn.execute(sql, messages, open_)
            else:
                await conn.execute(sql)
            log(
                f"{sql.split()[0]} {sql.split()[2] if len(sql.split()) > 2 else ''}: "
                f"{time.perf_counter() - started:.1f} s"
            )
    finally:
        await conn.close()


async def measure(url: str, runs: int) -> dict[str, list[float]]:
    from aiohttp.test_utils import TestClient, TestServer

    from dlrecon.app import build_app
    from dlrecon.settings import Settings
    from receiver import logs

    logs.configure("warning", "console")

    token = "bench-read-token-0001"
    settings = Settings(
        api={"tokens": [{"token": token, "scopes": ["read"]}]},
        providers={f"p{n}": {"adapter": "generic", "verify": "off"} for n in range(KEYS)},
        processor={"enabled": False},
    )
    headers = {"Authorization": f"Bearer {token}"}
    as_of = urllib.parse.quote(datetime.now(UTC).isoformat())
    targets = {
        "/v1/stuck (thresholds kept, 5 min)": "/v1/stuck",
        "/v1/stuck?as_of=... (thresholds learned)": f"/v1/stuck?as_of={as_of}",
        "/v1/providers/health?window=15m": "/v1/providers/health?window=15m",
        "/v1/providers/health?window=1h": "/v1/providers/health?window=1h",
        "/v1/providers/health?window=24h": "/v1/providers/health?window=24h",
        "/v1/providers/health (15m, 1h, 24h)": "/v1/providers/health",
    }
    times: dict[str, list[float]] = {name: [] for name in targets}
    async with TestClient(TestServer(build_app(settings, url))) as client:
        started = time.perf_counter()
        first = await client.get("/v1/providers/health?window=15m", headers=headers)
        assert first.status == 200, await first.text()
        await first.read()
        times["first health request (computes the usual week)"] = [
            (time.perf_counter() - started) * 1000
        ]
        started = time.perf_counter()
        stuck = await client.get("/v1/stuck", headers=headers)
        body = await stuck.json()
        times["first stuck request (learns the thresholds)"] = [
            (time.perf_counter() - started) * 1000
        ]
        groups = [
            (g["provider"], g["count"], g["threshold"], g["threshold_source"])
            for g in body.get("groups", [])
        ]
        log(f"/v1/stuck: status {stuck.status}, total {body.get('total')}, groups {groups[:3]}...")
        for _ in range(runs):
            for name, path in targets.items():
                started = time.perf_counter()
                response = await client.get(path, headers=headers)
                await response.read()
                times[name].append((time.perf_counter() - started) * 1000)
                assert response.status == 200, (path, response.status)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--open", type=int, default=50_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--url", help="a database to build in (or reuse), instead of a fresh one")
    parser.add_argument("--keep", action="store_true", help="keep the embedded Postgres folder")
    args = parser.parse_args()

    def run(url: str) -> None:
        print(f"machine: {machine()}")
        print(f"postgres: {postgres_version(url)}")
        started = time.perf_counter()
        asyncio.run(build(url, args.messages, args.open))
        print(f"data set ready in {time.perf_counter() - started:.0f} s")
        times = asyncio.run(measure(url, args.runs))
        print(f"{'answer':48} {'median ms':>10} {'p95 ms':>8} {'max ms':>8}  (runs)")
        for name, values in times.items():
            ordered = sorted(values)
            p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
            print(
                f"{name:48} {statistics.median(ordered):10.1f} {p95:8.1f} "
                f"{ordered[-1]:8.1f}  ({len(ordered)})"
            )
        print(f"load after: {machine()['load']}")

    if args.url:
        run(args.url)
    else:
        with embedded_postgres(keep=args.keep) as (url, _folder):
            run(url)


if __name__ == "__main__":
    main()
