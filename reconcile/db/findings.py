"""Findings and their lifecycle: listing, one finding with its history, changing its state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from receiver.db import queries
from receiver.db.pool import Connection


@dataclass(frozen=True, slots=True)
class Finding:
    id: int
    rule: str
    subject: str
    provider_key: str | None
    message_id: int | None
    invoice_line_id: int | None
    event_id: int | None
    state: str
    note: str | None
    state_by: str | None
    state_at: datetime | None
    first_seen_run: int
    last_seen_run: int
    first_seen_at: datetime
    last_seen_at: datetime
    amount: Decimal | None
    currency: str | None
    explanation: str
    evidence: dict[str, Any]
    runs: int


@dataclass(frozen=True, slots=True)
class Change:
    at: datetime
    by: str
    from_state: str | None
    to_state: str
    note: str | None
    run_id: int | None


async def page(
    conn: Connection,
    *,
    rule: str | None = None,
    state: str | None = None,
    provider_key: str | None = None,
    after_id: int | None = None,
    limit: int = 100,
) -> list[Finding]:
    rows = await conn.fetch(
        queries.get("list_findings"), rule, state, provider_key, after_id, limit
    )
    return [Finding(**dict(r)) for r in rows]


async def get(conn: Connection, finding_id: int) -> Finding | None:
    row = await conn.fetchrow(queries.get("get_finding"), finding_id)
    return Finding(**dict(row)) if row else None


async def lock_state(conn: Connection, finding_id: int) -> str | None:
    """The finding's state, its row locked until the transaction ends (None: no such one)."""
    state: str | None = await conn.fetchval(queries.get("lock_finding"), finding_id)
    return state


async def set_state(
    conn: Connection, finding_id: int, *, state: str, note: str | None, by: str, previous: str
) -> None:
    await conn.execute(queries.get("set_finding_state"), finding_id, state, note, by, previous)


async def changes(conn: Connection, finding_id: int) -> list[Change]:
    return [Change(**dict(r)) for r in await conn.fetch(queries.get("finding_changes"), finding_id)]


async def runs(conn: Connection, finding_id: int) -> list[int]:
    return [r["run_id"] for r in await conn.fetch(queries.get("finding_runs"), finding_id)]


async def of_message(conn: Connection, message_id: int) -> list[dict[str, Any]]:
    """The findings that name a message, newest first, as its trace shows them."""
    return [dict(r) for r in await conn.fetch(queries.get("findings_of_message"), message_id)]


async def recent_open(conn: Connection, limit: int) -> list[dict[str, Any]]:
    """The latest findings still open or acknowledged."""
    return [dict(r) for r in await conn.fetch(queries.get("recent_open_findings"), limit)]


async def open_by_rule(conn: Connection) -> dict[str, int]:
    """How many findings are open or acknowledged, by rule."""
    rows = await conn.fetch(queries.get("open_findings_by_rule"))
    return {r["rule"]: r["findings"] for r in rows}


@dataclass(frozen=True, slots=True)
class FinishedRun:
    id: int
    state: str
    seconds: float | None
    finished: float  # Unix time


async def last_finished_run(conn: Connection) -> tuple[FinishedRun | None, dict[str, int]]:
    """The last run that finished, and the findings each of its rules found."""
    row = await conn.fetchrow(queries.get("last_finished_run"))
    if row is None:
        return None, {}
    rules = await conn.fetch(queries.get("run_rule_findings"), row["id"])
    return FinishedRun(**dict(row)), {r["rule"]: r["findings"] for r in rules}
