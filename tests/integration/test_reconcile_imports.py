"""Rate card and invoice imports against a real database: good lines kept, every bad line
refused with its number and reason, identical re-imports change nothing."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from receiver.errors import InvalidInput
from reconcile import importing
from reconcile.csvfeed import FileError
from reconcile.settings import InvoiceMapping

KEYS = {"velip", "geniq", "hellio"}


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


async def rate_cards(
    conn: asyncpg.Connection, path: Path
) -> tuple[importing.ImportSummary, list[tuple[int, str]]]:
    refused: list[tuple[int, str]] = []
    summary = await importing.import_rate_cards(
        conn, path, provider_keys=KEYS, on_refused=lambda n, r: refused.append((n, r))
    )
    return summary, refused


RATES = """provider,channel,prefix,price_per_segment,currency,valid_from,valid_to
velip,sms,55,0.0300,BRL,2026-01-01,
velip,sms,5511,0.0250,BRL,2026-01-01,2027-01-01
velip,sms,BR,0.0300,BRL,2026-01-01,
geniq,sms,+65,0.0400,SGD,2026-01-01T00:00:00Z,
nobody,sms,55,0.03,BRL,2026-01-01,
velip,fax,55,0.03,BRL,2026-01-01,
velip,sms,XX,0.03,BRL,2026-01-01,
velip,sms,56,abc,BRL,2026-01-01,
velip,sms,56,0.03,BRX,2026-01-01,
velip,sms,56,0.03,BRL,2026-02-30,
velip,sms,56,0.03,BRL,2026-03-01,2026-02-01
velip,sms,56,-0.01,BRL,2026-01-01,
velip,sms,56
velip,whatsapp,55,0.0100,USD,2026-01-01,2026-07-01
velip,whatsapp,55,0.0120,USD,2026-06-01,
"""


async def test_rate_card_lines_are_checked_and_good_ones_kept(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    summary, refused = await rate_cards(conn, write(tmp_path, "rates.csv", RATES))
    assert dict(refused) == {
        4: "overlaps line 2 (velip sms prefix 55, 2026-01-01 00:00:00+00 to open end)",
        6: "provider 'nobody' is not a configured provider key",
        7: "channel 'fax' is not sms, whatsapp or voice",
        8: "prefix 'XX' is neither E.164 digits nor an ISO country code",
        9: "price_per_segment 'abc' is not a decimal number",
        10: "currency 'BRX' is not an ISO 4217 code",
        11: "valid_from '2026-02-30' is not an ISO 8601 date",
        12: "valid_to is not after valid_from",
        13: "price_per_segment is negative",
        14: "expected 7 fields, found 3",
        16: "overlaps line 15 (velip whatsapp prefix 55, 2026-01-01 00:00:00+00 to 2026-07-01 00:00:00+00)",
    }
    assert (summary.lines_read, summary.imported, summary.refused, summary.present) == (
        15,
        4,
        11,
        0,
    )
    rows = await conn.fetch(
        "SELECT provider_key, prefix, prefix_given, price_per_segment, currency, line_no FROM rate_cards ORDER BY line_no"
    )
    assert [
        (r["prefix"], r["prefix_given"], r["price_per_segment"], r["line_no"]) for r in rows
    ] == [
        ("55", "55", Decimal("0.0300"), 2),
        ("5511", "5511", Decimal("0.0250"), 3),
        ("65", "+65", Decimal("0.0400"), 5),
        ("55", "55", Decimal("0.0100"), 15),
    ]


async def test_a_rate_card_imported_again_is_already_present_and_overlaps_name_the_file(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    first = write(tmp_path, "rates.csv", RATES)
    await rate_cards(conn, first)
    again, refused = await rate_cards(conn, first)
    assert (again.imported, again.present) == (0, 4)
    assert dict(refused)[4].startswith("overlaps line 2")
    changed = write(
        tmp_path,
        "rates-2.csv",
        "provider,channel,prefix,price_per_segment,currency,valid_from\nvelip,sms,55,0.0310,BRL,2026-06-01\n",
    )
    summary, refused = await rate_cards(conn, changed)
    assert summary.imported == 0
    assert refused == [
        (
            2,
            "overlaps rates.csv line 2 (velip sms prefix 55, 2026-01-01 00:00:00+00 to open end, 0.0300 BRL)",
        )
    ]


INVOICE = """provider_message_id,client_ref,billed_at,destination,segments,amount,currency
aa01,,2026-06-01T10:00:00Z,+5511999990001,1,0.0300,BRL
,ref-2,2026-06-01 10:00:00+02:00,,2,0.0600,brl
,,2026-06-01T10:00:00Z,,1,0.03,BRL
aa04,,2026-06-31,,1,0.03,BRL
aa05,,2026-06-01,,1,0.03.1,BRL
aa06,,2026-06-01,,-1,0.03,BRL
aa07,,2026-06-01,,1,0.03,XYZ
aa08,,2026-06-01,,1,-0.03,BRL
aa09,,2026-06-01,,0,0.03,BRL
aa10,,2026-06-01,,1.5,0.03,BRL
aa11,,2026-06-01
aa12,,,,1,0.03,BRL
aa13,,2026-06-01,,1,,BRL
"""


async def test_invoice_lines_are_checked_and_good_ones_kept(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    refused: list[tuple[int, str]] = []
    summary = await importing.import_invoice(
        conn,
        write(tmp_path, "inv.csv", INVOICE),
        provider_key="geniq",
        provider_keys=KEYS,
        mapping=InvoiceMapping(),
        canonical_id=lambda raw: raw.strip().upper(),
        on_refused=lambda n, r: refused.append((n, r)),
    )
    assert dict(refused) == {
        4: "neither provider_message_id nor client_ref is given",
        5: "billed_at '2026-06-31' is not a date in the format iso",
        6: "amount '0.03.1' is not a decimal number (decimal separator '.')",
        7: "segments -1 is negative",
        8: "currency 'XYZ' is not an ISO 4217 code",
        9: "amount -0.03 is negative (credits are not imported)",
        10: "segments must be at least 1",
        11: "segments '1.5' is not a whole number",
        12: "expected 7 fields, found 3",
        13: "billed_at is missing",
        14: "amount is missing",
    }
    assert (summary.lines_read, summary.imported, summary.refused) == (13, 2, 11)
    rows = await conn.fetch(
        "SELECT line_no, provider_message_id, raw_message_id, client_ref, billed_at, segments, amount, currency FROM invoice_lines ORDER BY line_no"
    )
    assert [tuple(r) for r in rows] == [
        (
            2,
            "AA01",
            "aa01",
            None,
            datetime(2026, 6, 1, 10, tzinfo=UTC),
            1,
            Decimal("0.0300"),
            "BRL",
        ),
        (3, None, None, "ref-2", datetime(2026, 6, 1, 8, tzinfo=UTC), 2, Decimal("0.0600"), "BRL"),
    ]


async def test_the_same_invoice_again_changes_nothing_and_another_file_under_its_id_is_refused(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    path = write(tmp_path, "inv.csv", INVOICE)
    kwargs = {"provider_key": "geniq", "provider_keys": KEYS, "mapping": InvoiceMapping()}
    first = await importing.import_invoice(conn, path, **kwargs)  # type: ignore[arg-type]
    again = await importing.import_invoice(conn, path, **kwargs)  # type: ignore[arg-type]
    assert not first.already_imported and again.already_imported
    assert (again.imported, again.present, again.invoice_id) == (0, 2, first.invoice_id)
    assert await conn.fetchval("SELECT count(*) FROM invoice_lines") == 2
    other = write(tmp_path, "inv-b.csv", INVOICE.replace("0.0300", "0.0310"))
    with pytest.raises(InvalidInput, match="was imported from another file"):
        await importing.import_invoice(conn, other, invoice_id=first.invoice_id, **kwargs)  # type: ignore[arg-type]
    second = await importing.import_invoice(conn, other, invoice_id="2026-06", **kwargs)  # type: ignore[arg-type]
    assert second.imported == 2


async def test_a_provider_layout_is_read_through_its_mapping(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    text = (
        "Data;Mensagem;Valor;Partes;Extra\n"
        "01/06/2026 10:00;123;-0,0300;1;x\n"
        "31/06/2026 10:00;124;-0,0300;1;x\n"
        '"02/06/2026 11:30";125;"-1,5";2;"a;b"\n'
    )
    mapping = InvoiceMapping(
        columns={
            "billed_at": "Data",
            "provider_message_id": "Mensagem",
            "amount": "Valor",
            "segments": "Partes",
        },
        delimiter=";",
        decimal_separator=",",
        date_format="%d/%m/%Y %H:%M",
        timezone="America/Sao_Paulo",
        amount_sign="negative",
        currency="BRL",
    )
    refused: list[tuple[int, str]] = []
    summary = await importing.import_invoice(
        conn,
        write(tmp_path, "velip.csv", text),
        provider_key="velip",
        provider_keys=KEYS,
        mapping=mapping,
        on_refused=lambda n, r: refused.append((n, r)),
    )
    assert refused == [
        (3, "billed_at '31/06/2026 10:00' is not a date in the format %d/%m/%Y %H:%M")
    ]
    rows = await conn.fetch(
        "SELECT provider_message_id, billed_at, amount, currency, segments FROM invoice_lines ORDER BY line_no"
    )
    assert [tuple(r) for r in rows] == [
        ("123", datetime(2026, 6, 1, 13, tzinfo=UTC), Decimal("0.0300"), "BRL", 1),
        ("125", datetime(2026, 6, 2, 14, 30, tzinfo=UTC), Decimal("1.5"), "BRL", 2),
    ]
    assert summary.imported == 2


async def test_unreadable_lines_are_refused_and_the_rest_kept(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    head = b"provider_message_id,billed_at,amount,currency\n"
    body = (
        b"id1,2026-06-01,0.01,EUR\n"
        b"id2,2026-06-01,0.01,EUR\xff\n"
        b"id3,2026-06-01,0.01,EUR\x00\n"
        b'"id4,2026-06-01,0.01,EUR\n'
        b"\n"
        b"id5,2026-06-01,0.01,EUR\n"
    )
    refused: list[tuple[int, str]] = []
    summary = await importing.import_invoice(
        conn,
        write(tmp_path, "bad.csv", head + body),
        provider_key="hellio",
        provider_keys=KEYS,
        mapping=InvoiceMapping(),
        on_refused=lambda n, r: refused.append((n, r)),
    )
    reasons = dict(refused)
    assert reasons[3] == "not valid utf-8 text"
    assert reasons[4] == "contains a NUL character"
    assert 5 in reasons and "CSV" in reasons[5]
    assert summary.imported >= 1
    ids = [
        r["raw_message_id"]
        for r in await conn.fetch("SELECT raw_message_id FROM invoice_lines ORDER BY line_no")
    ]
    assert ids[0] == "id1"


async def test_a_file_without_the_columns_it_needs_is_refused_whole(
    conn: asyncpg.Connection, tmp_path: Path
) -> None:
    with pytest.raises(FileError, match="amount"):
        await importing.import_invoice(
            conn,
            write(tmp_path, "x.csv", "provider_message_id,billed_at,currency\n1,2026-06-01,EUR\n"),
            provider_key="hellio",
            provider_keys=KEYS,
            mapping=InvoiceMapping(),
        )
    with pytest.raises(FileError, match="empty"):
        await rate_cards(conn, write(tmp_path, "empty.csv", ""))
    with pytest.raises(InvalidInput, match="unknown provider key 'acme'"):
        await importing.import_invoice(
            conn,
            write(tmp_path, "y.csv", INVOICE),
            provider_key="acme",
            provider_keys=KEYS,
            mapping=InvoiceMapping(),
        )
    assert await conn.fetchval("SELECT count(*) FROM import_files") == 0


@pytest.mark.parametrize(
    ("raw", "fmt", "zone", "expected"),
    [
        ("2026-06-01", "iso", "UTC", datetime(2026, 6, 1, tzinfo=UTC)),
        ("2026-06-01", "iso", "America/Sao_Paulo", datetime(2026, 6, 1, 3, tzinfo=UTC)),
        ("2026-06-01T10:00:00Z", "iso", "Asia/Tokyo", datetime(2026, 6, 1, 10, tzinfo=UTC)),
        (
            "2026-06-01 10:00:00.5+02:00",
            "iso",
            "UTC",
            datetime(2026, 6, 1, 8, 0, 0, 500000, tzinfo=UTC),
        ),
        (
            "2026-06-01T10:00:00,25z",
            "iso",
            "UTC",
            datetime(2026, 6, 1, 10, 0, 0, 250000, tzinfo=UTC),
        ),
        ("2026-06-01T10:00+0530", "iso", "UTC", datetime(2026, 6, 1, 4, 30, tzinfo=UTC)),
        ("2026-06-01T10:00-03", "iso", "UTC", datetime(2026, 6, 1, 13, tzinfo=UTC)),
        ("2024-02-29", "iso", "UTC", datetime(2024, 2, 29, tzinfo=UTC)),
        ("2026-02-29", "iso", "UTC", None),
        ("2026-04-31", "iso", "UTC", None),
        ("2026-06-01T24:00:00Z", "iso", "UTC", None),
        ("2026-13-01", "iso", "UTC", None),
        ("0000-01-01", "iso", "UTC", None),
        ("2026-06-01Z", "iso", "UTC", None),
        ("2026-6-1", "iso", "UTC", None),
        ("01/06/2026 10:00", "%d/%m/%Y %H:%M", "UTC", datetime(2026, 6, 1, 10, tzinfo=UTC)),
        ("1/6/26 10:00", "%d/%m/%y %H:%M", "UTC", datetime(2026, 6, 1, 10, tzinfo=UTC)),
        ("29/02/2026 10:00", "%d/%m/%Y %H:%M", "UTC", None),
        (
            "2026-06-01 10:00:00 +0100",
            "%Y-%m-%d %H:%M:%S %z",
            "UTC",
            datetime(2026, 6, 1, 9, tzinfo=UTC),
        ),
    ],
)
async def test_dates_are_read_strictly(
    conn: asyncpg.Connection, raw: str, fmt: str, zone: str, expected: datetime | None
) -> None:
    from reconcile import dates

    pattern = dates.pattern(fmt)
    row = await conn.fetchrow(
        "SELECT * FROM dlrecon_parse_timestamp($1, $2, $3, $4)",
        raw,
        pattern.regex,
        list(pattern.groups),
        zone,
    )
    assert row is not None
    assert (row["ok"], row["value"]) == (expected is not None, expected)
