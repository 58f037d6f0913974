"""bench/import: `dlrecon import messages FILE` next to a plain COPY of the same rows.

Writes a CSV of N messages (default 1,000,000; the default columns of `dlrecon import`), starts
an embedded Postgres in a temporary folder, migrates it, then in the same run:

  COPY     the file into a bare table (same columns, no index, no constraint): the ceiling
  import   `dlrecon import messages FILE`: validation, normalisation, submit parsing, staging,
           messages + message_parts + matching in chunks of 5,000 rows

and prints both rates (rows/s, wall clock) and their ratio (target >= 0.5).

Usage: bench/import [--rows N] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import random
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
    postgres_version,
    write_config,
)

from receiver.importer import CSV_COLUMNS

COLUMNS = CSV_COLUMNS  # the default layout `dlrecon import messages` reads
BARE = """
CREATE TABLE bare_messages (
    provider text, channel text, client_ref text, provider_message_ids text, destination text,
    submitted_at timestamptz, segments int, value numeric, cost numeric, currency text, text text
)
"""
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
        log("COPY into a bare table")
        copy_seconds = asyncio.run(copy_bare(url, data))
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
        done = subprocess.run(command, capture_output=True, text=True, timeout=7200)
        import_seconds = time.perf_counter() - t0
        if done.returncode != 0:
            sys.exit(f"dlrecon import failed ({done.returncode}): {done.stderr[-2000:]}")
        bare, messages, parts = asyncio.run(counts(url))
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
    print()
    ok = ratio >= 0.5
    print(f"{'import / COPY':<36}{ratio:>10.3f}   target >= 0.5   {'PASS' if ok else 'FAIL'}")
    if messages != args.rows or bare != args.rows:
        print(f"!! rows stored differ from rows written ({args.rows}): figures not valid")


if __name__ == "__main__":
    main()
