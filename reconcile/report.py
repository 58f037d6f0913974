"""What a run found, as people and programs read it: rows and a CSV that is the same, byte for
byte, for two runs with the same window and cut-off."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import AsyncIterator, Iterable
from typing import Any

from receiver.db.pool import Connection, transaction
from reconcile import views
from reconcile.db import runs

CSV_COLUMNS = (
    "finding_id",
    "rule",
    "subject",
    "provider",
    "message_id",
    "invoice_line_id",
    "event_id",
    "amount",
    "currency",
    "explanation",
    "evidence",
)


def row(finding: runs.RunFinding) -> dict[str, Any]:
    """One finding of a run as a flat row (money as a string, evidence as compact JSON)."""
    return {
        "finding_id": finding.id,
        "rule": finding.rule,
        "subject": finding.subject,
        "provider": finding.provider_key,
        "message_id": finding.message_id,
        "invoice_line_id": finding.invoice_line_id,
        "event_id": finding.event_id,
        "amount": None if finding.amount is None else str(finding.amount),
        "currency": finding.currency,
        "explanation": finding.explanation,
        "evidence": json.dumps(finding.evidence, sort_keys=True, separators=(",", ":")),
    }


def csv_text(findings: Iterable[runs.RunFinding], *, header: bool = True) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(row(f) for f in findings)
    return out.getvalue()


async def all_findings(
    conn: Connection,
    run_id: int,
    *,
    rule: str | None = None,
    provider_key: str | None = None,
    page: int = 5000,
) -> AsyncIterator[list[runs.RunFinding]]:
    """Every finding of the run, `page` at a time (one cursor, in one transaction)."""
    async with transaction(conn):
        batch: list[runs.RunFinding] = []
        async for finding in runs.all_findings(conn, run_id, rule=rule, provider_key=provider_key):
            batch.append(finding)
            if len(batch) == page:
                yield batch
                batch = []
        if batch:
            yield batch


async def run_view(conn: Connection, run_id: int) -> views.RunView | None:
    """A run with its counts and amounts by rule and its ledger (None: no such run)."""
    run = await runs.get(conn, run_id)
    if run is None:
        return None
    return views.run_view(
        run,
        await runs.rule_counts(conn, run_id),
        await runs.rule_amounts(conn, run_id),
        await runs.ledger(conn, run_id),
    )
