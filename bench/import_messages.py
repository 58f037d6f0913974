"""bench/import: `dlrecon import messages FILE` next to a plain COPY of the same rows.

Writes a CSV of N messages (default 1,000,000; the default columns of `dlrecon import`), starts
an embedded Postgres in a temporary folder, migrates it, then in the same run:

  COPY     the file into a bare table (same columns, no index, no constraint): the ceiling
  import   `dlrecon import messages FILE`: validation and normalisation of every row, chunks of
           20,000 rows COPYed into a staging table, then set-based SQL: messages, message_parts,
           submit events, orphans matched, statuses refreshed where needed

and prints both rates (rows/s, wall clock), the CPU each took (utime+stime of the client process
and of every Postgres process) and, as ratios of COPY to the import, the target of issue 17
(import >= 0.2 x COPY, PASS/FAIL) on CPU per row and on wall clock. For reference it then times
the least any import must do, in the same database after the import:

  tables   the same rows from the bare table into messages, message_parts and events with one
           plain INSERT ... SELECT each (no validation, no staging, no ON CONFLICT), rolled back

Usage: bench/import [--rows N] [--profile DIR] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
from _common import (
    DLRECON,
    ROOT,
    embedded_postgres,
    free_port,
    log,
    machine,
    postgres_cpu,
    postgres_version,
    write_config,
)

from receiver.registration.importer import CSV_COLUMNS

COLUMNS = CSV_COLUMNS  # the default layout `dlrecon import messages` reads
BARE = """
CREATE TABLE bare_messages (
    provider text, channel text, client_ref text, provider_message_ids text, destination text,
    submitted_at timestamptz, segments int, value numeric, cost numeric, currency text, text text
)
"""
TARGET = 0.2  # import >= 0.2 x COPY (issue 17)

TEXTS = (
    "Your verification code is {n}",
    "Your order {n} has shipped and will arrive tomorrow.",
    "Reminder: your appointment is at 10:30. Reply STOP to opt out. Ref {n}",
)


def write_csv(path: Path, rows: int, seed: int = 11) -> None:
    """Messages spread over the three benchmark provider keys; ids per SMS part."""
    rng = random.Random(seed)
    start = datetime(2026, 6, 1, tzinfo=UTC)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(COLUMNS)
        for n in range(rows):
            provider = ("geniq", "hellio", "twilio")[n % 3]
            segments = 1 if n % 4 else 2
            if provider == "geniq":
                ids = [f"{rng.getrandbits(128):032X}" for _ in range(segments)]
            elif provider == "twilio":
                ids = [f"SM{rng.getrandbits(128):032x}"]
            else:
                ids = [f"{rng.getrandbits(64):016x}"]
            out.writerow(
                (
                    provider,
                    "sms",
                    f"bench-{n:08d}",
                    "|".join(ids),
                    f"+6591{rng.randrange(10**6):06d}",
                    (start + timedelta(seconds=n)).isoformat(),
                    segments,
                    "0.0500",
                    "0.0350",
                    "SGD",
                    rng.choice(TEXTS).format(n=n),
                )
            )


async def copy_bare(url: str, path: Path) -> float:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(BARE)
        started = time.perf_counter()
        await conn.copy_to_table(
            "bare_messages", source=str(path), columns=list(COLUMNS), format="csv", header=True
        )
        return time.perf_counter() - started
    finally:
        await conn.close()


# the rows of the file written to the real tables by plain set-based statements; the client refs
# and ids get a prefix so that they do not meet the imported ones
TABLES = """
INSERT INTO messages (provider_key, channel, client_ref, destination, submitted_at, body_text,
                      segments, value, cost, currency, status_at)
SELECT provider, channel, 'floor-' || client_ref, destination, submitted_at, text, segments,
       value, cost, currency, submitted_at
FROM bare_messages;
INSERT INTO message_parts (provider_key, provider_message_id, message_id, part_no)
SELECT m.provider_key, 'floor-' || u.pid, m.id, (u.ord - 1)::int
FROM bare_messages b
JOIN messages m ON m.provider_key = b.provider AND m.client_ref = 'floor-' || b.client_ref
CROSS JOIN LATERAL unnest(string_to_array(b.provider_message_ids, '|')) WITH ORDINALITY u(pid, ord);
INSERT INTO events (provider_key, source, dedupe_key, provider_message_id, raw_message_id,
                    client_ref, raw_status, status, received_at, channel, message_id, part_no,
                    matched_at)
SELECT p.provider_key, 'submit',
       'submit|msg:' || p.message_id || '|part:' || p.part_no || '|registered||',
       p.provider_message_id, p.provider_message_id, m.client_ref, 'registered', 'submitted',
       m.submitted_at, m.channel, p.message_id, p.part_no, now()
