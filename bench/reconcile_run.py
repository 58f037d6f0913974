"""bench/reconcile: a full reconciliation run next to a bare aggregate over the same tables.

Builds, in a fresh embedded Postgres: N messages (default 1,000,000) with 3 events each, a rate
card of 2,000 prefixes and an invoice of 1,000,000 lines, with problems planted at known rates
(see PLANTED). Then, in the same run:

  invoice   `dlrecon import invoice` of the 1,000,000-line file, next to a plain COPY of the same
            file into a bare table (target: import >= 0.3 x COPY)
  aggregate one GROUP BY provider, status with sums over messages, events and invoice lines
            (before and after the run; their mean is the reference)
  run       `dlrecon reconcile` over the whole window, as a process of its own: wall time, its
            own duration, per rule, and the peak RSS of that process (target: run <= 5 x the
            aggregate, RSS < 250 MB); the findings per rule next to what was planted
  indexes   what the indexes and the column reconciliation adds cost the ingest path: batches
            of `insert_events` with them and without them, alternately, rolled back

Usage: bench/reconcile [--messages N] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from _common import DLRECON, ROOT, embedded_postgres, free_port, log, machine, postgres_version
from _common import write_config as write_base_config

sys.path.insert(0, str(ROOT))
from receiver.db import queries

# per mille of the messages, by `n % 1000` (the rest: delivered, billed at the rate card price)
PLANTED = {
    "failed (charged, accepted at submit)": range(0, 20),
    "open (sent, never final)": range(20, 30),
    "pass-through NA (open)": range(30, 35),
    "sold below cost": range(35, 40),
    "invoiced 0.0200 above the rate card": range(40, 50),
    "delivered, not invoiced": range(50, 55),
    "invoiced twice": range(55, 60),
    "emoji text registered as 1 segment": range(60, 65),
    "repeats the message before it 30 s later": range(66, 67),
    "delivered and failed": range(67, 68),
    "no price (hellio: no rate card, no invoice)": range(68, 69),
}

SETUP = r"""
CREATE TEMP TABLE n_cat AS
SELECT n, n % 1000 AS k FROM generate_series(1, $1::int) AS n;
"""

# destinations: half match a 4-digit prefix (+1000..+1998), half a 6-digit one (+200000..
# +200999, also under the 2-digit +20); hellio's have no rate card (+999)
MESSAGES = r"""
INSERT INTO messages (id, provider_key, channel, client_ref, destination, submitted_at,
                      registered_at, body_text, segments, value, cost, currency, status, final,
                      status_at, error_code, error_class, conflict, updated_at)
OVERRIDING SYSTEM VALUE
SELECT c.n, CASE WHEN c.k = 68 THEN 'hellio' ELSE 'geniq' END, 'sms', 'ref-' || c.n,
       d.dest, t.sent,
       $1::timestamptz,
       CASE WHEN c.k BETWEEN 60 AND 64
                THEN 'Thanks for your order ' || c.n
                     || '! It ships tomorrow and arrives in 2-3 days. Track it online. 😀'
            WHEN c.k = 66 THEN 'Your code is ' || (c.n - 1)
            WHEN c.n % 5 = 0 THEN repeat('Long message part ' || c.n || '. ', 8)
            ELSE 'Your code is ' || c.n END,
       CASE WHEN c.n % 5 = 0 AND c.k NOT BETWEEN 60 AND 64 THEN 2 ELSE 1 END,
       CASE WHEN c.k BETWEEN 35 AND 39 THEN 0.0010 ELSE 0.2000 END, NULL, 'SGD',
       s.status, s.status IN ('delivered', 'failed'), t.sent + interval '30 seconds',
       CASE WHEN s.status = 'failed' THEN 'UNDELIV' END,
       CASE WHEN s.status = 'failed' THEN 'recipient' END,
       c.k = 67, $1::timestamptz
