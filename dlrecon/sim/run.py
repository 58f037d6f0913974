"""Realistic, signed provider traffic against a running dlrecon (`dlrecon simulate`)."""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
from yarl import URL

from dlrecon.sim import check as sim_check
from dlrecon.sim import signing
from dlrecon.sim.gateways import FLOWS
from dlrecon.sim.model import Callback, SimMessage
from dlrecon.sim.scenario import Rates, Target, plan, sends
from receiver import adapters
from receiver.settings import Scope, Settings

Progress = Callable[[int], None]
REGISTER_BATCH = 500
RETRIES = 6


class SimulationError(Exception):
    """The simulation cannot run (no usable provider key, service refused registrations)."""


@dataclass(slots=True)
class Options:
    """What to simulate and against which service."""

    url: str
    token: str
    messages: int = 1000
    providers: list[str] | None = None
    rates: Rates = field(default_factory=Rates)
    concurrency: int = 32
    seed: int | None = None


def default_token(settings: Settings) -> str | None:
    """The configuration's first API token that may both send and read."""
    for entry in settings.api.tokens:
        scopes = set(entry.scopes)
        if Scope.ADMIN in scopes or {Scope.SEND, Scope.READ} <= scopes:
            return entry.token.get_secret_value()
    return None


def scheme_for(settings: Settings, key: str) -> str | None:
    provider = settings.providers[key]
    adapter = settings.adapter_name(key)
    known = adapters.get(adapter).signature_scheme if adapter in FLOWS else None
    return provider.scheme or known


def targets(settings: Settings, wanted: Iterable[str] | None) -> tuple[list[Target], list[str]]:
    """The keys to simulate, and why others are skipped (one line each)."""
    keys = list(wanted) if wanted else list(settings.providers)
    chosen: list[Target] = []
    skipped: list[str] = []
    for key in keys:
        if key not in settings.providers:
            skipped.append(f"{key}: not a provider key of the configuration")
            continue
        adapter = settings.adapter_name(key)
        flow = FLOWS.get(adapter)
        provider = settings.providers[key]
        why = (
            f"adapter {adapter!r} is not simulated"
            if flow is None
            else signing.unsupported(provider, scheme_for(settings, key))
        )
        if provider.verify != "off" and provider.allow_ips and flow is not None and why is None:
            skipped.append(
                f"{key}: note: allow_ips is set; callbacks must come from an allowed address"
            )
        if why is not None or flow is None:
            skipped.append(f"{key}: skipped ({why})")
            continue
        chosen.append(Target(key, flow))
    return chosen, skipped


async def run(
    settings: Settings, options: Options, progress: Progress | None = None
) -> dict[str, Any]:
    """Register messages, send their callbacks with the faults planned, return the record."""
    chosen, skipped = targets(settings, options.providers)
    if not chosen:
        raise SimulationError(
            "no provider key to simulate: " + "; ".join(skipped or ["none configured"])
        )
    seed = options.seed if options.seed is not None else random.randrange(2**31)
    run_id = secrets.token_hex(3)
    start = time.time()
    messages = plan(chosen, options.messages, options.rates, seed, run_id, start)
    early, late = sends(messages)
    tick = progress or (lambda n: None)
    outcomes: Counter[str] = Counter()
    sender = _Sender(settings, options, outcomes, tick, random.Random(seed ^ 0x5EED))
    timeout = aiohttp.ClientTimeout(total=60)
    connector = aiohttp.TCPConnector(limit=options.concurrency)
    async with aiohttp.ClientSession(timeout=timeout, connector=connector) as session:
        sender.session = session
        await _pool(options.concurrency, (sender.callback(m, cb) for m, cb in early))
        if early:
            await sim_check.settle(session, options.url, timeout=15)
        await _register(session, options, messages, tick)
        await _pool(options.concurrency, (sender.callback(m, cb) for m, cb in late))
    elapsed = time.time() - start
    requests = len(early) + len(late)
    return {
        "version": 1,
        "url": options.url,
        "seed": seed,
        "run_id": run_id,
        "started_at": datetime.fromtimestamp(start, UTC).isoformat(),
        "elapsed_seconds": round(elapsed, 3),
        "options": {"messages": options.messages, **options.rates.as_dict()},
        "providers": [t.key for t in chosen],
        "skipped": skipped,
        "callbacks": {"sent": requests, **dict(outcomes)},
        "callbacks_per_second": round(requests / elapsed, 1) if elapsed else None,
        "messages": [m.record() for m in messages],
    }


