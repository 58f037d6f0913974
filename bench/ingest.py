"""bench/ingest: the CPU a durable callback costs in dlrecon, next to the two designs it is
measured against, and every ingest target of issue 17 as a ratio to a baseline of the same run.

One run, one machine, one embedded Postgres (temporary folder); every stage is driven by wrk
with the same mix (GenIQ GET query with path token, Hellio V2-signed JSON POST, Twilio signed
form POST, 1/3 each), the same connection count and worker count. Every request of a stage is
distinct (its own provider message id: each callback is a new event, not a duplicate); a stage
that outruns its payloads sends them again and the report says which share were repeats.

  a  noop     aiohttp handler that reads and parses the body (the HTTP worker's baseline)
  b  naive    the same plus one INSERT + COMMIT per request into a copy of the inbox table
              (the total-CPU baseline: its workers and Postgres)
  c  dlrecon  `dlrecon serve --workers N`: keys that verify, group commit, processor running;
              CPU of the HTTP workers (while wrk runs), of the processor and of Postgres (until
              the processor has caught up): CPU per durable callback
  d  dlrecon  paced at 80 % of c's rate: the processor's lag when the service is not saturated
  e  dlrecon  1 MB signed bodies: peak RSS of every process with the largest bodies allowed

CPU is utime+stime of every process involved (psutil), Postgres's backends, WAL writer,
checkpointer and exited children included; less sensitive to other load than requests/s.
After d, the disk the inbox takes per stored callback (heap + indexes + TOAST, the processor
done) against the raw request bytes.

Before c, 5 s of the mix warm the server up (not measured) and the database is analyzed, and
it is analyzed again between c and d: c and d then measure a service that has been running, not
a first burst planned for empty tables (`--no-analyze` leaves both out).

Usage: bench/ingest [--duration S] [--connections C] [--workers N] [--quick] [--profile DIR]
                    [--only STAGE ...] [--no-analyze] [--keep]
wrk is Debian's `wrk` package (installed with apt-get when missing and run as root).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import re
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import psutil
from _common import (
    DLRECON,
    GENIQ_TOKEN,
    PYTHON,
    ROOT,
    Callback,
    cpu_of,
    embedded_postgres,
    ensure_tool,
    free_port,
    geniq_callback,
    hellio_callback,
    log,
    machine,
    postgres_cpu,
    postgres_version,
    stop_process,
    twilio_callback,
    wait_for_port,
)

sys.path.insert(0, str(ROOT))
from receiver.db import inbox as inbox_db

BENCH = Path(__file__).resolve().parent
TAIL = 1.0  # seconds at the end of each wrk run with no new request (every request answered)
SAMPLE = 0.5  # seconds between lag / RSS samples
CEILING = 9000  # callbacks/s dlrecon cannot pass here: payloads per second of a stage
BIG_BODY = 1_000_000  # bytes of stage e's bodies (max_body_bytes is 1 MiB)
BIG_PAYLOADS = 40

TARGETS = {
    "total": 0.5,  # total CPU per durable callback <= 0.5 x naive
    "worker": 2.0,  # HTTP worker CPU per callback <= 2 x noop
    "disk_factor": 1.5,  # bytes per stored callback <= 1.5 x raw + 200
    "disk_extra": 200,
    "processor_rows": 30000,  # rows per CPU second of the processor process
    "lag80_s": 1.0,
    "rss_mb": 250.0,
}


# ---- payloads -------------------------------------------------------------------------------


def _http(method: str, target: str, port: int, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


def _request(callback: Callback, port: int) -> bytes:
    target = f"{callback.path}?{callback.query}" if callback.query else callback.path
    return _http(callback.method, target, port, callback.headers, callback.body)


def geniq(port: int, rng: random.Random) -> bytes:
    return _request(geniq_callback(rng, f"{rng.getrandbits(128):032X}", GENIQ_TOKEN), port)


def hellio(port: int, rng: random.Random, stamp: int, pad: int = 0) -> bytes:
    return _request(hellio_callback(rng, f"{rng.getrandbits(64):016x}", stamp, pad), port)


def twilio(port: int, rng: random.Random) -> bytes:
    return _request(twilio_callback(rng, f"SM{rng.getrandbits(128):032x}"), port)


def build_mix(port: int, count: int, seed: int = 7) -> list[bytes]:
    """`count` distinct requests (each its own message id), the three shapes interleaved;
    Hellio signed with the time of now (its tolerance is 5 minutes: built just before use)."""
    rng = random.Random(seed)
    stamp = int(time.time())
    makers = (lambda: geniq(port, rng), lambda: hellio(port, rng, stamp), lambda: twilio(port, rng))
    return [makers[i % 3]() for i in range(count)]


def build_big(port: int, count: int = BIG_PAYLOADS, seed: int = 9) -> list[bytes]:
    """Hellio callbacks of about `BIG_BODY` bytes each (signed; the processor parses them)."""
    rng = random.Random(seed)
    stamp = int(time.time())
    return [hellio(port, rng, stamp, pad=BIG_BODY) for _ in range(count)]


def write_payloads(path: Path, requests: list[bytes]) -> Path:
    """The requests one after the other, their lengths in `path.idx` (read by mix.lua)."""
    with open(path, "wb") as out:
        for r in requests:
            out.write(r)
    path.with_name(path.name + ".idx").write_text("".join(f"{len(r)}\n" for r in requests))
    return path


def payload_count(duration: float, rate: float = CEILING) -> int:
    return max(3000, math.ceil(rate * max(2, round(duration))))


def preflight(port: int, requests: list[bytes]) -> None:
    """Send one request of each shape over a plain socket; every one must get a 2xx."""
    import socket

    for raw in requests:
        with socket.create_connection(("127.0.0.1", port), 10) as s:
            s.sendall(raw.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1))
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        status = answer.split(b"\r\n", 1)[0].decode(errors="replace")
        if " 2" not in status:
            first = raw.split(b"\r\n", 1)[0].decode()[:120]
            sys.exit(f"preflight failed: {first} -> {status}\n{answer[-400:]!r}")


# ---- measuring ------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    wrk: dict[str, float] = field(default_factory=dict)
    active_seconds: float = 0.0
    stored: int | None = None
    lag: list[float] = field(default_factory=list)
    rss_mb: dict[str, float] = field(default_factory=dict)  # process label -> peak MB
    drain_seconds: float | None = None
    target_rate: float | None = None
    worker_cpu: float = 0.0  # the HTTP workers, while wrk ran
    processor_cpu: float = 0.0  # the processor process, until it had caught up
    pg_cpu: float = 0.0  # Postgres, all its processes, until the processor had caught up
    total_cpu: float = 0.0  # everything above, workers included until caught up

    @property
    def rate(self) -> float:
        return self.wrk["answered"] / self.active_seconds

    @property
    def acked(self) -> int:
        return int(self.wrk["answered"] - self.wrk["non2xx"])

    @property
    def cut_off(self) -> int:
        return int(self.wrk["sent"] - self.wrk["answered"])

    @property
    def balanced(self) -> bool:
        return self.stored is None or (self.stored == self.acked and self.cut_off == 0)

    @property
    def repeated_share(self) -> float:
        return self.wrk.get("repeated", 0) / max(1, self.wrk["sent"])

    def per(self, seconds: float) -> float:
        """Microseconds of CPU per acknowledged callback."""
        return 1e6 * seconds / max(1, self.acked)

    def ms(self, key: str) -> float:
        return self.wrk[key] / 1000


@dataclass
class Server:
    """The processes of one server under test, by role."""

    workers: list[psutil.Process]
    processor: list[psutil.Process] = field(default_factory=list)

    @property
    def labelled(self) -> list[tuple[str, psutil.Process]]:
        return [(f"worker {n}", p) for n, p in enumerate(self.workers, 1)] + [
            ("processor", p) for p in self.processor
        ]


async def pending_lag(conn: asyncpg.Connection) -> float:
    """Age of the oldest unprocessed inbox row, as the processor's own metric reads it."""
    return await inbox_db.lag_seconds(conn)