FROM n_cat c
CROSS JOIN LATERAL (SELECT $2::timestamptz + (c.n - 1) * $3::interval AS sent) t
CROSS JOIN LATERAL (
    SELECT CASE WHEN c.k = 68 THEN '+999' || lpad(c.n::text, 9, '0')
                WHEN c.n % 2 = 0
                    THEN '+1' || (1000 + c.n % 999)::text || lpad((c.n % 9999999)::text, 7, '0')
                ELSE '+200' || lpad((c.n % 1000)::text, 3, '0')
                     || lpad((c.n % 999999)::text, 6, '0')
           END AS dest
) d
CROSS JOIN LATERAL (
    SELECT CASE WHEN c.k < 20 THEN 'failed' WHEN c.k BETWEEN 20 AND 29 THEN 'sent'
                WHEN c.k BETWEEN 30 AND 34 THEN 'unknown' ELSE 'delivered' END AS status
) s
"""
# the duplicate (k = 66): the text of the message before it, to its destination, 30 s later
FIX_DUPLICATES = r"""
UPDATE messages m SET submitted_at = p.submitted_at + interval '30 seconds',
                      status_at = p.submitted_at + interval '60 seconds',
                      destination = p.destination, body_text = p.body_text, segments = p.segments
FROM messages p
WHERE m.id % 1000 = 66 AND p.id = m.id - 1
"""
PARTS = r"""
INSERT INTO message_parts (provider_key, provider_message_id, message_id, part_no)
SELECT provider_key, 'P' || id, id, 0 FROM messages
"""
# three events per message: the submit outcome, an intermediate one, the last one
EVENTS = r"""
INSERT INTO events (provider_key, source, dedupe_key, provider_message_id, raw_message_id,
                    raw_status, status, provider_time, received_at, message_id, part_no,
                    matched_at, created_at, details, error_code)
SELECT m.provider_key, e.source, e.source || '|id:P' || m.id || '|' || e.raw || '|' || e.seq,
       'P' || m.id, 'P' || m.id, e.raw, e.status, m.submitted_at + e.after,
       m.submitted_at + e.after,
       m.id, 0, $1::timestamptz, $1::timestamptz, e.details, e.code
FROM messages m
CROSS JOIN LATERAL (
    VALUES
        (1, 'submit', CASE WHEN m.status = 'unknown' THEN 'NA' ELSE '0' END,
         CASE WHEN m.status = 'unknown' THEN 'unknown' ELSE 'accepted' END, interval '0',
         CASE WHEN m.status = 'unknown'
              THEN '{"downstream": "pass-through status", "downstream_status": "NA"}'::jsonb
              ELSE '{}'::jsonb END, NULL),
        (2, 'callback', 'ENROUTE', 'sent', interval '5 seconds', '{}'::jsonb, NULL),
        (3, 'callback',
         CASE WHEN m.conflict THEN 'UNDELIV' WHEN m.final THEN upper(m.status) ELSE 'ACCEPTD' END,
         CASE WHEN m.conflict THEN 'failed' WHEN m.final THEN m.status ELSE 'sent' END,
         interval '20 seconds', '{}'::jsonb, m.error_code)
) e(seq, source, raw, status, after, details, code)
"""
# the delivered report of a conflicting message, after its failed one
CONFLICTS = r"""
INSERT INTO events (provider_key, source, dedupe_key, provider_message_id, raw_message_id,
                    raw_status, status, provider_time, received_at, message_id, part_no,
                    matched_at, created_at)
SELECT provider_key, 'callback', 'id:P' || id || '|DELIVRD|4', 'P' || id, 'P' || id, 'DELIVRD',
       'delivered', submitted_at + interval '30 seconds', submitted_at + interval '30 seconds',
       id, 0, $1::timestamptz, $1::timestamptz
FROM messages WHERE conflict
"""
ORPHANS = r"""
INSERT INTO events (provider_key, source, dedupe_key, provider_message_id, raw_message_id,
                    raw_status, status, received_at, created_at)
SELECT 'geniq', 'callback', 'id:X' || n || '|DELIVRD', 'X' || n, 'X' || n, 'DELIVRD', 'delivered',
       $2::timestamptz - interval '2 hours' - n * interval '1 second', $2::timestamptz
FROM generate_series(1, $1::int / 1000) AS n
"""
RATE_CARD = r"""
SELECT 'geniq', 'sms', p, to_char(0.0100 + (length(p) * 7 + p::bigint % 13) / 10000.0, 'FM0.0000'),
       'SGD', '2020-01-01', ''
FROM (SELECT (1000 + n)::text AS p FROM generate_series(0, 998) AS n
      UNION ALL SELECT '20'
      UNION ALL SELECT (200000 + n)::text FROM generate_series(0, 999) AS n) prefixes
