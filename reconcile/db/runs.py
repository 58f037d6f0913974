"""Reconciliation runs: the lock, their rows, executing the prepare steps and the rules, and
recording what a run found (findings, observations, amounts, the ledger)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sql
from receiver.db import queries
from receiver.db.pool import Connection

# the steps that build a run's working tables, in order; only fill_run_params takes the run id
PREPARE = (
    "prepare_run_params",
    "fill_run_params",
    "prepare_run_messages",
    "index_run_messages",
    "prepare_run_statuses",
    "analyze_run_messages",
    "prepare_run_prices",
    "prepare_run_lines",
    "index_run_lines",
    "analyze_run_lines",
    "prepare_run_facts",
    "analyze_run_facts",
    "prepare_run_findings",
)
_WITH_RUN_ID = {"fill_run_params"}


@dataclass(frozen=True, slots=True)
class Run:
    id: int
    state: str
    window_from: datetime
    window_to: datetime
    as_of: datetime
    config: dict[str, Any]
    trigger: str
    requested_by: str | None
    schedule_slot: datetime | None
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error: str | None
    duration_seconds: float | None


@dataclass(frozen=True, slots=True)
class RuleCount:
    rule: str
    findings: int
    duration_ms: int


@dataclass(frozen=True, slots=True)
class RuleAmount:
    rule: str
    currency: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class LedgerRow:
    provider_key: str
    currency: str | None
    registered: int
    delivered: int
    read: int
    failed: int
    expired: int
    rejected: int
    pending: int
    registered_value: Decimal
    invoiced_lines: int
    invoiced_amount: Decimal
    matched_lines: int
    matched_amount: Decimal
    unmatched_lines: int
    unmatched_amount: Decimal
    balanced: bool


@dataclass(frozen=True, slots=True)
class RunFinding:
    """A finding as one run saw it."""

    id: int
    rule: str
    subject: str
    provider_key: str | None
    message_id: int | None
    invoice_line_id: int | None
    event_id: int | None
    amount: Decimal | None
    currency: str | None
    explanation: str
    evidence: dict[str, Any]
    state: str
    reopened: bool


async def try_lock(conn: Connection) -> bool:
    locked: bool = await conn.fetchval(queries.get("try_lock_runs"))
    return locked


async def lock(conn: Connection) -> None:
    await conn.execute(queries.get("lock_runs"))


async def unlock(conn: Connection) -> None:
    await conn.execute(queries.get("unlock_runs"))


async def fail_interrupted(conn: Connection) -> list[int]:
    return [r["id"] for r in await conn.fetch(queries.get("fail_interrupted_runs"))]


async def insert(
    conn: Connection,
    *,
    state: str,
    window_from: datetime,
    window_to: datetime,
    as_of: datetime | None,
    config: dict[str, Any],
    trigger: str,
    requested_by: str | None,
    schedule_slot: datetime | None = None,
) -> int | None:
    """A new run (queued, or running for the caller to execute); None when a scheduled run of
    this slot exists already."""
    run_id: int | None = await conn.fetchval(
        queries.get("insert_run"),
        state,
        window_from,
        window_to,
        as_of,
        config,
        trigger,
        requested_by,
        schedule_slot,
    )
    return run_id


async def claim_queued(conn: Connection) -> int | None:
    run_id: int | None = await conn.fetchval(queries.get("claim_queued_run"))
    return run_id


async def finish(conn: Connection, run_id: int) -> None:
    await conn.execute(queries.get("finish_run"), run_id)


async def fail(conn: Connection, run_id: int, error: str) -> None:
    await conn.execute(queries.get("fail_run"), run_id, error[:2000])


async def latest_schedule_slot(conn: Connection) -> datetime | None:
    slot: datetime | None = await conn.fetchval(queries.get("latest_schedule_slot"))
    return slot


async def get(conn: Connection, run_id: int) -> Run | None:
    row = await conn.fetchrow(queries.get("get_run"), run_id)
    return Run(**dict(row)) if row else None


async def rule_counts(conn: Connection, run_id: int) -> list[RuleCount]:
    return [RuleCount(**dict(r)) for r in await conn.fetch(queries.get("run_rules"), run_id)]


async def rule_amounts(conn: Connection, run_id: int) -> list[RuleAmount]:
    return [RuleAmount(**dict(r)) for r in await conn.fetch(queries.get("run_amounts"), run_id)]


async def ledger(conn: Connection, run_id: int) -> list[LedgerRow]:
    return [LedgerRow(**dict(r)) for r in await conn.fetch(queries.get("run_ledger"), run_id)]


async def settle_seconds(conn: Connection, run_id: int) -> float:
    seconds: float = await conn.fetchval(queries.get("run_settle_seconds"), run_id)
    return seconds


async def prepare(conn: Connection, run_id: int, step: str) -> None:
    """One prepare step (`PREPARE`)."""
    if step in _WITH_RUN_ID:
        await conn.execute(queries.get(step), run_id)
    else:
        await conn.execute(queries.get(step))


async def apply_rule(conn: Connection, rule: sql.Rule, run_id: int) -> int:
    """Run one rule; the number of findings it added."""
    status = await conn.execute(rule.sql, run_id)
    return int(status.rsplit(" ", 1)[-1])


async def count_findings(conn: Connection, rule: str) -> int:
    """How many findings of the run are under this rule's name."""
    n: int = await conn.fetchval(queries.get("count_rule_findings"), rule)
    return n