def children(server: subprocess.Popen[bytes]) -> list[psutil.Process]:
    try:
        parent = psutil.Process(server.pid)
        found = [c for c in parent.children() if "resource_tracker" not in " ".join(c.cmdline())]
    except psutil.Error:
        return []
    return found or [parent]


def roles(server: subprocess.Popen[bytes], port: int) -> Server:
    """`serve`'s children: those listening on the port are HTTP workers, the rest (the
    processor; the benchmark configures no poller or reconciler) the processor."""
    workers, others = [], []
    for p in children(server):
        try:
            listening = any(
                c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port
                for c in p.net_connections(kind="tcp")
            )
        except psutil.Error:
            continue
        (workers if listening else others).append(p)
    return Server(workers, others)


def cpu(processes: list[psutil.Process]) -> float:
    return cpu_of(processes)


def sample_rss(result: Result, server: Server) -> None:
    for label, p in server.labelled:
        with contextlib.suppress(psutil.Error):
            mb = p.memory_info().rss / 1024 / 1024
            result.rss_mb[label] = max(result.rss_mb.get(label, 0.0), mb)


async def run_wrk(
    wrk: str,
    port: int,
    payloads: Path,
    *,
    duration: float,
    connections: int,
    threads: int,
    rate: float = 0.0,
    db_url: str | None = None,
    server: Server,
    pg_data: Path,
    result: Result,
    timeout: str = "10s",
) -> Result:
    """One wrk run; CPU of the workers and of Postgres over it (and of the processor, which
    the caller measures on until it has caught up)."""
    seconds = max(2, round(duration))
    command = [
        wrk,
        *("-t", str(threads), "-c", str(connections), "-d", f"{seconds}s", "--timeout", timeout),
        *("-s", str(BENCH / "mix.lua"), f"http://127.0.0.1:{port}", "--"),
        *(str(payloads), str(seconds), str(TAIL), f"{rate:.3f}", str(threads)),
    ]
    conn = await asyncpg.connect(db_url) if db_url else None
    workers_before = cpu(server.workers)
    pg_before = postgres_cpu(pg_data)
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    communicate = asyncio.ensure_future(proc.communicate())
    deadline = time.monotonic() + seconds + 60
    try:
        while not communicate.done() and time.monotonic() < deadline:
            if conn is not None:
                result.lag.append(await pending_lag(conn))
            sample_rss(result, server)
            await asyncio.wait([communicate], timeout=SAMPLE)
        if not communicate.done():
            proc.kill()
            sys.exit("wrk did not finish in time")
        stdout, stderr = communicate.result()
        result.worker_cpu = cpu(server.workers) - workers_before
        result.pg_cpu = postgres_cpu(pg_data) - pg_before
    finally:
        if conn is not None:
            await conn.close()
    match = re.search(rb"BENCH_JSON (\{.*\})", stdout)
    if proc.returncode != 0 or match is None:
        sys.exit(f"wrk failed ({proc.returncode}): {stdout.decode()} {stderr.decode()}")
    result.wrk = json.loads(match.group(1))
    result.active_seconds = seconds - TAIL
    return result