async def _pool(size: int, jobs: Iterable[Awaitable[None]]) -> None:
    """Run the jobs with at most `size` in flight, in order of creation."""
    iterator = iter(jobs)

    async def worker() -> None:
        for job in iterator:
            await job

    await asyncio.gather(*(worker() for _ in range(size)))


async def _register(
    session: aiohttp.ClientSession, options: Options, messages: list[SimMessage], tick: Progress
) -> None:
    headers = {"Authorization": f"Bearer {options.token}"}
    batches = [messages[i : i + REGISTER_BATCH] for i in range(0, len(messages), REGISTER_BATCH)]

    async def one(batch: list[SimMessage]) -> None:
        items = [FLOWS[m.adapter].register(m) for m in batch]
        async with session.post(f"{options.url}/v1/messages", json=items, headers=headers) as r:
            body = await r.json(content_type=None)
            if r.status != 200 or body.get("errors"):
                errors = [e for e in body.get("results", []) if "error" in e][:3]
                raise SimulationError(f"registration refused ({r.status}): {errors or body}")
        tick(len(batch))

    await _pool(4, (one(b) for b in batches))


class _Sender:
    """Sends one callback: delay, sign, post, retry on 503 like a provider would."""

    def __init__(
        self,
        settings: Settings,
        options: Options,
        outcomes: Counter[str],
        tick: Progress,
        rng: random.Random,
    ) -> None:
        self.settings = settings
        self.options = options
        self.outcomes = outcomes
        self.tick = tick
        self.rng = rng
        self.session: aiohttp.ClientSession | None = None

    async def callback(self, m: SimMessage, cb: Callback) -> None:
        low, high = self.options.rates.delay_ms
        if high:
            await asyncio.sleep(self.rng.uniform(low, high) / 1000)
        assert self.session is not None
        provider = self.settings.providers[m.key]
        request = FLOWS[m.adapter].callback(m, cb)
        base = f"{self.options.url}/v1/callbacks/{m.key}"
        for attempt in range(RETRIES):
            signed = signing.sign(
                request,
                provider,
                scheme_for(self.settings, m.key),
                time.time(),
                secrets.token_hex(8),
            )
            url = URL(f"{base}?{signed.query}" if signed.query else base, encoded=True)
            try:
                async with self.session.request(
                    signed.method, url, data=signed.body or None, headers=signed.headers
                ) as r:
                    await r.read()
                    status = r.status
            except (TimeoutError, aiohttp.ClientError):
                status = 0
            if status not in (0, 429, 503) or attempt == RETRIES - 1:
                break
            await asyncio.sleep(0.2 * (attempt + 1))
        self.outcomes["acknowledged" if 200 <= status < 300 else f"refused_{status}"] += 1
        self.tick(1)


def describe(record: dict[str, Any], path: Any) -> str:
    """What was sent, for people."""
    counts = Counter(m["expected_status"] for m in record["messages"])
    flags = Counter(f for m in record["messages"] for f in m["flags"])
    sent = record["callbacks"]
    lines = [
        f"{len(record['messages'])} messages over {', '.join(record['providers'])} "
        f"(seed {record['seed']}, run {record['run_id']})",
        f"callbacks: {sent['sent']} sent in {record['elapsed_seconds']}s "
        f"({record['callbacks_per_second']}/s); "
        + ", ".join(f"{k} {v}" for k, v in sent.items() if k != "sent"),
        "faults: " + ", ".join(f"{k} {v}" for k, v in sorted(flags.items())),
        "expected: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())),
        f"recorded to {path}; check with: dlrecon simulate --check {path}",
    ]
    return "\n".join(lines)
