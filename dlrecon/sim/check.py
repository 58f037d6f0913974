"""`dlrecon simulate --check`: compare what dlrecon shows with what the simulation implies."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import aiohttp

LAG_METRIC = "dlrecon_processor_lag_seconds"
SWEEPS_METRIC = "dlrecon_orphan_sweeps_total"
# An event stored while its message was being registered (the two transactions overlapping)
# stays an orphan until the processor's next orphan sweep. So differences count as final when
# they are the same at two looks with the processor's lag 0 before each and, between them, a
# whole sweep that started after the first look. A service whose /metrics shows no sweep (its
# processor runs elsewhere) gets this pause between looks instead.
QUIET_SECONDS = 1.0


@dataclass(slots=True)
class Difference:
    """One field of one message that is not what the simulation implies."""

    provider: str
    client_ref: str
    field: str
    expected: Any
    got: Any


@dataclass(slots=True)
class Report:
    """The outcome of a check: per-message statuses seen, and the differences."""

    messages: int = 0
    got: dict[tuple[str, str], str] = field(default_factory=dict)  # (provider, ref) -> status
    differences: list[Difference] = field(default_factory=list)
    settled: bool = True

    @property
    def ok(self) -> bool:
        return not self.differences


async def processor_state(session: aiohttp.ClientSession, url: str) -> tuple[float | None, float]:
    """The processor's lag (None when not readable) and the orphan sweeps it completed, from
    the service's /metrics."""
    try:
        async with session.get(f"{url}/metrics") as r:
            text = await r.text()
    except (TimeoutError, aiohttp.ClientError):
        return None, 0.0
    lag, sweeps = None, 0.0
    for line in text.splitlines():
        if line.startswith(LAG_METRIC + " "):
            lag = float(line.split()[1])
        elif line.startswith(SWEEPS_METRIC + " "):
            sweeps = float(line.split()[1])
    return lag, sweeps


async def settle(
    session: aiohttp.ClientSession, url: str, timeout: float, *, sweeps_after: float | None = None
) -> tuple[bool, float]:
    """Wait until the service has processed every stored callback and, with `sweeps_after`,
    until an orphan sweep that started after that count was read has completed (bounded by
    `timeout`). Whether it settled, and the sweep count read when it did."""
    deadline = time.monotonic() + timeout
    if sweeps_after is not None and sweeps_after == 0:
        await asyncio.sleep(min(QUIET_SECONDS, timeout))
        sweeps_after = None
    while True:
        lag, sweeps = await processor_state(session, url)
        # the sweep counted next may have been running when `sweeps_after` was read
        swept = sweeps_after is None or sweeps >= sweeps_after + 2
        if lag == 0 and swept:
            return True, sweeps
        if time.monotonic() > deadline:
            return False, sweeps
        await asyncio.sleep(0.2)


