"""`dlrecon import messages`: CSV or JSONL files, streamed in chunks into set-based SQL."""

from __future__ import annotations

import asyncio
import csv
import itertools
import json
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import structlog

from receiver.db import imports
from receiver.db import messages as message_store
from receiver.db.pool import Connection, retried, transaction
from receiver.registration import links, plain, register
from receiver.registration.model import ItemResult
from receiver.settings import Settings

CSV_COLUMNS = (
    "provider",
    "channel",
    "client_ref",
    "provider_message_ids",
    "destination",
    "submitted_at",
    "segments",
    "value",
    "cost",
    "currency",
    "text",
)
CHUNK = 20_000

log = structlog.get_logger(__name__)


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    created: int = 0
    existing: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def _csv_rows(handle: IO[str], columns: dict[str, str]) -> Iterator[tuple[int, Any]]:
    """What `csv.DictReader` gives (blank lines skipped, a short row's missing fields empty),
    as items without empty fields, named per `columns`, with the record's (last) line number."""
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None:
        return
    rename = {header: name for name, header in columns.items()}
    names = {h: rename.get(h, h) for h in header}
    for row in reader:
        if not row:
            continue
        line = reader.line_num
        if len(row) > len(header):
            yield line, ValueError("more fields than the header names")
            continue
        record: dict[str, str | None] = dict(zip(header, row, strict=False))
        if len(row) < len(header):
            record.update(dict.fromkeys(header[len(row) :]))
        item: dict[str, Any] = {names[h]: value for h, value in record.items() if value}
        if "provider_message_ids" in item:
            item["provider_message_ids"] = [p for p in item["provider_message_ids"].split("|") if p]
        yield line, item


def _jsonl_rows(handle: IO[str]) -> Iterator[tuple[int, Any]]:
    for line_no, line in enumerate(handle, start=1):
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            yield line_no, ValueError(f"invalid JSON: {exc.msg}")
        except (ValueError, RecursionError) as exc:  # numbers too long, nesting too deep
            yield line_no, ValueError(f"invalid JSON: {exc}"[:200])


def rows(
    path: Path, handle: IO[str], fmt: str | None, columns: dict[str, str]
) -> Iterator[tuple[int, Any]]:
    """(line number, item or ValueError) for each record of the file."""
    kind = fmt or ("jsonl" if path.suffix.lower() in (".jsonl", ".ndjson", ".json") else "csv")
    return _jsonl_rows(handle) if kind == "jsonl" else _csv_rows(handle, columns)


@dataclass(slots=True)
class _Chunk:
    """Records read and prepared, ready to be written in one transaction."""

    rows: int
    now: datetime
    staged: list[tuple[Any, ...]] = field(default_factory=list)  # `imports.COLUMNS`, file order
    prepared: dict[int, register.Prepared] = field(default_factory=dict)  # rows not plain
    errors: list[tuple[int, str]] = field(default_factory=list)
    copy: bytes = b""  # `staged` as COPY data


def _chunks(records: Iterator[tuple[int, Any]], settings: Settings, size: int) -> Iterator[_Chunk]:
    """Up to `size` records at a time: plain rows as staging records directly, the others
    validated and read by their adapter as `POST /v1/messages` does (or their error)."""
    rows_plain = plain.PlainRows(settings)
    while batch := list(itertools.islice(records, size)):
        chunk = _Chunk(len(batch), datetime.now(UTC))
        for line, item in batch:
            if isinstance(item, ValueError):
                chunk.errors.append((line, str(item)))
                continue
            record = rows_plain.record(line, item, chunk.now)
            if record is None:
                outcome = register.prepare(line, item, settings)
                if isinstance(outcome, ItemResult):
                    chunk.errors.append((line, outcome.error or "invalid"))
                    continue
                chunk.prepared[line] = outcome
                record = (*message_store.staging_record(register.new_message(outcome)), False, None)
            chunk.staged.append(record)
        chunk.staged = imports.with_links(chunk.staged, links.link(imports.link_keys(chunk.staged)))
        chunk.copy = imports.copy_data(chunk.staged)
        yield chunk


async def _write(conn: Connection, chunk: _Chunk, report: ImportReport) -> None:
    """Register a chunk in one transaction and add its outcome to the report."""
    report.rows += chunk.rows
    report.errors.extend(chunk.errors)
    if not chunk.staged:
        return
    result = await retried(lambda: _write_once(conn, chunk), event="import_chunk_retry")
    report.created += result.created
    report.existing += result.existing
    report.errors.extend((line, register.conflict_error(other)) for line, other in result.conflicts)


async def _write_once(conn: Connection, chunk: _Chunk) -> imports.ChunkResult:
    async with transaction(conn):
        message_ids = await imports.stage(conn, chunk.copy)
        events = [
            (line, seq, event)
            for line, message_id in sorted(message_ids.items())
            for seq, event in enumerate(
                register.submit_events(chunk.prepared[line], message_id, chunk.now)
            )
        ]
        return await imports.finish(conn, events)


async def import_messages(
    conn: Connection,
    settings: Settings,
    records: Iterator[tuple[int, Any]],
    *,
    progress: Callable[[int], None] = lambda n: None,
    chunk_size: int = CHUNK,
) -> ImportReport:
    """Register every good record; report bad ones by line number. Each chunk commits alone.

    Plain rows (no submit response, simple values: `plain.PlainRows`) skip pydantic and
    the adapter; the others are prepared as `POST /v1/messages` prepares them. Both go through
    one staging table per chunk, in file order, and are registered with set-based SQL. A
    thread reads and prepares the next chunk while Postgres writes this one.
    """
    report = ImportReport()
    chunks = _chunks(records, settings, chunk_size)
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(1, thread_name_prefix="import-reader") as reader:
        upcoming = loop.run_in_executor(reader, next, chunks, None)
        try:
            while (chunk := await upcoming) is not None:
                upcoming = loop.run_in_executor(reader, next, chunks, None)
                await _write(conn, chunk, report)
                progress(chunk.rows)
        finally:
            upcoming.cancel()
    report.errors.sort()
    return report