async def measured_until_drained(
    url: str, pg_data: Path, server: Server, result: Result, run: Any
) -> None:
    """`run()` (a wrk run), then wait until the processor has caught up; the processor's CPU,
    Postgres's and the total are counted from the start of the run to that point."""
    processor_before = cpu(server.processor)
    all_before = cpu(server.workers) + processor_before
    pg_before = postgres_cpu(pg_data)
    await run()
    result.drain_seconds = await wait_drained(url, 300)
    result.processor_cpu = cpu(server.processor) - processor_before
    pg = postgres_cpu(pg_data) - pg_before
    result.pg_cpu = pg
    result.total_cpu = cpu(server.workers) + cpu(server.processor) - all_before + pg


def batch_figures(port: int) -> tuple[float, float]:
    """(batches, rows) the group commit has written so far, from `serve`'s /metrics."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as r:
        text = r.read().decode()
    found = {"_count": 0.0, "_sum": 0.0}
    for line in text.splitlines():
        for suffix in found:
            if line.startswith(f"dlrecon_inbox_batch_size{suffix}"):
                found[suffix] += float(line.rsplit(" ", 1)[1])
    return found["_count"], found["_sum"]


async def one_value(url: str, sql: str, *args: object) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def execute(url: str, sql: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def count_rows(url: str, table: str, after_id: int = 0) -> int:
    return int(await one_value(url, f"SELECT count(*) FROM {table} WHERE id > $1", after_id))


async def max_id(url: str, table: str) -> int:
    return int(await one_value(url, f"SELECT coalesce(max(id), 0) FROM {table}"))


async def wait_drained(url: str, limit: float) -> float | None:
    """Seconds until no inbox row is waiting for the processor (None if some still are after
    `limit`)."""
    conn = await asyncpg.connect(url)
    started = time.monotonic()
    try:
        while time.monotonic() - started < limit:
            if not await pending_lag(conn):
                return time.monotonic() - started
            await asyncio.sleep(0.1)
        return None
    finally:
        await conn.close()


async def checkpoint(url: str) -> None:
    await execute(url, "CHECKPOINT")


# the relations that hold stored callbacks, whichever schema the database has: the inbox table
# (or, since issue 17, `inbox_requests` behind an `inbox` view, with its small queue and
# exception tables), each with its partitions
INBOX_SIZE = """
WITH roots AS (
    SELECT oid, relkind FROM pg_class
    WHERE relname = ANY($1::text[]) AND relkind IN ('r', 'p') AND NOT relispartition
      AND relnamespace = 'public'::regnamespace
), rels AS (
    SELECT oid AS relid FROM roots WHERE relkind = 'r'
    UNION
    SELECT t.relid FROM roots, LATERAL pg_partition_tree(roots.oid) t WHERE roots.relkind = 'p'
)
SELECT coalesce(sum(pg_total_relation_size(relid)), 0)::bigint,
       coalesce(sum(pg_relation_size(relid)), 0)::bigint,
       coalesce(sum(pg_indexes_size(relid)), 0)::bigint