ORDER BY p
"""
# one line per billed message (the price of its longest prefix times its segments), a second
# line for those billed twice, 0.0200 more for the mismatches, then lines for unknown ids
INVOICE = r"""
WITH priced AS (
    SELECT m.id, m.submitted_at, m.destination, m.id % 1000 AS k,
           CASE WHEN m.body_text LIKE '%😀' THEN 2 ELSE m.segments END AS billed_segments,
           r.price_per_segment AS price
    FROM messages m
    JOIN rate_cards r
      ON r.prefix = CASE WHEN m.destination LIKE '+1%' THEN substr(m.destination, 2, 4)
                         ELSE substr(m.destination, 2, 6) END
    WHERE m.status = 'delivered' AND m.provider_key = 'geniq' AND m.id % 1000 NOT BETWEEN 50 AND 54
),
lines AS (
    SELECT 'P' || id AS pid, submitted_at, destination, billed_segments,
           price * billed_segments + CASE WHEN k BETWEEN 40 AND 49 THEN 0.0200 ELSE 0 END AS amount,
           id AS sort
    FROM priced
    UNION ALL
    SELECT 'P' || id, submitted_at, destination, billed_segments, price * billed_segments, id + 0.5
    FROM priced WHERE k BETWEEN 55 AND 59
)
SELECT pid, '', to_char(submitted_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'), destination,
       billed_segments, amount::text, 'SGD'
FROM lines
ORDER BY sort
"""
AGGREGATE = r"""
SELECT provider_key, status, count(*), sum(value), sum(cost) FROM messages GROUP BY 1, 2
UNION ALL
SELECT provider_key, status, count(*), sum(cost), NULL FROM events GROUP BY 1, 2
UNION ALL
SELECT provider_key, currency, count(*), sum(amount), NULL FROM invoice_lines GROUP BY 1, 2
"""
BARE_INVOICE = """
CREATE TABLE bare_invoice (provider_message_id text, client_ref text, billed_at text,
                           destination text, segments text, amount text, currency text)
"""
RECONCILE_INDEXES = ("events_seen_at", "events_downstream")


def write_config(folder: Path, url: str) -> Path:
    path = write_base_config(folder, url, free_port(), 1)
    text = path.read_text().replace("processes = 0\n", 'processes = 0\nwork_mem = "128MB"\n')
    path.write_text(text + '\n[providers.velip]\nverify = "off"\n')
    return path


async def build(url: str, folder: Path, messages: int) -> tuple[Path, Path, datetime, datetime]:
    conn = await asyncpg.connect(url)
    try:
        loaded_at = datetime.now(UTC).replace(microsecond=0)
        span = timedelta(days=30)
        start = loaded_at - span - timedelta(hours=1)
        step = span / messages
        began = time.perf_counter()
        await conn.execute(SETUP, messages)
        await conn.execute(MESSAGES, loaded_at, start, step)
        await conn.execute(FIX_DUPLICATES)
        await conn.execute(PARTS)
        await conn.execute(EVENTS, loaded_at)
        await conn.execute(CONFLICTS, loaded_at)
        await conn.execute(ORPHANS, messages, loaded_at)
        await conn.execute("SELECT setval(pg_get_serial_sequence('messages', 'id'), $1)", messages)
        await conn.execute("ANALYZE")  # fresh tables: without statistics, plans are guesses
        log(f"messages and events written in {time.perf_counter() - began:.0f} s")
        rates = folder / "rates.csv"
        with open(rates, "wb") as handle:  # noqa: ASYNC230 (a script: nothing else waits)
            handle.write(
                b"provider,channel,prefix,price_per_segment,currency,valid_from,valid_to\n"
            )
            await conn.copy_from_query(RATE_CARD, output=handle, format="csv")
    finally:
        await conn.close()
    return rates, folder / "invoice.csv", loaded_at, start


async def write_invoice(url: str, path: Path, lines: int) -> int:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ANALYZE rate_cards")
        with open(path, "wb") as handle:  # noqa: ASYNC230 (a script: nothing else waits)
            handle.write(
                b"provider_message_id,client_ref,billed_at,destination,segments,amount,currency\n"
            )
            await conn.copy_from_query(INVOICE, output=handle, format="csv")
        billed = count_lines(path)
        unknown = max(lines - billed, 0)
        at = await conn.fetchval("SELECT max(submitted_at) - interval '1 day' FROM messages")
        with open(path, "a") as handle:  # noqa: ASYNC230 (a script: nothing else waits)
            stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            for n in range(unknown):
                handle.write(f"u{n},,{stamp},+10000000000,1,0.0150,SGD\n")
        return unknown
    finally:
        await conn.close()


def count_lines(path: Path) -> int:
    """Data lines of a CSV file (the header not counted)."""
    with open(path, "rb") as handle:
        return sum(1 for _ in handle) - 1


LAST_USAGE: dict[str, float] = {}


def run_cli(config: Path, *args: str) -> tuple[float, int, str, str]:
    """(wall seconds, peak RSS of that process in MB, stdout, stderr); its CPU seconds are left
    in LAST_USAGE["cpu"]."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        proc = subprocess.Popen(
            [str(DLRECON), "--config", str(config), *args], stdout=out, stderr=err
        )
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - began
        LAST_USAGE["cpu"] = usage.ru_utime + usage.ru_stime
        code = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    if code not in (0, 1):
        sys.exit(f"dlrecon {' '.join(args)} failed ({code}):\n{stderr[-3000:]}")
    return elapsed, usage.ru_maxrss // 1024, stdout, stderr


