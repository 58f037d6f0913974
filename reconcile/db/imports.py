"""Imported files (rate cards, invoices): staged by COPY, checked and stored set-based."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from receiver.db import queries
from receiver.db.pool import Connection


@dataclass(frozen=True, slots=True)
class LoadCounts:
    read: int
    imported: int
    refused: int
    present: int = 0


@dataclass(frozen=True, slots=True)
class KnownInvoice:
    id: int
    sha256: str
    file_name: str
    imported_at: datetime
    lines_read: int
    lines_imported: int
    lines_refused: int


async def lock_rate_cards(conn: Connection) -> None:
    await conn.execute(queries.get("lock_rate_card_imports"))


async def lock_invoice(conn: Connection, provider_key: str, invoice_id: str) -> None:
    await conn.execute(queries.get("lock_invoice_import"), provider_key, invoice_id)


async def find_invoice(conn: Connection, provider_key: str, invoice_id: str) -> KnownInvoice | None:
    row = await conn.fetchrow(queries.get("find_invoice"), provider_key, invoice_id)
    return KnownInvoice(**dict(row)) if row else None


async def insert_file(
    conn: Connection,
    *,
    kind: str,
    file_name: str,
    sha256: str,
    provider_key: str | None = None,
    invoice_id: str | None = None,
) -> int:
    file_id: int = await conn.fetchval(
        queries.get("insert_import_file"), kind, provider_key, invoice_id, file_name, sha256
    )
    return file_id


async def finish_file(conn: Connection, file_id: int, counts: LoadCounts) -> None:
    await conn.execute(
        queries.get("finish_import_file"),
        file_id,
        counts.read,
        counts.imported,
        counts.refused,
        counts.present,
    )


async def stage(
    conn: Connection,
    *,
    staging: str,
    create_query: str,
    columns: Sequence[str],
    chunks: Callable[[], AsyncIterator[bytes]],
) -> None:
    """Create the staging table and COPY the feed's chunks into `columns` of it."""
    await conn.execute(queries.get(create_query))
    await conn.copy_to_table(staging, source=chunks(), columns=list(columns), format="csv")


async def load_invoice_lines(
    conn: Connection,
    *,
    file_id: int,
    provider_key: str,
    width: int,
    date_regex: str,
    date_groups: Sequence[int],
    timezone: str,
    decimal_separator: str,
    sign: int,
    currency: str | None,
    currencies: Sequence[str],
    date_format: str,
) -> LoadCounts:
    row = await conn.fetchrow(
        queries.get("load_invoice_lines"),
        file_id,
        provider_key,
        width,
        date_regex,
        list(date_groups),
        timezone,
        decimal_separator,
        sign,
        currency,
        list(currencies),
        date_format,
    )
    assert row is not None
    return LoadCounts(row["read"], row["imported"], row["refused"])


async def load_rate_cards(
    conn: Connection,
    *,
    file_id: int,
    width: int,
    provider_keys: Sequence[str],
    currencies: Sequence[str],
    regions: Sequence[tuple[str, str]],
    date_regex: str,
    date_groups: Sequence[int],
) -> LoadCounts:
    row = await conn.fetchrow(
        queries.get("load_rate_cards"),
        file_id,
        width,
        list(provider_keys),
        list(currencies),
        [r for r, _ in regions],
        [c for _, c in regions],
        date_regex,
        list(date_groups),
    )
    assert row is not None
    return LoadCounts(row["read"], row["imported"], row["refused"], row["present"])


async def refusals(conn: Connection, file_id: int) -> AsyncIterator[tuple[int, str]]:
    """The refused lines of an import, in line order, read with a cursor (inside a
    transaction): however many there are, they are never all in memory."""
    async for row in conn.cursor(queries.get("import_refusals"), file_id):
        yield row["line_no"], row["reason"]