async def record(
    conn: Connection,
    run_id: int,
    counts: Sequence[RuleCount],
    progress: Callable[[str, float], None] = lambda step, seconds: None,
) -> None:
    """Store what the run found: resolved findings found again are reopened, new ones
    created, all marked seen by this run with what it saw; per-rule counts and amounts and
    the ledger. Must run inside a transaction."""
    began = time.perf_counter()

    def step(name: str) -> None:
        nonlocal began
        progress(name, time.perf_counter() - began)
        began = time.perf_counter()

    reopened = [r["finding_id"] for r in await conn.fetch(queries.get("reopen_findings"), run_id)]
    step("reopen_findings")
    await conn.execute(queries.get("insert_new_findings"), run_id)
    step("insert_new_findings")
    await conn.execute(queries.get("update_seen_findings"), run_id)
    step("update_seen_findings")
    await conn.execute(queries.get("insert_observations"), run_id, reopened)
    step("insert_observations")
    await conn.execute(
        queries.get("insert_run_rules"),
        run_id,
        [c.rule for c in counts],
        [c.findings for c in counts],
        [c.duration_ms for c in counts],
    )
    await conn.execute(queries.get("insert_run_amounts"), run_id)
    step("insert_run_amounts")
    await conn.execute(queries.get("insert_ledger"), run_id)
    step("insert_ledger")


async def findings_page(
    conn: Connection,
    run_id: int,
    *,
    rule: str | None = None,
    provider_key: str | None = None,
    after: tuple[str, str] | None = None,
    limit: int = 1000,
) -> list[RunFinding]:
    """The run's findings in (rule, subject) order, after `after` (keyset paging)."""
    rows = await conn.fetch(
        queries.get("run_findings_page"),
        run_id,
        rule,
        provider_key,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    return [RunFinding(**_decoded(dict(r))) for r in rows]


async def all_findings(
    conn: Connection, run_id: int, *, rule: str | None = None, provider_key: str | None = None
) -> AsyncIterator[RunFinding]:
    """Every finding of the run in (rule, subject) order, read with a cursor (inside a
    transaction): one sort, and never all of them in memory."""
    query = queries.get("all_run_findings")
    async for row in conn.cursor(query, run_id, rule, provider_key, prefetch=2000):
        yield RunFinding(**_decoded(dict(row)))


def _decoded(row: dict[str, Any]) -> dict[str, Any]:
    if isinstance(row.get("evidence"), str):  # a connection without the JSON codec
        row["evidence"] = json.loads(row["evidence"])
    return row