def _money(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def compare(expected: dict[str, Any], got: dict[str, Any] | None) -> list[Difference]:
    """The differences between one recorded message and dlrecon's view of it."""
    where = (expected["provider"], expected["client_ref"])
    if got is None:
        return [Difference(*where, "message", "registered", "not found")]
    out = []
    if got.get("status") != expected["expected_status"]:
        out.append(Difference(*where, "status", expected["expected_status"], got.get("status")))
    if bool(got.get("final")) != expected["expected_final"]:
        out.append(Difference(*where, "final", expected["expected_final"], got.get("final")))
    want, have = _money(expected["expected_provider_cost"]), _money(got.get("provider_cost"))
    if want != have:
        out.append(
            Difference(
                *where,
                "provider_cost",
                expected["expected_provider_cost"],
                got.get("provider_cost"),
            )
        )
    return out


async def check(
    url: str,
    token: str,
    record: dict[str, Any],
    *,
    timeout: float = 60,
    concurrency: int = 16,
    progress: Callable[[int], None] | None = None,
) -> Report:
    """Wait for processing to settle, fetch every recorded message and compare."""
    expected = record["messages"]
    report = Report(messages=len(expected))
    headers = {"Authorization": f"Bearer {token}"}
    deadline = time.monotonic() + timeout
    tick = progress or (lambda n: None)
    client_timeout = aiohttp.ClientTimeout(total=30)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(timeout=client_timeout, connector=connector) as session:
        report.settled, sweeps = await settle(session, url, timeout)
        pending = list(expected)
        previous: list[tuple[str, str, str, str]] | None = None
        while True:
            views = await _fetch_all(session, url, headers, pending, concurrency, tick)
            differences: list[Difference] = []
            for item, view in zip(pending, views, strict=True):
                if view is not None:
                    report.got[(item["provider"], item["client_ref"])] = view["status"]
                found = compare(item, view)
                differences += found
            failing = {(d.provider, d.client_ref) for d in differences}
            pending = [m for m in pending if (m["provider"], m["client_ref"]) in failing]
            seen = [(d.provider, d.client_ref, d.field, str(d.got)) for d in differences]
            # settled and unchanged since the last look: what dlrecon shows is final
            stable = report.settled and seen == previous
            if not pending or stable or time.monotonic() > deadline:
                report.differences = differences
                return report
            previous = seen
            # late matching (an orphan sweep still to come): look again after one
            report.settled, sweeps = await settle(
                session, url, max(0.0, deadline - time.monotonic()), sweeps_after=sweeps
            )


async def _fetch_all(
    session: aiohttp.ClientSession,
    url: str,
    headers: dict[str, str],
    items: list[dict[str, Any]],
    concurrency: int,
    tick: Callable[[int], None],
) -> list[dict[str, Any] | None]:
    semaphore = asyncio.Semaphore(concurrency)

    async def one(item: dict[str, Any]) -> dict[str, Any] | None:
        params = {"client_ref": item["client_ref"], "provider": item["provider"]}
        async with (
            semaphore,
            session.get(f"{url}/v1/messages", params=params, headers=headers) as r,
        ):
            if r.status in (401, 403):
                raise PermissionError(f"GET /v1/messages answered {r.status}: check --token")
            r.raise_for_status()
            body = await r.json()
        tick(1)
        matches = [v for v in body.get("messages", []) if v.get("provider") == item["provider"]]
        return matches[0] if matches else None

    return list(await asyncio.gather(*(one(i) for i in items)))


def summary(record: dict[str, Any], report: Report) -> list[dict[str, Any]]:
    """Rows by provider and status: how many expected, how many dlrecon shows, how many agree."""
    expected: Counter[tuple[str, str]] = Counter()
    got: Counter[tuple[str, str]] = Counter()
    agree: Counter[tuple[str, str]] = Counter()
    for m in record["messages"]:
        key = (m["provider"], m["expected_status"])
        expected[key] += 1
        status = report.got.get((m["provider"], m["client_ref"]))
        if status is not None:
            got[(m["provider"], status)] += 1
            if status == m["expected_status"]:
                agree[key] += 1
    rows = []
    for provider, status in sorted(set(expected) | set(got)):
        key = (provider, status)
        rows.append(
            {
                "provider": provider,
                "status": status,
                "expected": expected[key],
                "got": got[key],
                "matching": agree[key],
            }
        )
    return rows


def render(record: dict[str, Any], report: Report, limit: int = 20) -> str:
    """The check for people: the summary table, then the first differences."""
    rows = summary(record, report)
    columns = ("provider", "status", "expected", "got", "matching")
    lines = [table(rows, columns), ""]
    if report.ok:
        lines.append(f"OK: all {report.messages} messages as expected")
    else:
        lines.append(
            f"FAILED: {len(report.differences)} differences in {report.messages} messages"
            + ("" if report.settled else " (processing had not settled)")
        )
        lines += [
            f"  {d.provider} {d.client_ref}: {d.field} expected {d.expected}, got {d.got}"
            for d in report.differences[:limit]
        ]
    return "\n".join(lines)


def as_json(record: dict[str, Any], report: Report, limit: int = 100) -> dict[str, Any]:
    """The check for scripts."""
    return {
        "ok": report.ok,
        "settled": report.settled,
        "messages": report.messages,
        "differences": len(report.differences),
        "summary": summary(record, report),
        "first_differences": [
            {
                "provider": d.provider,
                "client_ref": d.client_ref,
                "field": d.field,
                "expected": d.expected,
                "got": d.got,
            }
            for d in report.differences[:limit]
        ],
    }


def table(rows: list[dict[str, Any]], columns: tuple[str, ...]) -> str:
    """A plain text table (as `dlrecon trace` prints them)."""
    cells = [[str(r[c]) for c in columns] for r in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(line.rstrip() for line in lines)
