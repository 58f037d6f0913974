"""`import messages` against a real database: the same messages, parts, events, statuses and
report as registering each chunk through `registration.register` (what `POST /v1/messages` does
and what the import did before it had its plain path), orphans matched, idempotent."""

from __future__ import annotations

import io
import itertools
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from receiver.db import events as event_store
from receiver.db.events import EventRow
from receiver.db.pool import init_connection
from receiver.model import Event, Source, Status
from receiver.registration import importer
from receiver.registration import register as registration
from receiver.settings import Settings
from tests.support import make_settings, with_database

SETTINGS = make_settings()
T0 = "2026-06-01T10:00:0{}+08:00"


def _row(ref: str | None, ids: list[str], **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"provider": "geniq", "provider_message_ids": ids, **extra}
    if ref is not None:
        item["client_ref"] = ref
    return item


def _geniq_response(*ids: str, code: str = "0") -> dict[str, Any]:
    return {"reference": "r", "responseCode": code, "responseMessage": "m", "messageIds": list(ids)}


# One line each; several kinds of rows side by side (plain, read by an adapter, bad), with
# duplicates inside a chunk and across chunks, conflicts, and rows orphans wait for.
LINES: list[Any] = [
    _row(
        "p1",
        ["aa01", "aa02"],
        destination="+6591234567",
        submitted_at=T0.format(1),
        segments=2,
        value="0.0500",
        cost="0.0350",
        currency="SGD",
        text="hello",
    ),
    _row("p2", [], destination="+4402012345678", submitted_at=T0.format(2)),
    _row(None, ["bb01"], submitted_at=T0.format(3)),
    {
        "provider": "hellio",
        "client_ref": "h1",
        "destination": "+6591234500",
        "submitted_at": T0.format(4),
        "submit_http_status": 202,
        "submit_response": {
            "data": {
                "status": "queued",
                "estimated_cost": "0.0400",
                "currency": "SGD",
                "segments": 1,
            }
        },
    },
    _row("d1", ["dd01"], submitted_at=T0.format(5)),  # then again below, read by the adapter
    _row("d1", [], submitted_at=T0.format(5), submit_response=_geniq_response("DD01", "DD02")),
    _row("d2", [], submitted_at=T0.format(6), submit_response=_geniq_response("EE01")),
    _row("d2", ["ee01", "ee03"], submitted_at=T0.format(6)),  # plain, after the adapter's row
    {"provider": "nope", "client_ref": "x"},  # unknown provider
    _row("bad-channel", [], channel="fax"),
    _row("bad-money", [], value="abc", currency="SGD"),
    _row("nul\u0000", []),
    "{oops",  # invalid JSON
    _row(
        "p1",
        ["aa01", "aa02"],
        destination="+6591234567",
        submitted_at=T0.format(1),
        segments=2,
        value="0.0500",
        cost="0.0350",
        currency="SGD",
        text="hello",
    ),  # again
    _row("clash", ["AA01"]),  # aa01 belongs to p1: a conflict
    _row(None, ["bb01", "bb02"], submitted_at=T0.format(7)),  # no ref, an id of line 3
    _row("orph-id", ["ff01"], submitted_at=T0.format(8)),  # a callback for FF01 waits
    _row("orph-ref", [], submitted_at=T0.format(9)),  # a callback by client ref waits
    _row(
        "rejected",
        [],
        submitted_at=T0.format(1),
        submit_http_status=500,
        submit_response=_geniq_response(code="4"),
    ),
    _row("ws", [" gg01 "], text=" padded "),  # not plain: pydantic strips
    _row("noid-1", []),
    _row("noid-2", []),
    {
        "provider": "velip",
        "client_ref": "v1",
        "channel": "voice",
        "submit_response": {"return": {"status": "WR", "status_code": "0", "cdls_id": "991"}},
    },
    _row("late", ["hh01"]),
    # values that take the full path and travel as COPY text: they must come back the same
    _row(
        "odd",
        ["ii01"],
        value="-0",
        cost="1e2",
        currency="SGD",
        text='a\n\\.\n"b",\r',
        submitted_at="2026-06-01T10:00:00.000001+05:30",
        destination="+1 (212) 555-1234",
    ),
    _row("num", [], value=0.05, currency="SGD"),  # a JSON number: a Decimal, not plain
    _row("   ", ["jj01"], destination=" ", text="\t"),  # stripped to "" (not NULL) by pydantic
    _row("tab\tref", ["kk\\01", 'kk"02'], text="\\N"),
]


