"""Rate card and invoice imports: the file streamed into a staging table by COPY, checked and
stored with set-based SQL, every refused line reported with its number and reason, the good
lines kept, and a summary."""

from __future__ import annotations

import asyncio
import functools
import hashlib
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import phonenumbers
import pycountry

from receiver.db.pool import Connection
from receiver.errors import InvalidInput
from reconcile import dates
from reconcile.csvfeed import Feed, FileError, Header, find_columns
from reconcile.db import imports
from reconcile.settings import INVOICE_FIELDS, InvoiceMapping

RATE_CARD_FIELDS = (
    "provider",
    "channel",
    "prefix",
    "price_per_segment",
    "currency",
    "valid_from",
    "valid_to",
)
_FIXED = ("line_no", "width", "refusal")

OnRefused = Callable[[int, str], None]
Progress = Callable[[int], None]


def _nothing(*args: object) -> None:
    return None


@dataclass(frozen=True, slots=True)
class ImportSummary:
    """What an import did. `already_imported`: the same invoice was imported before (nothing
    changed; the counts are those of that import)."""

    kind: str
    file_name: str
    file_id: int
    lines_read: int
    imported: int
    refused: int
    present: int
    invoice_id: str | None = None
    already_imported: bool = False


@functools.cache
def currency_codes() -> tuple[str, ...]:
    """The ISO 4217 codes (from pycountry)."""
    return tuple(sorted(c.alpha_3 for c in pycountry.currencies))


@functools.cache
def calling_codes() -> tuple[tuple[str, str], ...]:
    """(ISO country code, its calling code) for every region phonenumbers knows."""
    return tuple(
        sorted(
            (region, str(phonenumbers.country_code_for_region(region)))
            for region in phonenumbers.SUPPORTED_REGIONS
        )
    )


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


async def _chunks(feed: Feed, header: Header) -> AsyncIterator[bytes]:
    """The feed's COPY chunks, each read in a thread while Postgres takes the one before."""
    loop = asyncio.get_running_loop()
    with ThreadPoolExecutor(1, thread_name_prefix="import-reader") as reader:
        chunks = feed.chunks(header)
        upcoming = loop.run_in_executor(reader, next, chunks, None)
        try:
            while (chunk := await upcoming) is not None:
                upcoming = loop.run_in_executor(reader, next, chunks, None)
                yield chunk
        finally:
            upcoming.cancel()