def postgres_cpu(folder: Path) -> float:
    """CPU seconds of this benchmark's Postgres so far: the postmaster, its live processes and
    the backends it has reaped (their time is in its children's times)."""
    import psutil

    [pid_file] = list(folder.rglob("postmaster.pid"))
    postmaster = psutil.Process(int(pid_file.read_text().split()[0]))
    own = postmaster.cpu_times()
    total = own.user + own.system + own.children_user + own.children_system
    for child in postmaster.children(recursive=True):
        with contextlib.suppress(psutil.Error):
            t = child.cpu_times()
            total += t.user + t.system
    return total


def finance_report(
    config: Path, folder: Path, window_from: datetime, as_of: datetime
) -> dict[str, float]:
    """`dlrecon report finance --format json` over the whole window (after the run, so with
    its amounts at stake): wall, the process's CPU, Postgres's CPU, peak RSS."""
    pg_before = postgres_cpu(folder)
    seconds, rss, _, _ = run_cli(
        config,
        "report",
        "finance",
        "--from",
        window_from.date().isoformat(),
        "--to",
        (as_of.date() + timedelta(days=1)).isoformat(),
        "--format",
        "json",
        "--output",
        str(folder / "report.json"),
    )
    return {
        "wall": seconds,
        "cpu": LAST_USAGE["cpu"],
        "postgres": postgres_cpu(folder) - pg_before,
        "rss": rss,
    }