def _jsonl() -> str:
    return "".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in LINES)


async def _orphans(conn: asyncpg.Connection) -> None:
    """Callbacks stored before their messages are registered."""
    when = datetime(2026, 6, 1, 3, 0, tzinfo=UTC)
    await event_store.insert(
        conn,
        [
            EventRow(
                "geniq", Source.CALLBACK, Event("delivered", Status.DELIVERED, "FF01", "ff01"), when
            ),
            EventRow(
                "geniq",
                Source.CALLBACK,
                Event("failed", Status.FAILED, client_ref="orph-ref", error_code="9"),
                when,
            ),
        ],
    )


async def _reference_import(
    conn: asyncpg.Connection, settings: Settings, records: Iterator[tuple[int, Any]], size: int
) -> importer.ImportReport:
    """Each chunk through `registration.register`, as the import did before."""
    report = importer.ImportReport()
    while batch := list(itertools.islice(records, size)):
        report.rows += len(batch)
        good = [(line, item) for line, item in batch if not isinstance(item, ValueError)]
        report.errors += [(line, str(item)) for line, item in batch if isinstance(item, ValueError)]
        results = await registration.register(conn, settings, [item for _, item in good])
        for (line, _), result in zip(good, results, strict=True):
            if result.error:
                report.errors.append((line, result.error))
            elif result.created:
                report.created += 1
            else:
                report.existing += 1
    report.errors.sort()
    return report


async def _dump(conn: asyncpg.Connection, since: datetime) -> dict[str, Any]:
    """The tables, with message ids replaced by what identifies the message and the times
    taken at registration ("now") replaced by a marker."""

    def when(value: datetime | None) -> Any:
        return "now" if value is not None and value >= since else value

    labels = {
        r["id"]: (r["provider_key"], r["client_ref"], tuple(r["ids"] or ()), r["submitted_at"])
        for r in await conn.fetch(
            "SELECT m.id, m.provider_key, m.client_ref, m.submitted_at, "
            "(SELECT array_agg(provider_message_id ORDER BY part_no, provider_message_id) "
            " FROM message_parts p WHERE p.message_id = m.id) AS ids FROM messages m"
        )
    }
    assert len(set(labels.values())) == len(labels)
    messages = [
        (
            labels[r["id"]],
            tuple(
                (k, when(v) if isinstance(v, datetime) else v)
                for k, v in r.items()
                if k not in ("id", "registered_at", "updated_at")
            ),
        )
        for r in await conn.fetch("SELECT * FROM messages")
    ]
    parts = [
        (labels[r["message_id"]], r["provider_key"], r["provider_message_id"], r["part_no"])
        for r in await conn.fetch("SELECT * FROM message_parts")
    ]
    events = []
    for r in await conn.fetch("SELECT * FROM events ORDER BY message_id, id"):
        label = labels.get(r["message_id"])
        key = re.sub(r"msg:(\d+)", lambda m: f"msg:{labels[int(m[1])]}", r["dedupe_key"])
        row = {k: when(v) if isinstance(v, datetime) else v for k, v in r.items()}
        row.update(
            id=None, message_id=label, dedupe_key=key, matched_at=r["matched_at"] is not None
        )
        events.append((repr(label), tuple(row.items())))  # in id order within each message
    events.sort(key=lambda e: e[0])  # stable: each message's events stay in id order
    return {
        "messages": sorted(messages, key=repr),
        "parts": sorted(parts, key=repr),
        "events": events,
    }


@pytest.fixture
async def reference_url(server_url: str, template_database: str) -> AsyncIterator[str]:
    name = f"dlrecon_test_{uuid.uuid4().hex[:16]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template_database}"')
        yield with_database(server_url, name)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def _records(text: str, fmt: str = "jsonl") -> Iterator[tuple[int, Any]]:
    return importer.rows(Path(f"m.{fmt}"), io.StringIO(text, newline=""), fmt, {})


