"""`dlrecon import messages`: CSV or JSONL files, streamed in chunks through the registry."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

from receiver import registry
from receiver.db.pool import Connection
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
CHUNK = 5000


@dataclass(slots=True)
class ImportReport:
    rows: int = 0
    created: int = 0
    existing: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (line number, reason)


def _csv_rows(handle: IO[str], columns: dict[str, str]) -> Iterator[tuple[int, Any]]:
    reader = csv.DictReader(handle)
    rename = {header: name for name, header in columns.items()}
    for record in reader:
        line = reader.line_num
        if None in record:
            yield line, ValueError("more fields than the header names")
            continue
        item: dict[str, Any] = {}
        for header, value in record.items():
            name = rename.get(header, header)
            if value is None or value == "":
                continue
            item[name] = value
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


async def import_messages(
    conn: Connection,
    settings: Settings,
    records: Iterator[tuple[int, Any]],
    *,
    progress: Callable[[int], None] = lambda n: None,
) -> ImportReport:
    """Register every good record; report bad ones by line number. Each chunk commits alone."""
    report = ImportReport()
    chunk: list[tuple[int, Any]] = []

    async def flush() -> None:
        results = await registry.register(conn, settings, [item for _, item in chunk])
        for (line, _), result in zip(chunk, results, strict=True):
            if result.error:
                report.errors.append((line, result.error))
            elif result.created:
                report.created += 1
            else:
                report.existing += 1
        progress(len(chunk))
        chunk.clear()

    for line, item in records:
        report.rows += 1
        if isinstance(item, ValueError):
            report.errors.append((line, str(item)))
            continue
        chunk.append((line, item))
        if len(chunk) >= CHUNK:
            await flush()
    if chunk:
        await flush()
    report.errors.sort()
    return report
