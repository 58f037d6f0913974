"""Executing one run: its working tables, then every rule of `sql/rules/` (set-based SQL, all
over one snapshot), then what it found recorded with the findings' lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

import sql
from receiver.db.pool import Connection, describe, retried
from reconcile.db import runs

log = structlog.get_logger(__name__)

# rule name (or a prepare step), findings (None for a step), seconds
Progress = Callable[[str, int | None, float], None]


class RuleError(Exception):
    """A rule added findings under another rule's name."""


@dataclass(frozen=True, slots=True)
class Outcome:
    run_id: int
    counts: tuple[runs.RuleCount, ...]

    @property
    def findings(self) -> int:
        return sum(c.findings for c in self.counts)


def _silent(step: str, findings: int | None, seconds: float) -> None:
    return None


async def execute(
    conn: Connection, run_id: int, *, work_mem: str = "64MB", progress: Progress = _silent
) -> Outcome:
    """Run `run_id` (in state running) on this connection, which must hold the runs lock.
    The run is marked succeeded, or failed with the error, which is raised again."""
    started = time.perf_counter()
    log.info("reconcile_run_started", run_id=run_id)
    try:
        counts = await _rules(conn, run_id, work_mem, progress)
        await retried(
            lambda: _record(conn, run_id, counts, progress), event="reconcile_record_retry"
        )
    except Exception as exc:
        log.error("reconcile_run_failed", run_id=run_id, error=describe(exc))
        # the connection may be gone: the next holder of the lock marks the run interrupted
        with contextlib.suppress(Exception):
            await _cleanup(conn)
            await runs.fail(conn, run_id, describe(exc))
        raise
    await _cleanup(conn)
    outcome = Outcome(run_id, tuple(counts))
    log.info(
        "reconcile_run_finished",
        run_id=run_id,
        findings=outcome.findings,
        seconds=round(time.perf_counter() - started, 3),
    )
    return outcome


async def _rules(
    conn: Connection, run_id: int, work_mem: str, progress: Progress
) -> list[runs.RuleCount]:
    await conn.execute("DISCARD TEMP")
    # deterministic text for times and intervals in explanations and evidence
    await conn.execute(
        "SELECT set_config('work_mem', $1, false), set_config('TimeZone', 'UTC', false),"
        " set_config('DateStyle', 'ISO, YMD', false),"
        " set_config('IntervalStyle', 'postgres', false)",
        work_mem,
    )
    if (settle := await runs.settle_seconds(conn, run_id)) > 0:
        await asyncio.sleep(settle)
    counts = []
    # one snapshot for every step and rule
    async with conn.transaction(isolation="repeatable_read"):
        for step in runs.PREPARE:
            began = time.perf_counter()
            await runs.prepare(conn, run_id, step)
            progress(step, None, time.perf_counter() - began)
        for rule in sql.rules().values():
            began = time.perf_counter()
            found = await runs.apply_rule(conn, rule, run_id)
            seconds = time.perf_counter() - began
            if await runs.count_findings(conn, rule.name) != found:
                raise RuleError(f"rule {rule.name} added findings under another rule's name")
            counts.append(runs.RuleCount(rule.name, found, round(seconds * 1000)))
            progress(rule.name, found, seconds)
    return counts


async def _record(
    conn: Connection, run_id: int, counts: list[runs.RuleCount], progress: Progress
) -> None:
    async with conn.transaction():
        await runs.record(conn, run_id, counts, lambda step, seconds: progress(step, None, seconds))
        await runs.finish(conn, run_id)


async def _cleanup(conn: Connection) -> None:
    await conn.execute("DISCARD TEMP")
    await conn.execute("RESET work_mem")