@pytest.mark.parametrize("chunk", [3, 1000])
async def test_import_registers_like_the_api(
    database_url: str, reference_url: str, chunk: int
) -> None:
    since = datetime.now(UTC)
    conns = [await asyncpg.connect(url) for url in (database_url, reference_url)]
    try:
        for conn in conns:
            await init_connection(conn)
            await _orphans(conn)
        for _ in range(2):  # the second time, nothing is new
            new = await importer.import_messages(
                conns[0], SETTINGS, _records(_jsonl()), chunk_size=chunk
            )
            old = await _reference_import(conns[1], SETTINGS, _records(_jsonl()), chunk)
            assert (new.rows, new.created, new.existing, new.errors) == (
                old.rows,
                old.created,
                old.existing,
                old.errors,
            )
            assert await _dump(conns[0], since) == await _dump(conns[1], since)
        assert new.rows == len(LINES) and new.created == 0
        reasons = dict(new.errors)
        assert reasons[9] == "provider: unknown provider key 'nope'"
        assert reasons[10].startswith("channel:")
        assert reasons[11].startswith("value:")
        assert reasons[12].startswith("contains a NUL character")
        assert reasons[13].startswith("invalid JSON")
        # an id of line 1 under another client ref: a conflict, in the same chunk or not
        assert reasons[15].startswith("provider_message_ids: already registered to message ")
        assert set(reasons) == {9, 10, 11, 12, 13, 15}
        # the orphans waited and are matched; the statuses follow
        status = dict(await conns[0].fetch("SELECT client_ref, status FROM messages"))
        assert status["orph-id"] == "delivered" and status["orph-ref"] == "failed"
        assert status["rejected"] == "rejected" and status["p1"] == "submitted"
        orphans = await conns[0].fetchval("SELECT count(*) FROM events WHERE message_id IS NULL")
        assert orphans == 0
    finally:
        for conn in conns:
            await conn.close()


async def test_csv_import_registers_like_the_api(database_url: str, reference_url: str) -> None:
    since = datetime.now(UTC)
    text = (
        "provider,channel,client_ref,provider_message_ids,destination,submitted_at,segments,"
        "value,cost,currency,text\n"
        "geniq,sms,c1,ab01|AB01|ab02,+6591234567,2026-06-01T10:00:00Z,2,0.05,0.02,SGD,hi\n"
        "geniq,sms,c2,,+6591234568,,,,,,\n"
        "\n"
        'geniq,whatsapp,c3,cc01,+390612345678,2026-06-01T10:00:00.5+05:30,,1,,EUR,"a\nb"\n'
        "open,sms,c4,dd01,6591234567,2026-06-01 10:00:00,01,0.10,,SGD, x \n"
        "geniq,sms,c5,ee01,+6591234569,2026-06-01T10:00:00,1,,,,\n"
        "geniq,sms,c1,ab01,,,,,,,\n"
        "geniq,sms,c6,ab02,,,,,,,\n"
        "geniq,sms,c7,ff01,,,,,,,,\n"
        "geniq,sms,c8,,,,,,,,nul\x00here\n"
        "geniq,sms,c9,,,2026-13-01T00:00:00Z,,,,,\n"
    )
    conns = [await asyncpg.connect(url) for url in (database_url, reference_url)]
    try:
        for conn in conns:
            await init_connection(conn)
            await _orphans(conn)
        new = await importer.import_messages(
            conns[0], SETTINGS, _records(text, "csv"), chunk_size=4
        )
        old = await _reference_import(conns[1], SETTINGS, _records(text, "csv"), 4)
        assert (new.rows, new.created, new.existing, new.errors) == (
            old.rows,
            old.created,
            old.existing,
            old.errors,
        )
        assert await _dump(conns[0], since) == await _dump(conns[1], since)
        assert [line for line, _ in new.errors] == [10, 11, 12, 13]
        assert new.created == 5 and new.existing == 1
    finally:
        for conn in conns:
            await conn.close()