FROM rels
"""
INBOX_TABLES = ["inbox", "inbox_requests", "inbox_queue", "inbox_exceptions"]


async def inbox_disk(url: str) -> tuple[int, int, int, int]:
    """(total bytes, heap bytes, index bytes, rows) of the inbox."""
    conn = await asyncpg.connect(url)
    try:
        total, heap, indexes = await conn.fetchrow(INBOX_SIZE, INBOX_TABLES)
        rows = await conn.fetchval("SELECT count(*) FROM inbox")
        return int(total), int(heap), int(indexes), int(rows)
    finally:
        await conn.close()


# ---- servers --------------------------------------------------------------------------------


def start_baseline(mode: str, port: int, workers: int, url: str, logs: Path) -> list:
    procs = []
    for n in range(workers):
        out = open(logs / f"{mode}-{n}.log", "wb")  # noqa: SIM115 - closed with the process
        procs.append(
            subprocess.Popen(
                [
                    str(PYTHON),
                    str(BENCH / "baseline_server.py"),
                    *("--mode", mode, "--port", str(port), "--database-url", url),
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        )
    wait_for_port(port)
    time.sleep(1.0)  # every worker bound and its pool open
    return procs


def start_dlrecon(config: Path, workers: int, logs: Path) -> subprocess.Popen[bytes]:
    out = open(logs / "dlrecon.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(
        [str(DLRECON), "--config", str(config), "serve", "--workers", str(workers), "--no-migrate"],
        stdout=out,
        stderr=subprocess.STDOUT,
    )


def wait_ready(port: int, workers: int, proc: subprocess.Popen[bytes]) -> Server:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("dlrecon serve exited while starting (see its log)")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r,
        ):
            if r.status == 200:
                server = roles(proc, port)
                if len(server.workers) >= workers and server.processor:
                    time.sleep(1.0)  # the other workers finish their start-up too
                    return server
        time.sleep(0.2)
    sys.exit("dlrecon serve did not become ready in 60 s")


def profile(pid: int, seconds: float, out_dir: Path, name: str) -> subprocess.Popen[bytes] | None:
    spy = ROOT / ".venv" / "bin" / "py-spy"
    if not spy.exists():
        log("py-spy missing: .venv/bin/pip install py-spy (profile skipped)")
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            str(spy),
            *("record", "--pid", str(pid), "--duration", str(max(1, int(seconds)))),
            *("--rate", "200", "--format", "raw", "--output", str(out_dir / f"{name}.txt")),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# ---- the run --------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--duration", type=float, default=30, help="seconds per stage (30)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--workers", type=int, default=1, help="HTTP worker processes (1)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--quick", action="store_true", help="~5 s per stage (smoke run)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--profile",
        type=Path,
        metavar="DIR",
        help="py-spy the first HTTP worker and the processor in stage c into DIR",
    )
    parser.add_argument(
        "--only", choices=list("abcde"), action="append", help="run only these stages"
    )
    parser.add_argument(
        "--no-analyze",
        action="store_true",
        help="no warm-up and ANALYZE before c and d (they then run on statistics of empty tables)",
    )
    args = parser.parse_args()
    if args.quick:
        args.duration = 5
    stages = set(args.only or "abcde")
    if stages & set("de"):
        stages.add("c")  # d is paced at c's rate; e runs on c's server
    wrk = ensure_tool("wrk")
    started = datetime.now(UTC)
    host = machine()
    with embedded_postgres(keep=args.keep) as (url, folder):
        prepare(url, folder)
        results, extra = asyncio.run(run_all(args, stages, wrk, url, folder))
        pg = postgres_version(url)
    report(args, host, pg, started, results, extra)


def prepare(url: str, folder: Path) -> None:
    from _common import write_config

    config = write_config(folder, url, 0, 1)
    subprocess.run(
        [str(DLRECON), "--config", str(config), "migrate"],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=120,
    )
    asyncio.run(_naive_table(url))


async def _naive_table(url: str) -> None:
    """The naive design's table: the columns and indexes the inbox had before issue 17 (a
    plain table written once per request and never updated)."""
    await execute(
        url,
        """
        CREATE TABLE naive_inbox (
            id bigserial PRIMARY KEY, provider_key text NOT NULL, method text NOT NULL,
            path text NOT NULL, query text NOT NULL, headers jsonb NOT NULL, body bytea NOT NULL,
            remote_addr text, verification text NOT NULL, received_at timestamptz NOT NULL,
            state text NOT NULL
        );
        CREATE INDEX naive_inbox_pending ON naive_inbox (id) WHERE state = 'pending';
        CREATE INDEX naive_inbox_provider_received ON naive_inbox (provider_key, received_at)
        """,
    )


async def run_all(
    args: argparse.Namespace, stages: set[str], wrk: str, url: str, folder: Path
) -> tuple[dict[str, Result], dict[str, Any]]:
    from _common import write_config

    logs = folder / "logs"
    logs.mkdir(exist_ok=True)
    results: dict[str, Result] = {}
    extra: dict[str, Any] = {}
    pg_data = folder / "pg" / "pgdata"
    common = {
        "duration": args.duration,
        "connections": args.connections,
        "threads": args.threads,
        "pg_data": pg_data,
    }
    count = payload_count(args.duration)
    for mode, key in (("noop", "a"), ("naive", "b")):
        if key not in stages:
            continue
        port = free_port()
        mix = build_mix(port, count if mode == "naive" else 3000, seed=5)
        payloads = write_payloads(folder / f"{mode}.bin", mix)
        procs = start_baseline(mode, port, args.workers, url, logs)
        try:
            preflight(port, build_mix(port, 3, seed=1))
            before = await max_id(url, "naive_inbox")
            await checkpoint(url)
            log(f"stage {key}: {mode}, {args.workers} workers, {args.duration:.0f} s")
            result = Result(mode)
            server = Server([psutil.Process(p.pid) for p in procs])
            await run_wrk(wrk, port, payloads, server=server, result=result, **common)
            result.total_cpu = result.worker_cpu + result.pg_cpu
        finally:
            for p in procs:
                stop_process(p)
        if mode == "naive":
            result.stored = await count_rows(url, "naive_inbox", before)
        results[key] = result

    if "c" not in stages:
        return results, extra
    port = free_port()
    config = write_config(folder, url, port, args.workers)
    proc = start_dlrecon(config, args.workers, logs)
    try:
        server = wait_ready(port, args.workers, proc)
        preflight(port, build_mix(port, 3, seed=1))
        if not args.no_analyze:
            # warm-up, not measured: a few seconds of the mix, then ANALYZE, so that c measures
            # a service that has been running (statistics that have seen rows), not the first
            # burst on tables Postgres last saw empty
            warm = Result("warm-up")
            payloads = write_payloads(folder / "warm.bin", build_mix(port, 5 * CEILING, seed=3))
            log("warm-up: 5 s of the mix (not measured), then ANALYZE")
            await run_wrk(
                wrk, port, payloads, server=server, result=warm, **{**common, "duration": 5}
            )
            await wait_drained(url, 120)
            await execute(url, "ANALYZE")
        await wait_drained(url, 30)
        await checkpoint(url)
        before = await max_id(url, "inbox")
        log(f"stage c: building {count} distinct callbacks")
        mix = build_mix(port, count)
        extra["raw_bytes"] = sum(len(r) for r in mix) / len(mix)
        payloads = write_payloads(folder / "dlrecon.bin", mix)
        del mix
        log(f"stage c: dlrecon serve, {args.workers} workers + processor, {args.duration:.0f} s")
        spies = []
        if args.profile:
            for name, pid in (
                ("callbacks", server.workers[0].pid),
                ("processor", server.processor[0].pid),
            ):
                spies.append(profile(pid, args.duration - TAIL, args.profile, name))
        result = Result("dlrecon")
        batches_before = batch_figures(port)

        async def run_c() -> None:
            await run_wrk(wrk, port, payloads, db_url=url, server=server, result=result, **common)

        await measured_until_drained(url, pg_data, server, result, run_c)
        for spy in spies:
            if spy is not None:
                spy.wait(60)
        result.stored = await count_rows(url, "inbox", before)
        results["c"] = result
        batches, rows = (a - b for a, b in zip(batch_figures(port), batches_before, strict=True))
        extra["batch_rows"] = rows / max(1.0, batches)

        if not args.no_analyze:
            # the tables were empty when Postgres last looked at them: until autoanalyze comes
            # round (its naptime is a minute) the processor's statements are planned for empty
            # tables and stage d measures that (3-4 times Postgres's CPU, seconds of lag) rather
            # than a service that has been running; --no-analyze keeps that first minute
            await execute(url, "ANALYZE")
        if "d" in stages:
            rate = 0.8 * result.rate
            before = await max_id(url, "inbox")
            await checkpoint(url)
            mix = build_mix(port, payload_count(args.duration, rate), seed=8)
            payloads = write_payloads(folder / "dlrecon80.bin", mix)
            del mix
            log(f"stage d: dlrecon paced at {rate:.0f} req/s (80 % of c), {args.duration:.0f} s")
            paced = Result("dlrecon@80%", target_rate=rate)

            async def run_d() -> None:
                await run_wrk(
                    wrk,
                    port,
                    payloads,
                    rate=rate,
                    db_url=url,
                    server=server,
                    result=paced,
                    **common,
                )

            await measured_until_drained(url, pg_data, server, paced, run_d)
            paced.stored = await count_rows(url, "inbox", before)
            results["d"] = paced

        # the disk the stored callbacks take, the processor done with every one of them
        extra["disk"] = await inbox_disk(url)

        if "e" in stages:
            before = await max_id(url, "inbox")
            payloads = write_payloads(folder / "big.bin", build_big(port))
            big = Result("dlrecon 1 MB")
            log(f"stage e: 1 MB bodies, {args.duration:.0f} s")

            async def run_e() -> None:
                await run_wrk(
                    wrk,
                    port,
                    payloads,
                    db_url=url,
                    server=server,
                    result=big,
                    timeout="30s",
                    **common,
                )

            await measured_until_drained(url, pg_data, server, big, run_e)
            big.stored = await count_rows(url, "inbox", before)
            results["e"] = big
    finally:
        stop_process(proc)
    return results, extra


# ---- the report -----------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


NAMES = {
    "a": "a noop (parse only)",
    "b": "b naive (INSERT+COMMIT)",
    "c": "c dlrecon (max rate)",
    "d": "d dlrecon @80% of c",
    "e": "e dlrecon 1 MB bodies",
}


def report(
    args: argparse.Namespace,
    host: dict[str, str],
    pg: str,
    started: datetime,
    results: dict[str, Result],
    extra: dict[str, Any],
) -> None:
    w = print
    w()
    w(f"bench/ingest  {started:%Y-%m-%d %H:%M} UTC  command: {' '.join(sys.argv)}")
    w(
        f"machine: {host['cpus']} CPUs ({host['cpu']}), {host['memory']}, load at start "
        f"{host['load']}, at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}; "
        f"Postgres {pg} (embedded); Python {host['python']}"
    )
    w(
        f"HTTP workers {args.workers}, {args.connections} connections, wrk {args.threads} "
        f"threads, {args.duration:.0f} s per stage ({TAIL:.0f} s quiet tail); mix: GenIQ GET / "
        "Hellio signed JSON / Twilio signed form, 1/3 each, every request a distinct event; "
        + ("no warm-up, no ANALYZE" if args.no_analyze else "5 s warm-up + ANALYZE before c and d")
    )
    w()
    header = (
        f"{'stage':<24}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}{'acked':>8}{'stored':>8}"
        f"{'repeat':>7}{'worker':>8}{'proc':>7}{'pg':>7}{'total':>7}  µs CPU per callback"
    )
    w(header)
    w("-" * len(header))
    for key, r in results.items():
        stored = "-" if r.stored is None else str(r.stored)
        proc = f"{r.per(r.processor_cpu):>7.0f}" if key in "cde" else f"{'-':>7}"
        # the noop handler stores nothing: its requests may repeat
        repeat = "-" if key == "a" else f"{100 * r.repeated_share:.1f}%"
        w(
            f"{NAMES[key]:<24}{r.rate:>8.0f}{r.ms('p50_us'):>8.1f}{r.ms('p99_us'):>8.1f}"
            f"{r.acked:>8}{stored:>8}{repeat:>7}"
            f"{r.per(r.worker_cpu):>8.0f}{proc}{r.per(r.pg_cpu):>7.0f}{r.per(r.total_cpu):>7.0f}"
        )
    w(
        "worker: the HTTP worker processes while wrk ran; proc: the processor process and pg: "
        "Postgres (every process), both until the processor had caught up (c-e); total: all of "
        "them over that time. repeat: requests sent again after every distinct one had been "
        "(duplicate events)"
    )
    w()
    for key, r in results.items():
        if not r.balanced:
            w(
                f"!! stage {key}: acked {r.acked} != stored {r.stored} "
                f"(sent {int(r.wrk['sent'])}, answered {int(r.wrk['answered'])}, "
                f"non-2xx {int(r.wrk['non2xx'])}): THE FIGURES BELOW ARE NOT TO BE PUBLISHED"
            )
    lines: list[tuple[str, str, str, bool | None]] = []
    a, b, c, d, e = (results.get(k) for k in "abcde")
    if c and b:
        ratio = c.per(c.total_cpu) / b.per(b.total_cpu)
        lines.append(
            (
                "total CPU per callback, c / b",
                f"{ratio:.2f} ({c.per(c.total_cpu):.0f} / {b.per(b.total_cpu):.0f} µs)",
                f"<= {TARGETS['total']}",
                ratio <= TARGETS["total"],
            )
        )
    if c and a:
        ratio = c.per(c.worker_cpu) / a.per(a.worker_cpu)
        lines.append(
            (
                "HTTP worker CPU, c / a",
                f"{ratio:.2f} ({c.per(c.worker_cpu):.0f} / {a.per(a.worker_cpu):.0f} µs)",
                f"<= {TARGETS['worker']}",
                ratio <= TARGETS["worker"],
            )
        )
    if "disk" in extra:
        total, heap, indexes, rows = extra["disk"]
        per_row = total / max(1, rows)
        raw = extra["raw_bytes"]
        bound = TARGETS["disk_factor"] * raw + TARGETS["disk_extra"]
        lines.append(
            (
                "disk per stored callback",
                f"{per_row:.0f} B (heap {heap / max(1, rows):.0f}, indexes "
                f"{indexes / max(1, rows):.0f}; {rows} rows; raw request {raw:.0f} B)",
                f"<= {bound:.0f} B",
                per_row <= bound,
            )
        )
    if c:
        rows_per_cpu = c.acked / c.processor_cpu if c.processor_cpu else 0.0
        lines.append(
            (
                "processor rows per CPU second (c)",
                f"{rows_per_cpu:.0f} ({c.per(c.processor_cpu):.0f} µs a row)",
                f">= {TARGETS['processor_rows']}",
                rows_per_cpu >= TARGETS["processor_rows"],
            )
        )
        drain = "not in 300 s" if c.drain_seconds is None else f"{c.drain_seconds:.1f} s"
        if "batch_rows" in extra:
            lines.append(("group commit (c)", f"{extra['batch_rows']:.1f} rows a batch", "", None))
        lines.append(
            (
                "lag at max rate (c)",
                f"max {max(c.lag, default=0):.1f} s; caught up {drain} after wrk",
                "",
                None,
            )
        )
    if d:
        lag = max(d.lag, default=0.0)
        median = sorted(d.lag)[len(d.lag) // 2] if d.lag else 0.0
        lines.append(
            (
                f"lag at 80 % of c ({d.rate:.0f}/{d.target_rate:.0f} req/s)",
                f"max {lag:.2f} s, median {median:.2f} s",
                f"<= {TARGETS['lag80_s']:g} s",
                lag <= TARGETS["lag80_s"],
            )
        )
    rss: dict[str, float] = {}
    for r in (c, d, e):
        if r:
            for label, mb in r.rss_mb.items():
                rss[label] = max(rss.get(label, 0.0), mb)
    if rss:
        each = ", ".join(f"{label} {mb:.0f}" for label, mb in rss.items())
        lines.append(
            (
                "peak RSS per process (c-e" + (", 1 MB bodies)" if e else ")"),
                f"{each} MB",
                f"<= {TARGETS['rss_mb']:.0f} MB",
                max(rss.values()) <= TARGETS["rss_mb"],
            )
        )
    if e:
        lines.append(
            (
                "1 MB bodies (e)",
                f"{e.rate:.0f} req/s, {int(e.wrk['non2xx'])} non-2xx "
                f"(503: the worker at its byte bound)",
                "",
                None,
            )
        )
    stored = [(k, r) for k, r in results.items() if r.stored is not None]
    if stored:
        lines.append(
            (
                "acked = stored",
                ", ".join(f"{k}: {r.acked}/{r.stored}" for k, r in stored),
                "equal",
                all(r.balanced for _, r in stored),
            )
        )
    for title, value, target, ok in lines:
        mark = "" if ok is None else verdict(ok)
        w(f"{title:<38}{value:<64}{target:<12}{mark}")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
