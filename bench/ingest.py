"""bench/ingest: callbacks/s of dlrecon next to a no-op handler and a naive INSERT-per-request.

One run, one machine, one embedded Postgres (temporary folder); every stage is driven by wrk
with the same payload mix (GenIQ GET query with path token, Hellio V2-signed JSON POST, Twilio
signed form POST) at the same connection count and worker count:

  a  noop     aiohttp handler that reads and parses the body (the ceiling)
  b  naive    the same plus one INSERT + COMMIT per request into a copy of the inbox table
  c  dlrecon  `dlrecon serve --workers N`, keys that verify, group commit, processor running
  d  dlrecon  paced at 80 % of c's rate: processor lag when the service is not saturated

Usage: bench/ingest [--duration S] [--connections C] [--workers N] [--quick] [--profile DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hmac
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

import asyncpg
import psutil
from _common import (
    DLRECON,
    GENIQ_TOKEN,
    HELLIO_SECRET,
    PYTHON,
    ROOT,
    TWILIO_PUBLIC_URL,
    TWILIO_TOKEN,
    embedded_postgres,
    ensure_tool,
    free_port,
    log,
    machine,
    postgres_version,
    stop_process,
    wait_for_port,
)

BENCH = Path(__file__).resolve().parent
PAYLOADS = 3000  # distinct requests in the mix (1/3 each shape), cycled by wrk
TAIL = 1.0  # seconds at the end of each wrk run with no new request (every request answered)
SAMPLE = 0.5  # seconds between lag / RSS samples

TARGETS = {
    "c/a": 0.7,
    "c/b": 3.0,
    "p99_ms": 50.0,
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


def geniq(port: int, rng: random.Random) -> bytes:
    status, reason = rng.choice([("delivered", "0")] * 8 + [("undeliverable", "5")] * 2)
    query = urlencode(
        {
            "token": GENIQ_TOKEN,
            "messageId": f"{rng.getrandbits(128):032X}",
            "channel": "sms",
            "recipient": f"659{rng.randrange(10**7):07d}",
            "status": status,
            "reasonCode": reason,
            "messageTimestamp": "2017-01-03T14:30:00+08:00",
            "operatorTimestamp": "2017-01-03T14:31:00+08:00",
        }
    )
    return _http("GET", f"/v1/callbacks/geniq?{query}", port, {"User-Agent": "GenIQ-DLR/1.0"}, b"")


def hellio(port: int, rng: random.Random, stamp: int) -> bytes:
    status = rng.choice(["delivered"] * 8 + ["failed", "sent"])
    body = json.dumps(
        {
            "event": f"message.{status}",
            "mobile_number": f"+23324{rng.randrange(10**7):07d}",
            "provider_message_id": f"{rng.getrandbits(64):016x}",
            "status": status,
            "timestamp": datetime.fromtimestamp(stamp, UTC).isoformat(),
        }
    ).encode()
    signature = hmac.new(HELLIO_SECRET.encode(), f"{stamp}.".encode() + body, "sha256")
    headers = {
        "User-Agent": "Hellio-Webhooks/2.0",
        "Content-Type": "application/json",
        "X-Hellio-Timestamp": str(stamp),
        "X-Hellio-Signature-V2": signature.hexdigest(),
    }
    return _http("POST", "/v1/callbacks/hellio", port, headers, body)


def twilio(port: int, rng: random.Random) -> bytes:
    sid = f"SM{rng.getrandbits(128):032x}"
    status = rng.choice(["delivered"] * 7 + ["sent", "undelivered", "failed"])
    params = {
        "AccountSid": "AC" + "a" * 32,
        "ApiVersion": "2010-04-01",
        "From": "+15017250604",
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": f"+1202{rng.randrange(10**7):07d}",
    }
    if status in ("undelivered", "failed"):
        params["ErrorCode"] = "30003"
    body = urlencode(params).encode()
    signed = TWILIO_PUBLIC_URL + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(TWILIO_TOKEN.encode(), signed.encode(), "sha1").digest()
    headers = {
        "User-Agent": "TwilioProxy/1.1",
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Twilio-Signature": base64.b64encode(digest).decode(),
    }
    return _http("POST", "/v1/callbacks/twilio", port, headers, body)


def build_mix(port: int, count: int = PAYLOADS, seed: int = 7) -> list[bytes]:
    """Distinct requests, the three shapes interleaved; Hellio signed with the time of now."""
    rng = random.Random(seed)
    stamp = int(time.time())
    makers = (lambda: geniq(port, rng), lambda: hellio(port, rng, stamp), lambda: twilio(port, rng))
    return [makers[i % 3]() for i in range(count)]


def _lua_string(data: bytes) -> str:
    out = []
    for byte in data:
        if 32 <= byte < 127 and byte not in (34, 92):
            out.append(chr(byte))
        else:
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


def write_payloads(path: Path, requests: list[bytes]) -> Path:
    path.write_text("return {\n" + ",\n".join(_lua_string(r) for r in requests) + "\n}\n")
    return path


def preflight(port: int, requests: list[bytes]) -> None:
    """Send one request of each shape over a plain socket; every one must get a 2xx."""
    import socket

    for raw in requests[:3]:
        with socket.create_connection(("127.0.0.1", port), 10) as s:
            s.sendall(raw.replace(b"HTTP/1.1\r\n", b"HTTP/1.1\r\nConnection: close\r\n", 1))
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        status = answer.split(b"\r\n", 1)[0].decode(errors="replace")
        if " 2" not in status:
            first = raw.split(b"\r\n", 1)[0].decode()
            sys.exit(f"preflight failed: {first} -> {status}\n{answer[-400:]!r}")


# ---- measuring ------------------------------------------------------------------------------


@dataclass
class Result:
    name: str
    wrk: dict[str, float] = field(default_factory=dict)
    active_seconds: float = 0.0
    stored: int | None = None
    lag: list[float] = field(default_factory=list)
    rss_mb: dict[int, float] = field(default_factory=dict)
    drain_seconds: float | None = None
    target_rate: float | None = None
    cpu_seconds: float = 0.0  # CPU used by the server's worker processes during the run
    pg_cpu_seconds: float = 0.0  # CPU used by Postgres (all its processes) during the run

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

    def ms(self, key: str) -> float:
        return self.wrk[key] / 1000


async def oldest_pending_age(conn: asyncpg.Connection) -> float:
    value = await conn.fetchval(
        "SELECT extract(epoch FROM clock_timestamp() - received_at)::float8"
        " FROM inbox WHERE state = 'pending' ORDER BY id LIMIT 1"
    )
    return float(value or 0.0)


def worker_processes(server: subprocess.Popen[bytes]) -> list[psutil.Process]:
    """dlrecon's processes: the children of `dlrecon serve` (the HTTP workers and the processor
    process), or the process itself when it runs alone; baseline servers are passed one by
    one."""
    try:
        parent = psutil.Process(server.pid)
        children = [c for c in parent.children() if "resource_tracker" not in " ".join(c.cmdline())]
    except psutil.Error:
        return []
    return children or [parent]


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
    processes: list[psutil.Process] = (),  # type: ignore[assignment]
    pg_data: Path,
    result: Result,
) -> Result:
    seconds = max(2, round(duration))
    command = [
        wrk,
        "-t",
        str(threads),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--timeout",
        "10s",
        "-s",
        str(BENCH / "mix.lua"),
        f"http://127.0.0.1:{port}",
        "--",
        str(payloads),
        str(seconds),
        str(TAIL),
        f"{rate:.3f}",
        str(threads),
    ]
    conn = await asyncpg.connect(db_url) if db_url else None
    cpu_before = _cpu(processes)
    pg_before = postgres_cpu(pg_data)
    proc = await asyncio.create_subprocess_exec(
        *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    communicate = asyncio.ensure_future(proc.communicate())
    deadline = time.monotonic() + seconds + 60
    try:
        while not communicate.done() and time.monotonic() < deadline:
            if conn is not None:
                result.lag.append(await oldest_pending_age(conn))
            for p in processes:
                with contextlib.suppress(psutil.Error):
                    rss = p.memory_info().rss / 1024 / 1024
                    result.rss_mb[p.pid] = max(result.rss_mb.get(p.pid, 0.0), rss)
            await asyncio.wait([communicate], timeout=SAMPLE)
        if not communicate.done():
            proc.kill()
            sys.exit("wrk did not finish in time")
        stdout, stderr = communicate.result()
        result.cpu_seconds = _cpu(processes) - cpu_before
        result.pg_cpu_seconds = postgres_cpu(pg_data) - pg_before
    finally:
        if conn is not None:
            await conn.close()
    match = re.search(rb"BENCH_JSON (\{.*\})", stdout)
    if proc.returncode != 0 or match is None:
        sys.exit(f"wrk failed ({proc.returncode}): {stdout.decode()} {stderr.decode()}")
    result.wrk = json.loads(match.group(1))
    result.active_seconds = seconds - TAIL
    return result


def _cpu(processes: list[psutil.Process]) -> float:
    total = 0.0
    for p in processes:
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def postgres_cpu(data_dir: Path) -> float:
    """CPU seconds used so far by the Postgres of `data_dir`: the postmaster, its live
    children (backends, WAL writer, checkpointer...) and the children that have exited."""
    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
        times = postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        return total + _cpu(postmaster.children())
    except (OSError, ValueError, psutil.Error):
        return 0.0


async def count_rows(url: str, table: str, after_id: int = 0) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(f"SELECT count(*) FROM {table} WHERE id > $1", after_id))
    finally:
        await conn.close()


async def max_id(url: str, table: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval(f"SELECT coalesce(max(id), 0) FROM {table}"))
    finally:
        await conn.close()


async def wait_drained(url: str, limit: float) -> float | None:
    """Seconds until no inbox row is pending (None if still pending after `limit`)."""
    conn = await asyncpg.connect(url)
    started = time.monotonic()
    try:
        while time.monotonic() - started < limit:
            pending = await conn.fetchval(
                "SELECT count(*) FROM (SELECT 1 FROM inbox WHERE state = 'pending' LIMIT 1) x"
            )
            if not pending:
                return time.monotonic() - started
            await asyncio.sleep(0.2)
        return None
    finally:
        await conn.close()


async def checkpoint(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CHECKPOINT")
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
                    "--mode",
                    mode,
                    "--port",
                    str(port),
                    "--database-url",
                    url,
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
    proc = subprocess.Popen(
        [str(DLRECON), "--config", str(config), "serve", "--workers", str(workers), "--no-migrate"],
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    return proc


def wait_ready(port: int, workers: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("dlrecon serve exited while starting (see its log)")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r,
        ):
            if r.status == 200 and len(worker_processes(proc)) >= workers:
                time.sleep(1.0)  # the other workers finish their start-up too
                return
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
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, int(seconds))),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(out_dir / f"{name}.txt"),
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
    parser.add_argument("--workers", type=int, default=2, help="server processes (2)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument("--quick", action="store_true", help="~5 s per stage (smoke run)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy a dlrecon worker in stage c into DIR"
    )
    parser.add_argument(
        "--only", choices=["a", "b", "c"], action="append", help="run only these stages"
    )
    args = parser.parse_args()
    if args.quick:
        args.duration = 5
    stages = set(args.only or ["a", "b", "c"])
    wrk = ensure_tool("wrk")
    started = datetime.now(UTC)
    host = machine()
    with embedded_postgres(keep=args.keep) as (url, folder):
        prepare(url, folder)
        results = asyncio.run(run_all(args, stages, wrk, url, folder))
        pg = postgres_version(url)
    report(args, host, pg, started, results)


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
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE naive_inbox (LIKE inbox INCLUDING ALL)")
    finally:
        await conn.close()


async def run_all(
    args: argparse.Namespace, stages: set[str], wrk: str, url: str, folder: Path
) -> dict[str, Result]:
    from _common import write_config

    logs = folder / "logs"
    logs.mkdir(exist_ok=True)
    results: dict[str, Result] = {}
    common = {
        "duration": args.duration,
        "connections": args.connections,
        "threads": args.threads,
        "pg_data": folder / "pg" / "pgdata",
    }
    for mode, key in (("noop", "a"), ("naive", "b")):
        if key not in stages:
            continue
        port = free_port()
        payloads = write_payloads(folder / f"{mode}.lua", build_mix(port))
        procs = start_baseline(mode, port, args.workers, url, logs)
        try:
            preflight(port, build_mix(port)[:3])
            before = await max_id(url, "naive_inbox")
            await checkpoint(url)
            log(f"stage {key}: {mode}, {args.workers} workers, {args.duration:.0f} s")
            result = Result(mode)
            ps = [psutil.Process(p.pid) for p in procs]
            await run_wrk(wrk, port, payloads, processes=ps, result=result, **common)
        finally:
            for p in procs:
                stop_process(p)
        if mode == "naive":
            result.stored = await count_rows(url, "naive_inbox", before)
        results[key] = result

    if "c" in stages:
        port = free_port()
        config = write_config(folder, url, port, args.workers)
        server = start_dlrecon(config, args.workers, logs)
        try:
            wait_ready(port, args.workers, server)
            workers = worker_processes(server)
            preflight(port, build_mix(port)[:3])
            await asyncio.sleep(1)
            await wait_drained(url, 30)
            await checkpoint(url)
            before = await max_id(url, "inbox")
            payloads = write_payloads(folder / "dlrecon.lua", build_mix(port))
            log(f"stage c: dlrecon serve, {args.workers} workers, {args.duration:.0f} s")
            spy = (
                profile(workers[0].pid, args.duration - TAIL, args.profile, "callbacks")
                if (args.profile)
                else None
            )
            result = Result("dlrecon")
            await run_wrk(
                wrk, port, payloads, db_url=url, processes=workers, result=result, **common
            )
            if spy is not None:
                spy.wait(60)
            result.stored = await count_rows(url, "inbox", before)
            result.drain_seconds = await wait_drained(url, 300)
            results["c"] = result

            rate = 0.8 * result.rate
            before = await max_id(url, "inbox")
            await checkpoint(url)
            payloads = write_payloads(folder / "dlrecon80.lua", build_mix(port, seed=8))
            log(f"stage d: dlrecon paced at {rate:.0f} req/s (80 % of c), {args.duration:.0f} s")
            paced = Result("dlrecon@80%", target_rate=rate)
            await run_wrk(
                wrk,
                port,
                payloads,
                rate=rate,
                db_url=url,
                processes=workers,
                result=paced,
                **common,
            )
            paced.stored = await count_rows(url, "inbox", before)
            paced.drain_seconds = await wait_drained(url, 300)
            results["d"] = paced
        finally:
            stop_process(server)
    return results


# ---- the report -----------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def report(
    args: argparse.Namespace,
    host: dict[str, str],
    pg: str,
    started: datetime,
    results: dict[str, Result],
) -> None:
    w = print
    w()
    w(f"bench/ingest  {started:%Y-%m-%d %H:%M} UTC  command: {' '.join(sys.argv)}")
    w(
        f"machine: {host['cpus']} CPUs ({host['cpu']}), {host['memory']}, load at start "
        f"{host['load']}; Postgres {pg} (embedded); Python {host['python']}"
    )
    w(
        f"workers {args.workers}, {args.connections} connections, wrk {args.threads} threads, "
        f"{args.duration:.0f} s per stage ({TAIL:.0f} s quiet tail), mix: GenIQ GET / Hellio "
        "signed JSON / Twilio signed form, 1/3 each"
    )
    w()
    header = (
        f"{'stage':<26}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"
        f"{'acked':>9}{'stored':>9}{'non-2xx':>9}{'cpu ms/req':>12}{'pg ms/req':>11}"
    )
    w(header)
    w("-" * len(header))
    names = {
        "a": "a noop (parse only)",
        "b": "b naive (INSERT+COMMIT)",
        "c": "c dlrecon (verify+group)",
        "d": "d dlrecon @80% of c",
    }
    for key, r in results.items():
        stored = "-" if r.stored is None else str(r.stored)
        w(
            f"{names[key]:<26}{r.rate:>9.0f}{r.ms('p50_us'):>9.1f}{r.ms('p99_us'):>9.1f}"
            f"{r.ms('max_us'):>9.1f}{r.acked:>9}{stored:>9}{int(r.wrk['non2xx']):>9}"
            f"{1000 * r.cpu_seconds / max(1, r.wrk['answered']):>12.3f}"
            f"{1000 * r.pg_cpu_seconds / max(1, r.wrk['answered']):>11.3f}"
        )
    w(
        "cpu ms/req: CPU time of the server's processes per answered request (c and d include"
        " the processor); pg ms/req: the same for Postgres. Both are less sensitive than req/s"
        " to other load on the machine"
    )
    w()
    balanced = all(r.balanced for r in results.values())
    for key, r in results.items():
        if not r.balanced:
            w(
                f"!! stage {key}: acked {r.acked} != stored {r.stored} "
                f"(sent {int(r.wrk['sent'])}, answered {int(r.wrk['answered'])}, "
                f"non-2xx {int(r.wrk['non2xx'])}): THE FIGURES BELOW ARE NOT TO BE PUBLISHED"
            )
    if not balanced:
        w()
    lines: list[tuple[str, str, bool | None]] = []
    a, b, c, d = (results.get(k) for k in "abcd")
    if c and a:
        ratio = c.rate / a.rate
        lines.append(("c/a (dlrecon / noop)", f"{ratio:.2f}", ratio >= TARGETS["c/a"]))
    if c and b:
        ratio = c.rate / b.rate
        lines.append(("c/b (dlrecon / naive)", f"{ratio:.2f}", ratio >= TARGETS["c/b"]))
    if c:
        p99 = c.ms("p99_us")
        lines.append(
            (f"p99 at {args.connections} connections", f"{p99:.1f} ms", p99 <= TARGETS["p99_ms"])
        )
    stored_ok = all(r.balanced for r in results.values() if r.stored is not None)
    counts = ", ".join(
        f"{k}: {r.acked}/{r.stored}" for k, r in results.items() if r.stored is not None
    )
    if counts:
        lines.append(("acked = stored", counts, stored_ok))
    if c:
        lag = max(c.lag, default=0.0)
        drain = "not drained in 300 s" if c.drain_seconds is None else f"{c.drain_seconds:.1f} s"
        lines.append(("lag at max rate (max)", f"{lag:.1f} s; backlog drained in {drain}", None))
    if d:
        lag = max(d.lag, default=0.0)
        lines.append(
            (
                f"lag at 80 % ({d.rate:.0f}/{d.target_rate:.0f} req/s)",
                f"max {lag:.2f} s, median {sorted(d.lag)[len(d.lag) // 2]:.2f} s"
                if d.lag
                else "no samples",
                lag <= TARGETS["lag80_s"],
            )
        )
    if c:
        rss = {**c.rss_mb}
        if d:
            for pid, mb in d.rss_mb.items():
                rss[pid] = max(rss.get(pid, 0.0), mb)
        peak = max(rss.values(), default=0.0)
        each = ", ".join(f"{mb:.0f}" for mb in rss.values())
        lines.append(("peak RSS per process", f"{each} MB", peak <= TARGETS["rss_mb"]))
    for title, r in (("noop", a), ("naive", b)):
        if r and r.rss_mb:
            each = ", ".join(f"{mb:.0f}" for mb in r.rss_mb.values())
            lines.append((f"peak RSS per {title} worker", f"{each} MB (reference)", None))
    target_text = {
        "c/a (dlrecon / noop)": ">= 0.7",
        "c/b (dlrecon / naive)": ">= 3",
        f"p99 at {args.connections} connections": "<= 50 ms",
        "acked = stored": "equal",
        "peak RSS per process": "<= 250 MB",
    }
    for title, value, ok in lines:
        target = target_text.get(title, "<= 1 s" if title.startswith("lag at 80") else "")
        mark = "" if ok is None else verdict(ok)
        w(f"{title:<34}{value:<56}{target:<10}{mark}")
    if not balanced:
        w("\nacked != stored: figures not balanced (see above)")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    if not shutil.which("wrk"):
        ensure_tool("wrk")
    main()
