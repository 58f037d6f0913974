"""Retention of raw inbox rows: months past the window are archived to compressed NDJSON, then
their partitions dropped (`dlrecon retention`); `dlrecon replay --from-archive` reads them back.

An archive is one file per month, `inbox-YYYYMM.ndjson.gz`: one JSON object per stored request
with every column of `inbox_requests` (the body as base64), in id order. It is written to a
temporary name, flushed to disk and renamed, and read back and counted, before the month is
dropped. A month with a row still pending, held or quarantined is never dropped. What is kept
forever is the rest: events, messages and their parts, findings (docs/configuration.md).
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from receiver.db import retention as store
from receiver.db.inbox import InboxRow
from receiver.db.pool import Pool, connection
from receiver.settings import Duration

ARCHIVE_GLOB = "inbox-*.ndjson.gz"


class RetentionSettings(BaseModel):
    """`[retention]`: how long raw inbox rows are kept in the database."""

    model_config = ConfigDict(extra="forbid")

    # months whose every row is older than this are archived and dropped
    older_than: Duration = 90 * 86400
    # where `dlrecon retention` writes archives when --archive is not given
    archive: Path | None = None


def _row_json(r: Any) -> str:
    return json.dumps(
        {
            "id": r["id"],
            "provider_key": r["provider_key"],
            "source": r["source"],
            "method": r["method"],
            "path": r["path"],
            "query": r["query"],
            "headers": r["headers"],
            "body": base64.b64encode(r["body"]).decode(),
            "remote_addr": r["remote_addr"],
            "verification": r["verification"],
            "verification_reason": r["verification_reason"],
            "received_at": r["received_at"].isoformat(),
            "poll_request": r["poll_request"],
            "response_status": r["response_status"],
        },
        separators=(",", ":"),
        ensure_ascii=False,
    )


def archive_path(folder: Path, month: store.Month) -> Path:
    return folder / f"inbox-{month.name.removeprefix('inbox_requests_')}.ndjson.gz"


async def _archive(pool: Pool, month: store.Month, folder: Path) -> tuple[Path, int]:
    """Write the month to its archive file (durably, then renamed); the rows written."""
    path = archive_path(folder, month)
    partial = path.with_name(path.name + ".partial")
    n = 0
    async with connection(pool, transaction=True) as conn:
        # `dlrecon retention` is one task of a command of its own: blocking writes block nothing
        with open(partial, "wb") as raw:  # noqa: ASYNC230
            with gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
                async for r in store.rows(conn, month):
                    out.write(_row_json(r).encode() + b"\n")
                    n += 1
            raw.flush()
            os.fsync(raw.fileno())
    if sum(1 for _ in read_file(partial)) != n:  # read back whole before anything is dropped
        raise OSError(f"{partial}: the archive does not read back with {n} rows")
    os.replace(partial, path)
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return path, n


@dataclass(slots=True)
class Outcome:
    """What one retention run did, per month."""

    dropped: list[tuple[str, int, Path]] = field(default_factory=list)  # month, rows, archive
    kept: list[tuple[str, str]] = field(default_factory=list)  # month, why


async def run(
    pool: Pool, *, older_than: timedelta, folder: Path, now: datetime | None = None
) -> Outcome:
    """Archive and drop every month of the inbox whose rows are all older than `older_than`,
    unless a row of it is still pending, held or quarantined."""
    cutoff = (now or datetime.now(UTC)) - older_than
    folder.mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 (as above)
    outcome = Outcome()
    async with connection(pool) as conn:
        months = await store.months(conn)
    for month in months:
        if month.upper > cutoff:
            continue
        if month.needed:
            outcome.kept.append(
                (month.name, f"{month.pending} pending, {month.exceptions} held or quarantined")
            )
            continue
        path, n = await _archive(pool, month, folder)
        try:
            async with connection(pool) as conn:
                dropped = await store.drop(conn, month, n)
        except store.MonthRefused as exc:
            outcome.kept.append((month.name, str(exc)))
            continue
        outcome.dropped.append((month.name, dropped, path))
    return outcome


def read_file(path: Path) -> Iterator[InboxRow]:
    """The stored requests of one archive file, as the processor takes them."""
    with gzip.open(path, "rt", encoding="utf-8") as lines:
        for line in lines:
            d = json.loads(line)
            yield InboxRow(
                id=d["id"],
                provider_key=d["provider_key"],
                method=d["method"],
                path=d["path"],
                query=d["query"],
                headers=d["headers"],
                body=base64.b64decode(d["body"]),
                remote_addr=d["remote_addr"],
                received_at=datetime.fromisoformat(d["received_at"]),
                source=d["source"],
                poll_request=d["poll_request"],
                response_status=d["response_status"],
            )


def archive_files(folder: Path) -> list[Path]:
    """The archive files of a folder, oldest month first."""
    return sorted(folder.glob(ARCHIVE_GLOB))
