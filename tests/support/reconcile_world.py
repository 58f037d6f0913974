"""A small world with planted problems, built through the real registration, event and import
paths: each problem must be found once, under its rule, with its amount, and nothing else."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

from receiver.db import events as event_store
from receiver.db.events import EventRow
from receiver.model import Event, Source, Status
from receiver.registration import register as registration
from receiver.settings import Settings
from reconcile import importing
from reconcile import settings as reconcile_settings
from reconcile.settings import InvoiceMapping, ProviderReconcileSettings, ReconcileSettings

GENIQ_OK = {"reference": "r", "responseCode": "0", "responseMessage": "Success"}
GSM_TEXT = "Your code is {}. Do not share it."
EMOJI_TEXT = (
    "Thanks for your order! It ships tomorrow and arrives in 2-3 days. Reply STOP to opt out now 😀"
)


@dataclass
class World:
    """What was planted: rule -> [(subject, amount, currency)]; `T` is when it was built."""

    T: datetime
    tmp: Path
    expected: dict[str, list[tuple[str, Decimal | None, str | None]]] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    extra_lines: list[str] = field(default_factory=list)
    invoice_no: int = 0

    @property
    def window(self) -> tuple[datetime, datetime]:
        return self.T - timedelta(days=3), self.T

    def plant(self, rule: str, subject: str, amount: str | None, currency: str | None) -> None:
        self.expected.setdefault(rule, []).append(
            (subject, None if amount is None else Decimal(amount), currency)
        )


def config() -> dict[str, Any]:
    return reconcile_settings.run_config(
        ReconcileSettings(),
        {"geniq": ProviderReconcileSettings(cost_tolerance_absolute=Decimal("0.001"))},
    )


async def register(conn: asyncpg.Connection, settings: Settings, **item: Any) -> int:
    [result] = await registration.register(conn, settings, [item])
    assert result.message_id is not None, result.error
    return result.message_id


async def callback(conn: asyncpg.Connection, key: str, at: datetime, *events: Event) -> None:
    async with conn.transaction():
        ids = await event_store.insert(
            conn, [EventRow(key, Source.CALLBACK, e, at) for e in events]
        )
        await event_store.refresh_status(conn, await event_store.match(conn, ids))


def delivered(pid: str, at: datetime) -> Event:
    return Event("delivered", Status.DELIVERED, provider_message_id=pid, provider_time=at)


async def geniq_message(
    conn: asyncpg.Connection,
    settings: Settings,
    world: World,
    name: str,
    *,
    pid: str,
    sent: datetime,
    destination: str,
    value: str = "0.0500",
    text: str | None = None,
    segments: int = 1,
    deliver: bool = True,
    bill: str | None = "0.0300",
    bill_segments: int | None = None,
    currency: str = "SGD",
) -> int:
    message_id = await register(
        conn,
        settings,
        provider="geniq",
        client_ref=f"ref-{name}",
        provider_message_ids=[pid],
        destination=destination,
        submitted_at=sent.isoformat(),
        text=text or GSM_TEXT.format(name),
        segments=segments,
        value=value,
        currency="SGD",
        submit_response={**GENIQ_OK, "messageIds": [pid]},
    )
    world.messages[name] = message_id
    if deliver:
        await callback(
            conn,
            "geniq",
            sent + timedelta(seconds=30),
            delivered(pid, sent + timedelta(seconds=20)),
        )
    if bill is not None:
        world.lines.append(
            f"{pid.lower()},,{sent.isoformat()},{destination},{bill_segments or segments},{bill},{currency}"
        )
    return message_id


RATES = """provider,channel,prefix,price_per_segment,currency,valid_from,valid_to
geniq,sms,65,0.0300,SGD,2020-01-01,
geniq,sms,6591,0.0250,SGD,2020-01-01,
geniq,whatsapp,65,0.0100,SGD,2020-01-01,
"""
INVOICE_HEADER = "provider_message_id,client_ref,billed_at,destination,segments,amount,currency\n"


async def import_invoice(
    conn: asyncpg.Connection, world: World, lines: list[str], key: str = "geniq"
) -> None:
    world.invoice_no += 1
    path = world.tmp / f"invoice-{world.invoice_no}.csv"
    path.write_text(INVOICE_HEADER + "".join(f"{line}\n" for line in lines))
    summary = await importing.import_invoice(
        conn,
        path,
        provider_key=key,
        provider_keys={"geniq", "velip", "hellio"},
        mapping=InvoiceMapping(),
        canonical_id=lambda raw: raw.strip().upper(),
        invoice_id=f"INV-{world.invoice_no}",
    )
    assert summary.refused == 0


async def build(conn: asyncpg.Connection, settings: Settings, tmp: Path) -> World:
    T = datetime.now(UTC).replace(microsecond=0)
    world = World(T, tmp)
    rates = tmp / "rates.csv"
    rates.write_text(RATES)
    await importing.import_rate_cards(conn, rates, provider_keys={"geniq", "velip", "hellio"})
    h = timedelta(hours=1)

    # messages with nothing wrong: delivered, billed at the rate card price
    for n in range(4):
        await geniq_message(
            conn,
            settings,
            world,
            f"ok{n}",
            pid=f"A00{n}",
            sent=T - 5 * h + n * timedelta(minutes=7),
            destination=f"+658000000{n}",
        )
    # the longest prefix wins: 6591 costs 0.0250
    await geniq_message(
        conn,
        settings,
        world,
        "ok-long-prefix",
        pid="A010",
        sent=T - 4 * h,
        destination="+6591000001",
        bill="0.0250",
    )
    # the last line the invoices cover
    await geniq_message(
        conn, settings, world, "ok-late", pid="A011", sent=T - h, destination="+6580000011"
    )

    # downstream_failure: Velip accepted it (status_code 0) but its upstream answered NA
    na = await register(
        conn,
        settings,
        provider="velip",
        client_ref="ref-na",
        destination="+5511999990001",
        submitted_at=(T - timedelta(minutes=10)).isoformat(),
        text="Ola",
        segments=1,
        value="0.0500",
        cost="0.0300",
        currency="BRL",
        submit_response={"return": {"status": "NA", "status_code": "0", "cdls_id": "90001"}},
    )
    world.messages["na"] = na
    world.plant("downstream_failure", f"message:{na}", "0.0300", "BRL")

    # charged_not_delivered: refused at submission, but the customer was charged
    refused = await register(
        conn,
        settings,
        provider="geniq",
        client_ref="ref-refused",
        destination="+6580000020",
        submitted_at=(T - 2 * h).isoformat(),
        text=GSM_TEXT.format("refused"),
        segments=1,
        value="0.0500",
        currency="SGD",
        submit_response={
            "reference": "r",
            "responseCode": "3",
            "responseMessage": "Account has expired",
            "messageIds": [],
        },
    )
    world.messages["refused"] = refused
    world.plant("charged_not_delivered", f"message:{refused}", "0.0500", "SGD")

    # negative_margin: sold for 0.0200, costs 0.0300
    m = await geniq_message(
        conn,
        settings,
        world,
        "margin",
        pid="A020",
        sent=T - 4 * h,
        destination="+6580000021",
        value="0.0200",
    )
    world.plant("negative_margin", f"message:{m}", "0.0100", "SGD")

    # billed_not_sent: a line for a message nobody registered
    world.lines.append(f"ffff0001,,{(T - 3 * h).isoformat()},+6580000099,1,0.0300,SGD")

    # sent_not_billed: delivered, on no invoice (expected 0.0300 from the rate card)
    m = await geniq_message(
        conn,
        settings,
        world,
        "unbilled",
        pid="A030",
        sent=T - 3 * h,
        destination="+6580000030",
        bill=None,
    )
    world.plant("sent_not_billed", f"message:{m}", "0.0300", "SGD")

    # billed_twice: the same part on this invoice and on a second one
    m = await geniq_message(
        conn, settings, world, "twice", pid="A040", sent=T - 3 * h, destination="+6580000040"
    )
    world.extra_lines.append(world.lines[-1])
    world.plant("billed_twice", f"message:{m}:id:A040", "0.0300", "SGD")

    # segment_mismatch: one emoji makes the text UCS-2 (2 parts); registered as 1 segment, the
    # provider bills 2 (0.0600), which is what the rate card expects for 2
    assert len(EMOJI_TEXT) > 68
    m = await geniq_message(
        conn,
        settings,
        world,
        "emoji",
        pid="A050",
        sent=T - 3 * h,
        destination="+6580000050",
        text=EMOJI_TEXT,
        value="0.1000",
        bill="0.0600",
        bill_segments=2,
    )
    world.plant("segment_mismatch", f"message:{m}", "0.0300", "SGD")

    # cost_mismatch: the rate card says 0.0300, the invoice 0.0500
    m = await geniq_message(
        conn,
        settings,
        world,
        "overbilled",
        pid="A060",
        sent=T - 3 * h,
        destination="+6580000060",
        value="0.1000",
        bill="0.0500",
    )
    world.plant("cost_mismatch", f"message:{m}", "0.0200", "SGD")

    # duplicate_send: the same text to the same number a minute apart
    await geniq_message(
        conn,
        settings,
        world,
        "dup-first",
        pid="A070",
        sent=T - 2 * h,
        destination="+6580000070",
        text="Same words",
    )
    m = await geniq_message(
        conn,
        settings,
        world,
        "dup-second",
        pid="A071",
        sent=T - 2 * h + timedelta(minutes=1),
        destination="+6580000070",
        text="Same words",
    )
    world.plant("duplicate_send", f"message:{m}", "0.0300", "SGD")

    # orphan_event: a delivery report for an id no message has, three hours old
    await callback(conn, "geniq", T - 3 * h, delivered("DEAD0001", T - 3 * h))
    orphan = await conn.fetchval("SELECT id FROM events WHERE provider_message_id = 'DEAD0001'")
    world.plant("orphan_event", f"event:{orphan}", None, None)

    # status_conflict: delivered and failed for the one part (delivered is later: it counts)
    m = await geniq_message(
        conn,
        settings,
        world,
        "conflict",
        pid="A080",
        sent=T - 3 * h,
        destination="+6580000080",
        deliver=False,
    )
    await callback(
        conn,
        "geniq",
        T - 2 * h,
        Event(
            "undeliverable",
            Status.FAILED,
            provider_message_id="A080",
            provider_time=T - 3 * h + timedelta(minutes=5),
        ),
        delivered("A080", T - 3 * h + timedelta(minutes=6)),
    )
    world.plant("status_conflict", f"message:{m}", "0.0500", "SGD")

    # unpriced: delivered two days ago, and no price from anywhere (Hellio has no rate card)
    m = await register(
        conn,
        settings,
        provider="hellio",
        client_ref="ref-unpriced",
        provider_message_ids=["h-1"],
        destination="+233241234567",
        submitted_at=(T - timedelta(days=2)).isoformat(),
        text="Hello",
    )
    await callback(
        conn,
        "hellio",
        T - timedelta(days=2) + timedelta(minutes=1),
        delivered("h-1", T - timedelta(days=2)),
    )
    world.messages["unpriced"] = m
    world.plant("unpriced", f"message:{m}", None, None)

    # stuck: accepted three hours ago, nothing since (threshold: the 1 h default)
    m = await geniq_message(
        conn,
        settings,
        world,
        "stuck",
        pid="A090",
        sent=T - 3 * h,
        destination="+6580000090",
        deliver=False,
        bill=None,
    )
    world.plant("stuck", f"message:{m}", "0.0500", "SGD")

    # currency_mismatch: billed in USD for a message sold in SGD
    await geniq_message(
        conn,
        settings,
        world,
        "usd",
        pid="A100",
        sent=T - 3 * h,
        destination="+6580000100",
        bill="0.0220",
        currency="USD",
    )
    line_no = len(world.lines) + 1  # the header is line 1
    world.plant("currency_mismatch", f"line:{line_no}", "0.0220", "USD")

    await import_invoice(conn, world, world.lines)
    await import_invoice(conn, world, world.extra_lines)
    line_id = await conn.fetchval(
        "SELECT l.id FROM invoice_lines l JOIN import_files f ON f.id = l.file_id WHERE f.invoice_id = 'INV-1' AND l.line_no = $1",
        line_no,
    )
    world.expected["currency_mismatch"] = [(f"invoice_line:{line_id}", Decimal("0.0220"), "USD")]
    unknown_line = await conn.fetchval(
        "SELECT id FROM invoice_lines WHERE raw_message_id = 'ffff0001'"
    )
    world.plant("billed_not_sent", f"invoice_line:{unknown_line}", "0.0300", "SGD")
    return world