async def vacuum(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("DROP TABLE bare_invoice")
        await conn.execute("VACUUM ANALYZE")
    finally:
        await conn.close()


async def timed(url: str, query: str, *args: object) -> float:
    conn = await asyncpg.connect(url)
    try:
        began = time.perf_counter()
        await conn.fetch(query, *args)
        return time.perf_counter() - began
    finally:
        await conn.close()


async def copy_bare(url: str, path: Path) -> float:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(BARE_INVOICE)
        began = time.perf_counter()
        await conn.copy_to_table("bare_invoice", source=str(path), format="csv", header=True)
        return time.perf_counter() - began
    finally:
        await conn.close()


async def expected_findings(url: str, as_of: datetime, loaded_at: datetime) -> dict[str, str]:
    conn = await asyncpg.connect(url)
    try:

        def k(lo: int, hi: int) -> str:
            return f"(SELECT count(*) FROM messages WHERE id % 1000 BETWEEN {lo} AND {hi})"

        q = {
            "charged_not_delivered": k(0, 19),
            "downstream_failure": f"{k(0, 19)} + {k(30, 34)}",
            "negative_margin": k(35, 39),
            "cost_mismatch": k(40, 49),
            "sent_not_billed": k(50, 54),
            "billed_twice": k(55, 59),
            "segment_mismatch": k(60, 64),
            "duplicate_send": k(66, 66),
            "status_conflict": k(67, 67),
            "unpriced": "(SELECT count(*) FROM messages WHERE id % 1000 = 68"
            " AND submitted_at <= $1::timestamptz - interval '24 hours')",
            "orphan_event": "(SELECT count(*) FROM events WHERE message_id IS NULL)",
            "billed_not_sent": "(SELECT count(*) FROM invoice_lines"
            " WHERE raw_message_id LIKE 'u%')",
            "stuck": "(SELECT count(*) FROM messages WHERE NOT final"
            " AND submitted_at < $1::timestamptz - interval '30 seconds')",
            "currency_mismatch": "0",
        }
        row = await conn.fetchrow(
            "SELECT " + ", ".join(f"{v} AS {name}" for name, v in q.items()), as_of
        )
        assert row is not None
        notes = {"stuck": "open longer than the learned threshold (30 s: every final took 30 s)"}
        return {
            name: f"{row[name]}" + (f"  ({notes[name]})" if name in notes else "") for name in q
        }
    finally:
        await conn.close()


async def index_cost(
    url: str, rounds: int = 6, rows: int = 50_000
) -> tuple[list[float], list[float]]:
    """Seconds per `rows` events inserted with `insert_events` in batches of 500, with the
    reconciliation's indexes and without (alternately; each round rolled back)."""
    conn = await asyncpg.connect(url)
    with_ix: list[float] = []
    without: list[float] = []
    definitions = {
        r["indexname"]: r["indexdef"]
        for r in await conn.fetch(
            "SELECT indexname, indexdef FROM pg_indexes WHERE indexname = ANY($1)",
            list(RECONCILE_INDEXES),
        )
    }
    sql_text = queries.get("insert_events")
    now = datetime.now(UTC)
    try:
        for r in range(rounds):
            drop = r % 2 == 1
            tx = conn.transaction()
            await tx.start()
            if drop:
                for name in definitions:
                    await conn.execute(f"DROP INDEX {name}")
                await conn.execute("ALTER TABLE events ALTER COLUMN created_at DROP DEFAULT")
            began = time.perf_counter()
            for b in range(rows // 500):
                ids = [f"bench-{r}-{b}-{i}" for i in range(500)]
                n = len(ids)
                await conn.fetch(
                    sql_text,
                    ["geniq"] * n,
                    ["callback"] * n,
                    [None] * n,
                    [f"id:{i}|DELIVRD||" for i in ids],
                    ids,
                    ids,
                    [None] * n,
                    ["DELIVRD"] * n,
                    ["delivered"] * n,
                    [None] * n,
                    [None] * n,
                    [None] * n,
                    [None] * n,
                    [now] * n,
                    [now] * n,
                    [None] * n,
                    [None] * n,
                    [None] * n,
                    [None] * n,
                    ["{}"] * n,
                    [None] * n,
                    [None] * n,
                    [""] * n,
                )
            (without if drop else with_ix).append(time.perf_counter() - began)
            await tx.rollback()
    finally:
        await conn.close()
    return with_ix, without


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--lines", type=int, help="invoice lines (default: as many as messages)")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    lines = args.lines or args.messages
    info = machine()
    with embedded_postgres(args.keep) as (url, folder):
        config = write_config(folder, url)
        run_cli(config, "migrate")
        rates, invoice, loaded_at, start = asyncio.run(build(url, folder, args.messages))
        run_cli(config, "import", "ratecard", str(rates))
        unknown = asyncio.run(write_invoice(url, invoice, lines))
        written = count_lines(invoice)
        log(f"invoice of {written} lines written ({unknown} for unknown ids)")

        copy_seconds = asyncio.run(copy_bare(url, invoice))
        import_seconds, import_rss, import_out, _ = run_cli(
            config, "import", "invoice", "geniq", str(invoice), "--invoice-id", "BENCH-1"
        )
        log(f"import: {import_out.strip()}")
        asyncio.run(vacuum(url))
        time.sleep(3)  # the cut-off is then more than 2 s old: the run does not wait
        as_of = datetime.now(UTC) - timedelta(seconds=1)
        window_from, window_to = start - timedelta(days=1), as_of

        load_start = " ".join(f"{x:.2f}" for x in os.getloadavg())
        aggregate_before = asyncio.run(timed(url, AGGREGATE))
        run_seconds, run_rss, _, run_err = run_cli(
            config,
            "reconcile",
            "--from",
            window_from.isoformat(),
            "--to",
            window_to.isoformat(),
            "--as-of",
            as_of.isoformat(),
            "--format",
            "csv",
        )
        aggregate_after = asyncio.run(timed(url, AGGREGATE))
        load_end = " ".join(f"{x:.2f}" for x in os.getloadavg())
        finance = finance_report(config, folder, window_from, as_of)
        load_report = " ".join(f"{x:.2f}" for x in os.getloadavg())
        found = _found_per_rule(run_err)
        log("run progress:\n" + run_err)
        expected = asyncio.run(expected_findings(url, as_of, loaded_at))
        own = asyncio.run(_run_duration(url))
        pg_version = postgres_version(url)
        with_ix, without = asyncio.run(index_cost(url))

    report(
        info,
        pg_version,
        args.messages,
        written,
        (load_start, load_end),
        {
            "copy": copy_seconds,
            "import": import_seconds,
            "run": run_seconds,
            "own": own,
            "before": aggregate_before,
            "after": aggregate_after,
        },
        (run_rss, import_rss),
        found,
        expected,
        (with_ix, without),
    )
    aggregate = statistics.mean([aggregate_before, aggregate_after])
    print()
    print(f"finance report (load average after it {load_report})")
    print(f"{'dlrecon report finance --format json (wall)':<44}{finance['wall']:>8.1f} s")
    print(f"{'  CPU: its process':<44}{finance['cpu']:>8.1f} s")
    print(f"{'  CPU: Postgres (backends, reaped ones too)':<44}{finance['postgres']:>8.1f} s")
    print(f"{'  report (wall) / aggregate':<44}{finance['wall'] / aggregate:>10.1f}")
    print(f"{'  peak RSS of its process':<44}{finance['rss']:>7} MB")


def report(
    info: dict[str, str],
    pg_version: str,
    messages: int,
    written: int,
    loads: tuple[str, str],
    seconds: dict[str, float],
    rss: tuple[int, int],
    found: dict[str, str],
    expected: dict[str, str],
    index_rounds: tuple[list[float], list[float]],
) -> None:
    def line(label: str, value: str, target: str = "", ok: bool | None = None) -> None:
        verdict = "" if ok is None else ("PASS" if ok else "FAIL")
        print(f"{label:<44}{value:>10}   {target:<15} {verdict}".rstrip())

    print()
    print(
        f"machine: {info['cpus']} CPUs ({info['cpu']}), {info['memory']}, "
        f"Postgres {pg_version}, Python {info['python']}"
    )
    print(f"load average: at start {info['load']}, before the run {loads[0]}, after it {loads[1]}")
    events = messages * 3 + messages // 1000 * 2
    print(
        f"data: {messages} messages, {events} events, 2000 rate card prefixes, "
        f"{written} invoice lines"
    )
    print()
    copy_s, import_s = seconds["copy"], seconds["import"]
    line(
        "COPY of the invoice into a bare table", f"{copy_s:.1f} s", f"{written / copy_s:.0f} rows/s"
    )
    line("dlrecon import invoice", f"{import_s:.1f} s", f"{written / import_s:.0f} rows/s")
    ratio = copy_s / import_s
    line("import / COPY", f"{ratio:.3f}", "target >= 0.3", ratio >= 0.3)
    print()
    aggregate = statistics.mean([seconds["before"], seconds["after"]])
    line("bare aggregate (before the run)", f"{seconds['before']:.2f} s")
    line("bare aggregate (after the run)", f"{seconds['after']:.2f} s")
    line("dlrecon reconcile (its process, wall)", f"{seconds['run']:.1f} s")
    line("  the run itself (started..finished)", f"{seconds['own']:.1f} s")
    process_ratio = seconds["run"] / aggregate
    line("run (process) / aggregate", f"{process_ratio:.1f}", "target <= 5", process_ratio <= 5)
    line("run (itself) / aggregate", f"{seconds['own'] / aggregate:.1f}")
    line("peak RSS of the run's process", f"{rss[0]} MB", "target < 250", rss[0] < 250)
    line("peak RSS of the import's process", f"{rss[1]} MB")
    print()
    print(f"{'rule':<24}{'found':>9}   planted / expected")
    for rule in sorted(expected):
        print(f"{rule:<24}{found.get(rule, '-'):>9}   {expected[rule]}")
    print()
    with_ix, without = index_rounds
    w, wo = statistics.mean(with_ix), statistics.mean(without)
    print(
        "insert_events, 50,000 rows in batches of 500: with the reconciliation indexes "
        f"{w:.2f} s, without {wo:.2f} s ({(w / wo - 1) * 100:+.1f} %)"
    )
    print(
        f"  rounds with: {', '.join(f'{x:.2f}' for x in with_ix)}; "
        f"without: {', '.join(f'{x:.2f}' for x in without)}"
    )


def _found_per_rule(progress: str) -> dict[str, str]:
    found = {}
    for line in progress.splitlines():
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "findings":
            found[parts[0]] = parts[1]
    return found


async def _run_duration(url: str) -> float:
    conn = await asyncpg.connect(url)
    try:
        seconds: float = await conn.fetchval(
            "SELECT extract(epoch FROM finished_at - started_at)::float8"
            " FROM reconcile_runs ORDER BY id DESC LIMIT 1"
        )
        return seconds
    finally:
        await conn.close()


if __name__ == "__main__":
    main()