FROM message_parts p
JOIN messages m ON m.id = p.message_id
WHERE p.provider_message_id LIKE 'floor-%';
"""


async def insert_tables(url: str) -> float:
    conn = await asyncpg.connect(url)
    try:
        transaction = conn.transaction()
        await transaction.start()
        started = time.perf_counter()
        await conn.execute(TABLES)
        seconds = time.perf_counter() - started
        await transaction.rollback()
        return seconds
    finally:
        await conn.close()


async def counts(url: str) -> tuple[int, int, int]:
    conn = await asyncpg.connect(url)
    try:
        return (
            int(await conn.fetchval("SELECT count(*) FROM bare_messages")),
            int(await conn.fetchval("SELECT count(*) FROM messages")),
            int(await conn.fetchval("SELECT count(*) FROM message_parts")),
        )
    finally:
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000, help="messages (1,000,000)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument("--profile", type=Path, metavar="DIR", help="py-spy the import into DIR")
    args = parser.parse_args()
    started = datetime.now(UTC)
    host = machine()
    with embedded_postgres(keep=args.keep) as (url, folder):
        config = write_config(folder, url, free_port(), 1)
        subprocess.run(
            [str(DLRECON), "--config", str(config), "migrate"],
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=120,
        )
        data = folder / "messages.csv"
        log(f"writing {args.rows} rows to {data}")
        write_csv(data, args.rows)
        size = data.stat().st_size / 1024 / 1024
        pg_data = folder / "pg" / "pgdata"
        log("COPY into a bare table")
        pg0, self0 = postgres_cpu(pg_data), _self_cpu()
        copy_seconds = asyncio.run(copy_bare(url, data))
        copy_cpu = postgres_cpu(pg_data) - pg0 + _self_cpu() - self0
        copy_pg = postgres_cpu(pg_data) - pg0
        log("dlrecon import messages")
        command = [str(DLRECON), "--config", str(config), "import", "messages", str(data)]
        if args.profile:
            args.profile.mkdir(parents=True, exist_ok=True)
            command = [
                str(ROOT / ".venv" / "bin" / "py-spy"),
                "record",
                "--rate",
                "50",
                "--format",
                "raw",
                "--output",
                str(args.profile / "import.txt"),
                "--",
                *command,
            ]
        t0 = time.perf_counter()
        pg0, child0 = postgres_cpu(pg_data), _children_cpu()
        done = subprocess.run(command, capture_output=True, text=True, timeout=7200)
        import_seconds = time.perf_counter() - t0
        import_pg = postgres_cpu(pg_data) - pg0
        import_client = _children_cpu() - child0
        if done.returncode != 0:
            sys.exit(f"dlrecon import failed ({done.returncode}): {done.stderr[-2000:]}")
        bare, messages, parts = asyncio.run(counts(url))
        log("plain INSERT ... SELECT into messages, message_parts, events (rolled back)")
        tables_seconds = asyncio.run(insert_tables(url))
        pg = postgres_version(url)
    copy_rate = args.rows / copy_seconds
    import_rate = args.rows / import_seconds
    ratio = import_rate / copy_rate
    print()
    print(f"bench/import  {started:%Y-%m-%d %H:%M} UTC  command: {' '.join(sys.argv)}")
    print(
        f"machine: {host['cpus']} CPUs ({host['cpu']}), {host['memory']}, load at start "
        f"{host['load']}; Postgres {pg} (embedded); Python {host['python']}"
    )
    print(f"file: {args.rows} rows, {size:.0f} MiB CSV; dlrecon said: {done.stdout.strip()}")
    print()
    print(f"{'stage':<36}{'seconds':>10}{'rows/s':>12}{'rows stored':>14}")
    print(f"{'COPY into a bare table':<36}{copy_seconds:>10.1f}{copy_rate:>12.0f}{bare:>14}")
    print(
        f"{'dlrecon import messages':<36}{import_seconds:>10.1f}{import_rate:>12.0f}"
        f"{messages:>14}  ({parts} message_parts)"
    )
    tables_rate = args.rows / tables_seconds
    print(
        f"{'(least) INSERT..SELECT into tables':<36}{tables_seconds:>10.1f}{tables_rate:>12.0f}"
        f"{'-':>14}  (rolled back)"
    )
    print()
    import_cpu = import_pg + import_client
    print(f"{'CPU seconds':<36}{'client':>10}{'Postgres':>12}{'µs a row':>14}")
    print(
        f"{'COPY into a bare table':<36}{copy_cpu - copy_pg:>10.1f}{copy_pg:>12.1f}"
        f"{1e6 * copy_cpu / args.rows:>14.1f}"
    )
    print(
        f"{'dlrecon import messages':<36}{import_client:>10.1f}{import_pg:>12.1f}"
        f"{1e6 * import_cpu / args.rows:>14.1f}"
    )
    print()
    cpu_ratio = copy_cpu / import_cpu
    for title, value in (("import / COPY, CPU per row", cpu_ratio), ("import / COPY, wall", ratio)):
        verdict = "PASS" if value >= TARGET else "FAIL"
        print(f"{title:<36}{value:>10.3f}   target >= {TARGET}   {verdict}")
    if messages != args.rows or bare != args.rows:
        print(f"!! rows stored differ from rows written ({args.rows}): figures not valid")


def _self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _children_cpu() -> float:
    """CPU of the children this process has waited for (the `dlrecon import` process)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
