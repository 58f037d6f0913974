"""bench/inbox_designs.py: what recording the processor's progress costs, three ways.

N inbox-shaped rows (the columns and the body size of bench/processor's mix) are stored, then
marked processed in batches of 500, each batch its own transaction, in a fresh embedded
Postgres:

  update    the schema before migration 0010: `UPDATE inbox SET state = 'processed', ...`
            with `state` in partial-index predicates (inbox_pending, inbox_not_processed,
            inbox_attention) - no update can be HOT
  hot       the same columns, no index mentions `state` (a queue table finds pending rows),
            fillfactor 70 so that the new row versions fit on their page: HOT updates
  queue     migration 0010: the row is never updated; its entry in `inbox_queue` is deleted

For each: the time of storing the rows (batches of 500, with the queue entries where there is
a queue), the time of the marking, the WAL the marking wrote, the HOT share of its updates and the
size (heap + indexes + TOAST) of the tables after, per row.

Usage: .venv/bin/python bench/inbox_designs.py [--rows N]
"""

from __future__ import annotations

import argparse
import asyncio
import time

import asyncpg
from _common import embedded_postgres, log, machine

COLUMNS = """
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    provider_key text NOT NULL, method text NOT NULL, path text NOT NULL,
    query text NOT NULL DEFAULT '', headers jsonb NOT NULL, body bytea NOT NULL,
    remote_addr text, verification text NOT NULL, verification_reason text,
    received_at timestamptz NOT NULL, source text NOT NULL DEFAULT 'callback',
    poll_request jsonb, response_status int
"""
STATE = """, state text NOT NULL DEFAULT 'pending', state_reason text,
    processed_at timestamptz, event_count int"""

SCHEMAS = {
    "update": [
        f"CREATE TABLE t ({COLUMNS}{STATE})",
        "CREATE INDEX ON t (id) WHERE state = 'pending'",
        "CREATE INDEX ON t (provider_key, received_at)",
        "CREATE INDEX ON t (state, id) WHERE state IN ('quarantined', 'held')",
        "CREATE INDEX ON t (provider_key, received_at) WHERE state IN ('quarantined', 'held')",
    ],
    "hot": [
        f"CREATE TABLE t ({COLUMNS}{STATE}) WITH (fillfactor = 70)",
        "CREATE INDEX ON t (provider_key, received_at)",
        "CREATE TABLE q (id bigint PRIMARY KEY, received_at timestamptz NOT NULL)",
    ],
    "queue": [
        f"CREATE TABLE t ({COLUMNS})",
        "CREATE INDEX ON t (provider_key, received_at)",
        "CREATE TABLE q (id bigint PRIMARY KEY, received_at timestamptz NOT NULL)",
    ],
}

MARK = {
    "update": "UPDATE t SET state = 'processed', processed_at = now(), event_count = 1"
    " WHERE id = ANY($1::bigint[])",
    "hot": "WITH d AS (DELETE FROM q WHERE id = ANY($1::bigint[]))"
    " UPDATE t SET state = 'processed', processed_at = now(), event_count = 1"
    " WHERE id = ANY($1::bigint[])",
    "queue": "DELETE FROM q WHERE id = ANY($1::bigint[])",
}

FILL = """
INSERT INTO t (provider_key, method, path, query, headers, body, remote_addr, verification,
               received_at)
SELECT 'hellio', 'POST', '/v1/callbacks/hellio', '',
       jsonb_build_object('host', '127.0.0.1', 'user-agent', 'Hellio-Webhooks/2.0',
                          'content-type', 'application/json', 'x-hellio-timestamp', '1764650000',
                          'x-hellio-signature-v2', md5(g::text) || md5(g::text)),
       convert_to('{"event": "message.delivered", "mobile_number": "+23324' || g
                  || '", "provider_message_id": "' || md5(g::text) || '", "status": '
                  || '"delivered", "timestamp": "2026-12-02T06:00:00+00:00"}', 'UTF8'),
       '127.0.0.1', 'verified', now()
FROM generate_series(1, $1::int) AS g
"""


async def one(url: str, design: str, rows: int) -> dict[str, float]:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP TABLE IF EXISTS t, q")
        for statement in SCHEMAS[design]:
            await conn.execute(statement)
        t_store = time.perf_counter()
        for start in range(0, rows, 500):  # stored as the writer does: batches of 500
            n = min(500, rows - start)
            async with conn.transaction():
                if design == "update":
                    await conn.execute(FILL, n)
                else:
                    await conn.execute(
                        f"WITH r AS ({FILL} RETURNING id, received_at)"
                        " INSERT INTO q SELECT id, received_at FROM r",
                        n,
                    )
        store_seconds = time.perf_counter() - t_store
        await conn.execute("VACUUM ANALYZE t")
        await conn.execute("CHECKPOINT")
        lsn0 = await conn.fetchval("SELECT pg_current_wal_lsn()")
        t0 = time.perf_counter()
        for start in range(1, rows + 1, 500):
            async with conn.transaction():
                await conn.execute(MARK[design], list(range(start, min(start + 500, rows + 1))))
        seconds = time.perf_counter() - t0
        wal = await conn.fetchval("SELECT pg_current_wal_lsn() - $1::pg_lsn", lsn0)
        await asyncio.sleep(1)  # let the statistics collector catch up
        stats = await conn.fetchrow(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 't'"
        )
        size = await conn.fetchval(
            "SELECT pg_total_relation_size('t') + coalesce(pg_total_relation_size("
            "to_regclass('q')), 0)"
        )
        return {
            "store_us_per_row": 1e6 * store_seconds / rows,
            "us_per_row": 1e6 * seconds / rows,
            "wal_per_row": float(wal) / rows,
            "hot": (stats["n_tup_hot_upd"] / stats["n_tup_upd"]) if stats["n_tup_upd"] else 0.0,
            "bytes_per_row": size / rows,
        }
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    info = machine()
    with embedded_postgres() as (url, _):
        results = {}
        for design in SCHEMAS:
            log(f"{design}: {args.rows} rows")
            results[design] = asyncio.run(one(url, design, args.rows))
    print(f"bench/inbox_designs ({args.rows} rows, batches of 500; load {info['load']})")
    for design, r in results.items():
        print(
            f"  {design:7s} storing {r['store_us_per_row']:5.1f} us/row, marking"
            f" {r['us_per_row']:5.1f} us/row, WAL {r['wal_per_row']:6.0f}"
            f" bytes/row, HOT {100 * r['hot']:3.0f} %, tables after {r['bytes_per_row']:5.0f}"
            " bytes/row"
        )


if __name__ == "__main__":
    main()
