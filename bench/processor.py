"""bench/processor: inbox rows per second of one processor process, for distinct events.

In a fresh embedded Postgres: N messages registered (each with its provider id) and N pending
inbox rows, one callback per message, every one a distinct event (0 % duplicates): the three
shapes of bench/ingest's mix (GenIQ GET query, Hellio JSON POST, Twilio form POST) in turn, each
matching its message, so every row costs a parse, an event insert, a match and a status roll-up.
Then one processor process (`receiver.processor.drain`, the loop `serve`'s processor runs) takes
them all, and this prints:

  rows/s              inbox rows processed per second of wall time, and the ratio to the
                      target of 30,000 rows/s per process (PASS/FAIL)
  processor CPU/row   utime + stime of the processor process per row (µs)
  Postgres CPU/row    utime + stime of every Postgres process (backends, WAL writer,
                      checkpointer, autovacuum) per row (µs), measured over the same drain
  inbox size          heap + indexes + TOAST of the inbox and of its state tables after the
                      drain, per row (bytes)

Usage: bench/processor [--rows N] [--batch-size B] [--profile DIR] [--keep]
With --profile, the processor runs under py-spy (`pip install py-spy` into .venv) and the
flame graph and the functions with the most samples are written to DIR.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import random
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from _common import (
    GENIQ_TOKEN,
    PYTHON,
    ROOT,
    Callback,
    embedded_postgres,
    geniq_callback,
    hellio_callback,
    log,
    machine,
    postgres_version,
    twilio_callback,
    write_config,
)

sys.path.insert(0, str(ROOT))

TARGET_ROWS_PER_SECOND = 30_000.0


def _row(callback: Callback) -> dict[str, Any]:
    """An inbox row as the receiver stores the callback (its path token redacted)."""
    headers = {"host": "127.0.0.1", **callback.headers}
    if callback.method == "POST":
        headers["content-length"] = str(len(callback.body))
    query = callback.query.replace(f"token={GENIQ_TOKEN}", "token=%5Bredacted%5D")
    return {
        "key": callback.key,
        "method": callback.method,
        "path": callback.path,
        "query": query,
        "headers": headers,
        "body": callback.body,
    }


def _geniq(rng: random.Random, i: int) -> dict[str, Any]:
    return _row(geniq_callback(rng, f"{i:08X}{rng.getrandbits(96):024X}", GENIQ_TOKEN))


def _hellio(rng: random.Random, i: int, stamp: int) -> dict[str, Any]:
    return _row(hellio_callback(rng, f"{i:08x}{rng.getrandbits(32):08x}", stamp))


def _twilio(rng: random.Random, i: int) -> dict[str, Any]:
    return _row(twilio_callback(rng, f"SM{i:08x}{rng.getrandbits(96):024x}"))


def build_rows(n: int, seed: int = 17) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    stamp = int(time.time())
    makers = (lambda i: _geniq(rng, i), lambda i: _hellio(rng, i, stamp), lambda i: _twilio(rng, i))
    return [makers[i % 3](i) for i in range(n)]


async def populate(url: str, config: Path, n: int) -> int:
    """Register n messages and store n pending inbox rows naming them; the raw request bytes."""
    import asyncpg

    from dlrecon import settings as dlrecon_settings
    from receiver import adapters
    from receiver.db import migrations, queries
    from receiver.db.inbox import InboxRow
    from receiver.inbox import stored

    settings = dlrecon_settings.load(config)
    rows = build_rows(n)
    now = datetime.now(UTC)
    # each row's provider id, as its adapter reads it (the message registered under it)
    ids: list[str] = []
    for i, r in enumerate(rows):
        row = InboxRow(
            i,
            r["key"],
            r["method"],
            r["path"],
            r["query"],
            r["headers"],
            r["body"],
            "127.0.0.1",
            now,
        )
        adapter = adapters.get(settings.adapter_name(r["key"]))
        events = adapter.parse_callback(
            stored.from_row(row), settings.providers[r["key"]].options()
        )
        ids.append(events[0].provider_message_id or "")
    conn = await asyncpg.connect(url)
    try:
        await migrations.apply(conn)
        await conn.execute(
            """
            WITH m AS (
                INSERT INTO messages (provider_key, channel, client_ref, destination,
                                      submitted_at, status)
                SELECT k, 'sms', 'bench-' || o, '+15550000000', now() - interval '1 minute',
                       'accepted'
                FROM unnest($1::text[]) WITH ORDINALITY AS u(k, o)
                RETURNING id, provider_key, client_ref
            )
            INSERT INTO message_parts (provider_key, provider_message_id, message_id, part_no)
            SELECT m.provider_key, u.pid, m.id, 0
            FROM m JOIN unnest($2::text[]) WITH ORDINALITY AS u(pid, o)
              ON m.client_ref = 'bench-' || u.o
            """,
            [r["key"] for r in rows],
            ids,
        )
        await conn.set_type_codec(
            "jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )
        for start in range(0, n, 2000):
            chunk = rows[start : start + 2000]
            await conn.fetch(
                queries.get("insert_inbox_batch"),
                [r["key"] for r in chunk],
                [r["method"] for r in chunk],
                [r["path"] for r in chunk],
                [r["query"] for r in chunk],
                [r["headers"] for r in chunk],
                [r["body"] for r in chunk],
                ["127.0.0.1"] * len(chunk),
                ["verified"] * len(chunk),
                [None] * len(chunk),
                [now] * len(chunk),
                ["pending"] * len(chunk),
            )
        await conn.execute("VACUUM ANALYZE")
        await conn.execute("CHECKPOINT")
    finally:
        await conn.close()
    return sum(len(r["body"]) + len(r["query"]) + len(r["path"]) for r in rows)


# ---- the processor process --------------------------------------------------------------


def _postgres_cpu(postmaster: int) -> float:
    """utime + stime of this bench's Postgres: its postmaster and every process under it."""
    import psutil

    root = psutil.Process(postmaster)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def _time_queries() -> dict[str, list[float]]:
    """Wall time spent in each named query (asyncpg calls wrapped): [seconds, calls]."""
    import asyncpg.connection

    import sql

    names = {text: name for name, text in sql.queries().items()}
    spent: dict[str, list[float]] = collections.defaultdict(lambda: [0.0, 0.0])

    def wrap(method: str) -> None:
        original = getattr(asyncpg.connection.Connection, method)

        async def timed(self: Any, query: str, *args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return await original(self, query, *args, **kwargs)
            finally:
                entry = spent[names.get(query) or query.strip().split("\n")[0][:50]]
                entry[0] += time.perf_counter() - t0
                entry[1] += 1

        setattr(asyncpg.connection.Connection, method, timed)

    for method in ("fetch", "execute", "fetchval", "fetchrow"):
        wrap(method)
    return spent


def child(config: str, url: str) -> None:
    """Drain the inbox with one processor; print one JSON line with the figures."""
    import resource

    spent = _time_queries() if os.environ.get("BENCH_QUERY_TIMES") else None

    from dlrecon import settings as dlrecon_settings
    from receiver import processor
    from receiver.db import pool as db_pool
    from receiver.metrics import Metrics

    settings = dlrecon_settings.load(config)

    async def go() -> dict[str, float]:
        pool = await db_pool.create(url, min_size=2, max_size=2, timeout=10)
        metrics = Metrics()
        try:
            import psutil

            async with pool.acquire() as conn:
                postmaster = psutil.Process(await conn.fetchval("SELECT pg_backend_pid()")).ppid()
            pg0 = _postgres_cpu(postmaster)
            r0 = resource.getrusage(resource.RUSAGE_SELF)
            t0 = time.perf_counter()
            n = await processor.drain(pool, settings, metrics)
            wall = time.perf_counter() - t0
            r1 = resource.getrusage(resource.RUSAGE_SELF)
            pg1 = _postgres_cpu(postmaster)
        finally:
            await pool.close()
        cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
        return {
            "rows": n,
            "wall": wall,
            "cpu": cpu,
            "pg_cpu": pg1 - pg0,
            "queries": dict(spent or {}),
            "rss_mb": r1.ru_maxrss / 1024,
        }

    print("BENCH_JSON " + json.dumps(asyncio.run(go())), flush=True)


async def sizes(url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        out: dict[str, int] = {}
        for r in await conn.fetch(
            """
            SELECT c.relname, pg_total_relation_size(c.oid) AS bytes
            FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
              AND (c.relname LIKE 'inbox%' OR c.relname LIKE 'events%' OR c.relname = 'event_keys')
            """
        ):
            out[r["relname"]] = int(r["bytes"])
        for r in await conn.fetch(
            "SELECT state, count(*) AS n FROM inbox GROUP BY state ORDER BY state"
        ):
            out[f"state:{r['state']}"] = int(r["n"])
        out["events"] = int(await conn.fetchval("SELECT count(*) FROM events"))
        out["matched"] = int(
            await conn.fetchval("SELECT count(*) FROM events WHERE message_id IS NOT NULL")
        )
        return out
    finally:
        await conn.close()


def _top(collapsed: Path, limit: int = 25) -> list[str]:
    """The functions with the most samples (self, then inclusive) from py-spy's raw output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    lines = [f"{total} samples; most own samples:"]
    lines += [f"  {100 * n / total:5.1f} %  {f}" for f, n in own.most_common(limit)]
    lines += ["most inclusive samples:"]
    lines += [f"  {100 * n / total:5.1f} %  {f}" for f, n in inclusive.most_common(limit)]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument(
        "--query-times", action="store_true", help="print the wall time of each named query"
    )
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    info = machine()
    with embedded_postgres(keep=args.keep) as (url, folder):
        config = write_config(folder, url, 0, 1)
        if args.batch_size:
            config.write_text(
                config.read_text() + f"\n[processor]\nbatch_size = {args.batch_size}\n"
            )
        log(f"registering {args.rows} messages and storing {args.rows} inbox rows")
        raw = asyncio.run(populate(url, config, args.rows))
        command = [
            str(PYTHON),
            str(Path(__file__).resolve()),
            "--child",
            str(config),
            url,
        ]
        env = {**os.environ, "DLRECON_CONFIG": str(config)}
        if args.query_times:
            env["BENCH_QUERY_TIMES"] = "1"
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            spy = shutil.which("py-spy", path=str(PYTHON.parent)) or shutil.which("py-spy")
            if not spy:
                sys.exit("py-spy is not installed: .venv/bin/pip install py-spy")
            raw_out = args.profile / "processor.collapsed"
            command = [
                spy,
                "record",
                "--rate",
                "250",
                "--format",
                "raw",
                "-o",
                str(raw_out),
                "--",
                *command,
            ]
        load_before = os.getloadavg()
        log("draining with one processor process")
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        if done.returncode:
            sys.exit(f"processor failed:\n{done.stderr[-3000:]}")
        line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON "))
        result = json.loads(line.removeprefix("BENCH_JSON "))
        size = asyncio.run(sizes(url))
        version = postgres_version(url)

    rows = result["rows"]
    rate = rows / result["wall"]
    ratio = rate / TARGET_ROWS_PER_SECOND
    inbox_bytes = sum(v for k, v in size.items() if k.startswith("inbox") and ":" not in k)
    print("bench/processor")
    print(
        f"  machine: {info['cpus']} CPUs, {info['cpu']}, load before {info['load']}, "
        f"at the drain {' '.join(f'{x:.2f}' for x in load_before)}; "
        f"Postgres {version}"
    )
    print(
        f"  rows: {rows} inbox rows, distinct events (0 % duplicates), every one matching a "
        f"registered message; batch size {args.batch_size or 'default'}"
    )
    print(
        f"  wall {result['wall']:.2f} s, rows/s {rate:,.0f}, processor peak RSS "
        f"{result['rss_mb']:.0f} MB"
    )
    print(
        f"  processor CPU/row {1e6 * result['cpu'] / rows:.1f} us "
        f"(one core: at most {rows / result['cpu']:,.0f} rows/s)"
    )
    print(f"  Postgres CPU/row  {1e6 * result['pg_cpu'] / rows:.1f} us")
    print(
        f"  events {size['events']} (matched {size['matched']}); inbox states "
        + ", ".join(f"{k[6:]} {v}" for k, v in size.items() if k.startswith("state:"))
    )
    print(
        f"  inbox on disk (heap + indexes + TOAST, its tables): {inbox_bytes / rows:.0f} bytes/row"
        f" (raw request bytes {raw / rows:.0f}/row)"
    )
    for k, v in sorted(size.items()):
        if ":" not in k and k not in ("events", "matched"):
            print(f"    {k}: {v / 1e6:.1f} MB")
    for name, (seconds, calls) in sorted(result["queries"].items(), key=lambda x: -x[1][0]):
        print(
            f"    query {name}: {1e6 * seconds / rows:.1f} us/row of wall time, {calls:.0f} calls"
        )
    verdict = "PASS" if ratio >= 1.0 else "FAIL"
    print(f"  processor: {rate:,.0f} rows/s = {ratio:.2f} x target 30,000 rows/s  {verdict}")
    if args.profile:
        lines = _top(args.profile / "processor.collapsed")
        (args.profile / "processor-top.txt").write_text("\n".join(lines) + "\n")
        print(
            f"  profile: {args.profile / 'processor.collapsed'}, "
            f"{args.profile / 'processor-top.txt'}"
        )
        print("\n".join("    " + x for x in lines[:16]))


if __name__ == "__main__":
    main()