def _columns(header: Header, fields: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    present = [f for f, p in zip(fields, header.positions, strict=True) if p is not None]
    return [*_FIXED, *present, *extra]


async def import_rate_cards(
    conn: Connection,
    path: Path,
    *,
    provider_keys: Collection[str],
    on_refused: OnRefused = _nothing,
    progress: Progress = _nothing,
) -> ImportSummary:
    """Import a rate card CSV (`provider,channel,prefix,price_per_segment,currency,valid_from,
    valid_to`; valid_to may be left out or empty: open-ended). One transaction."""
    sha = await asyncio.to_thread(sha256_of, path)
    feed = Feed(path, progress=progress)
    try:
        header = find_columns(feed.header(), RATE_CARD_FIELDS, {}, required=RATE_CARD_FIELDS[:-1])
        iso = dates.pattern("iso")
        async with conn.transaction():
            await imports.lock_rate_cards(conn)
            file_id = await imports.insert_file(
                conn, kind="ratecard", file_name=path.name, sha256=sha
            )
            await imports.stage(
                conn,
                staging="rate_card_staging",
                create_query="create_rate_card_staging",
                columns=_columns(header, RATE_CARD_FIELDS),
                chunks=lambda: _chunks(feed, header),
            )
            counts = await imports.load_rate_cards(
                conn,
                file_id=file_id,
                width=header.width,
                provider_keys=sorted(provider_keys),
                currencies=currency_codes(),
                regions=calling_codes(),
                date_regex=iso.regex,
                date_groups=iso.groups,
            )
            await imports.finish_file(conn, file_id, counts)
            async for line, reason in imports.refusals(conn, file_id):
                on_refused(line, reason)
    finally:
        feed.close()
    return ImportSummary(
        "ratecard", path.name, file_id, counts.read, counts.imported, counts.refused, counts.present
    )


async def import_invoice(
    conn: Connection,
    path: Path,
    *,
    provider_key: str,
    provider_keys: Collection[str],
    mapping: InvoiceMapping,
    canonical_id: Callable[[str], str] = str.strip,
    invoice_id: str | None = None,
    on_refused: OnRefused = _nothing,
    progress: Progress = _nothing,
) -> ImportSummary:
    """Import one provider invoice or CDR export, laid out as `mapping` says. The invoice is
    (provider key, invoice id: the file's SHA-256 unless given); importing it again changes
    nothing. One transaction."""
    if provider_key not in provider_keys:
        known = ", ".join(sorted(provider_keys)) or "none"
        raise InvalidInput(f"unknown provider key {provider_key!r} (configured: {known})")
    sha = await asyncio.to_thread(sha256_of, path)
    invoice_id = invoice_id or sha
    known_invoice = await imports.find_invoice(conn, provider_key, invoice_id)
    if known_invoice is not None:
        return _already(known_invoice, path, provider_key, invoice_id, sha)
    feed = Feed(path, delimiter=mapping.delimiter, encoding=mapping.encoding, progress=progress)
    try:
        required = ["billed_at", "amount"] + (["currency"] if mapping.currency is None else [])
        header = find_columns(feed.header(), INVOICE_FIELDS, mapping.columns, required=required)
        ids = dict(zip(INVOICE_FIELDS, header.positions, strict=True))
        if ids["provider_message_id"] is None and ids["client_ref"] is None:
            raise FileError(
                "the header has neither a provider_message_id nor a client_ref column"
                + (f" (mapped: {mapping.columns})" if mapping.columns else "")
            )
        present = [f for f in INVOICE_FIELDS if ids[f] is not None]
        if ids["provider_message_id"] is not None:
            feed_derive = (present.index("provider_message_id"), canonical_id)
            extra = ["canonical_id"]
        else:
            feed_derive, extra = None, []
        feed.set_derive(feed_derive)
        pattern = dates.pattern(mapping.date_format)
        async with conn.transaction():
            await imports.lock_invoice(conn, provider_key, invoice_id)
            known_invoice = await imports.find_invoice(conn, provider_key, invoice_id)
            if known_invoice is not None:  # imported meanwhile by someone else
                return _already(known_invoice, path, provider_key, invoice_id, sha)
            file_id = await imports.insert_file(
                conn,
                kind="invoice",
                file_name=path.name,
                sha256=sha,
                provider_key=provider_key,
                invoice_id=invoice_id,
            )
            await imports.stage(
                conn,
                staging="invoice_staging",
                create_query="create_invoice_staging",
                columns=_columns(header, INVOICE_FIELDS, extra),
                chunks=lambda: _chunks(feed, header),
            )
            counts = await imports.load_invoice_lines(
                conn,
                file_id=file_id,
                provider_key=provider_key,
                width=header.width,
                date_regex=pattern.regex,
                date_groups=pattern.groups,
                timezone=mapping.timezone,
                decimal_separator=mapping.decimal_separator,
                sign=-1 if mapping.amount_sign == "negative" else 1,
                currency=mapping.currency,
                currencies=currency_codes(),
                date_format=mapping.date_format,
            )
            await imports.finish_file(conn, file_id, counts)
            async for line, reason in imports.refusals(conn, file_id):
                on_refused(line, reason)
    finally:
        feed.close()
    return ImportSummary(
        "invoice",
        path.name,
        file_id,
        counts.read,
        counts.imported,
        counts.refused,
        0,
        invoice_id=invoice_id,
    )


def _already(
    known: imports.KnownInvoice, path: Path, provider_key: str, invoice_id: str, sha: str
) -> ImportSummary:
    if known.sha256 != sha:
        raise InvalidInput(
            f"invoice {invoice_id!r} of {provider_key} was imported from another file "
            f"({known.file_name}, imported {known.imported_at.isoformat(timespec='seconds')}); "
            "give this one its own --invoice-id"
        )
    return ImportSummary(
        "invoice",
        path.name,
        known.id,
        known.lines_read,
        0,
        0,
        known.lines_imported,
        invoice_id=invoice_id,
        already_imported=True,
    )
