"""The import's cheap paths give exactly what the full path (MessageIn, the adapter,
phonenumbers) gives: plain rows, the default submit outcome, the E.164 shortcut."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import phonenumbers
import pytest

from receiver import adapters, phones
from receiver.adapters.base import default_submit_outcome
from receiver.db import imports
from receiver.db import messages as message_store
from receiver.model import Channel, Submission
from receiver.registration import importer
from receiver.registration import register as registration
from receiver.registration.model import ItemResult, MessageIn
from receiver.registration.plain import PlainRows
from tests.support import make_settings

NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
SETTINGS = make_settings(
    {
        "vonage": {"signing_secrets": ["x"]},
        "kannel": {"verify": "off", "id_format": "hex", "id_case": "lower"},
    }
)


# ---- phone numbers ----------------------------------------------------------------------------


def _numbers() -> list[str]:
    """Many `+digits` numbers: every country code, national parts with and without leading
    zeros and national prefixes, all lengths; and a few that are not plain digits."""
    rng = random.Random(7)
    numbers = []
    for code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
        for lead in ("", "0", "00", "1", "8", "9", "15", "90", "0800", "11", "180020"):
            for length in (0, 1, 2, 4, 7, 9, 11, 14, 17):
                rest = "".join(rng.choice("0123456789") for _ in range(length))
                numbers.append(f"+{code}{lead}{rest}")
    for _ in range(20000):
        numbers.append("+" + "".join(rng.choice("0123456789") for _ in range(rng.randint(1, 19))))
    numbers += ["+", "+0", "+65 9123 4567", "+65-9123-4567", "0091234567", "6591234567"]
    numbers += ["+٦٥٩١٢٣٤٥٦٧", "+1 (212) 555-1234 ext. 7", "tel:+6591234567", "+999123456789"]
    return numbers


def _outcome(normalise: Any, number: str) -> str:
    """The number normalised, or that it was refused."""
    try:
        return str(normalise(number))
    except phones.NotAPhoneNumber:
        return "refused"


def test_the_e164_shortcut_gives_what_phonenumbers_gives() -> None:
    numbers = _numbers()
    taken = refused = 0
    for number in numbers:
        expected = _outcome(phones._normalise_with_library, number)
        assert _outcome(phones.normalise_destination, number) == expected, number
        taken += phones._already_e164(number)
        refused += expected == "refused"
    # the shortcut applies to most numbers phonenumbers accepts as they are
    assert taken > (len(numbers) - refused) // 2
    assert 0 < refused < len(numbers)
    # the cases the shortcut exists for, and those it must leave to the library
    assert phones._already_e164("+6591234567")
    assert phones._already_e164("+12125551234")
    assert phones._already_e164("+390612345678")  # Italy keeps its leading zero
    assert not phones._already_e164("+4402012345678")  # UK national prefix 0: stripped
    assert phones.normalise_destination("+4402012345678") == "+442012345678"
    assert not phones._already_e164("+112125551234")  # NANP national prefix 1
    assert phones.normalise_destination(None) is None


# ---- the default submit outcome ---------------------------------------------------------------


@pytest.mark.parametrize("name", adapters.names())
def test_without_submit_response_every_adapter_gives_the_default_outcome(name: str) -> None:
    """Plain rows get their submit events from SQL; that is right only because no adapter
    reads anything into a submission that has neither response nor HTTP status."""
    adapter = adapters.get(name)
    for channel in Channel:
        for ids in ((), ("abc",), ("A1B2", "a1b2", "c3")):
            for ref in (None, "ref-1"):
                submission = Submission(
                    provider_key=name,
                    channel=channel,
                    client_ref=ref,
                    provider_message_ids=ids,
                    destination="+6591234567",
                    submitted_at=NOW,
                    submit_response=None,
                    submit_http_status=None,
                    segments=2,
                )
                for options in ({}, {"id_format": "hex", "id_case": "upper"}):
                    expected = default_submit_outcome(submission)
                    assert adapter.parse_submit(submission, options) == expected


# ---- plain rows -------------------------------------------------------------------------------

BASE = {
    "provider": "geniq",
    "channel": "sms",
    "client_ref": "r-1",
    "provider_message_ids": ["ab12", "AB12", "cd34"],
    "destination": "+6591234567",
    "submitted_at": "2026-06-01T10:00:00+08:00",
    "segments": "2",
    "value": "0.0500",
    "cost": "0.0350",
    "currency": "SGD",
    "text": "hello",
}

VARIANTS: dict[str, list[Any]] = {
    "provider": ["geniq", "hellio", "twilio", "vonage", "kannel", "nope", "", " geniq", 3, None],
    "channel": ["sms", "whatsapp", "voice", "SMS", "fax", "", None, 1],
    "client_ref": [
        "r",
        "",
        None,
        " r",
        "r ",
        "r\u00a0",
        "r\x1f",
        "x" * 256,
        "x" * 257,
        5,
        "é\u2603",
    ],
    "provider_message_ids": [
        [],
        ["a"],
        ["a", "a"],
        ["DEADBEEF", "deadbeef"],
        [" a"],
        ["a", ""],
        [""],
        ["a\x00"],
        ["a\ud800"],
        ["x"] * 255,
        ["x"] * 256,
        "a",
        [1],
        None,
    ],
    "destination": [
        *("+6591234567", "+4402012345678", "91234567", "+65 9123 4567", "", None),
        *("+65" + "1" * 62, "+65" + "1" * 63, " +6591234567", 6591234567),
    ],
    "submitted_at": [
        "2026-06-01T10:00:00Z",
        "2026-06-01T10:00:00",
        "2026-06-01T10:00:00.5+05:30",
        "2026-06-01T10:00:00.123456-03:00",
        "2026-06-01T10:00:00+23:59",
        "2026-06-01T10:00:00+24:00",
        "2026-06-01T10:00:00+05:75",  # minutes of an offset past 59: pydantic refuses them
        "2026-06-01T10:00:00-03:60",
        "2026-06-01T10:00:00.5+19:99",
        "2026-02-30T10:00:00Z",
        "0000-01-01T00:00:00Z",
        "2026-06-01 10:00:00",
        "2026-06-01",
        "1780000000",
        "",
        None,
        1780000000,
    ],
    "segments": ["1", "255", "256", "0", "01", " 2", "2.0", "", None, 3, 0, 300, True, 2.0],
    "value": [
        *("0", "0.05", "00.05", "1e2", "-1", "0.123456789", "1234567890123", "", None),
        *(5, -5, True, 0.05, "0.12345678", "123456789012.12345678", 10**12),
    ],
    "cost": ["0.02", "", None, "abc"],
    "currency": ["SGD", "sgd", "SG", "", None, " SGD"],
    "text": ["hello", "", None, "hi\n", " hi", "a" * 65536, "a" * 65537, "ü\u200b", "nul\x00"],
    "submit_response": [None, {"responseCode": "0", "messageIds": ["X1"]}, "text"],
    "submit_http_status": [None, 200, 500],
    "extra": [None, "x"],
}


def _items() -> list[dict[str, Any]]:
    items = [dict(BASE)]
    for key, values in VARIANTS.items():
        for value in values:
            item = dict(BASE)
            if key == "extra" and value is None:
                continue
            item[key] = value
            items.append(item)
            without = {k: v for k, v in item.items() if k != key or value is not None}
            items.append(without)
    rng = random.Random(3)
    for _ in range(3000):  # mixtures
        item = {k: rng.choice([*VARIANTS[k], BASE.get(k)]) for k in BASE}
        items.append({k: v for k, v in item.items() if v is not None or rng.random() < 0.5})
    return items


def test_a_plain_row_is_staged_exactly_as_the_full_path_stages_it() -> None:
    plain = PlainRows(SETTINGS)
    used = 0
    for index, item in enumerate(_items()):
        record = plain.record(index, item, NOW)
        full = registration.prepare(index, item, SETTINGS)
        if record is None:
            continue
        used += 1
        assert isinstance(full, registration.Prepared), (item, full)
        # no submit response nor status: the adapter gives the default outcome (test above)
        assert full.message.submit_response is None and full.message.submit_http_status is None
        expected = message_store.staging_record(registration.new_message(full))
        assert record == (*expected, True, full.message.submitted_at or NOW), item
        assert len(record) == len(imports.COLUMNS)
    assert used > 100


def test_the_bench_row_is_plain() -> None:
    plain = PlainRows(SETTINGS)
    assert plain.record(2, dict(BASE), NOW) is not None
    assert plain.record(2, {"provider": "geniq", "client_ref": "r1"}, NOW) is not None
    # a row that could never be matched, or whose destination is no phone number, is not
    # plain: the full path refuses it with its reason
    assert plain.record(2, {"provider": "geniq"}, NOW) is None
    assert plain.record(2, {**BASE, "destination": "not-a-phone"}, NOW) is None
    assert isinstance(registration.prepare(2, {"provider": "geniq"}, SETTINGS), ItemResult)


def test_python_strips_at_least_what_pydantic_strips() -> None:
    """Plain strings must be left alone by pydantic's str_strip_whitespace."""
    for code in range(0x10000):
        char = chr(code)
        if 0xD800 <= code <= 0xDFFF or char == "\x00":
            continue
        message = MessageIn(provider="x", text=f"a{char}")
        if message.text != f"a{char}":
            assert char.isspace(), hex(code)


# ---- reading CSV ------------------------------------------------------------------------------


def _read(text: str, columns: dict[str, str] | None = None) -> list[tuple[int, Any]]:
    records = importer.rows(Path("m.csv"), io.StringIO(text, newline=""), None, columns or {})
    return [(line, str(item) if isinstance(item, ValueError) else item) for line, item in records]


def test_csv_rows_like_dictreader_with_true_line_numbers() -> None:
    text = (
        "provider,client_ref,provider_message_ids,text\n"
        "geniq,r1,A|B||C,hi\n"
        "\n"
        "\n"
        "geniq,r2\n"
        'geniq,r3,,"two\nlines"\n'
        "geniq,r4,,x,extra\n"
        "geniq,,,\n"
    )
    assert _read(text) == [
        (
            2,
            {
                "provider": "geniq",
                "client_ref": "r1",
                "provider_message_ids": ["A", "B", "C"],
                "text": "hi",
            },
        ),
        (5, {"provider": "geniq", "client_ref": "r2"}),
        (7, {"provider": "geniq", "client_ref": "r3", "text": "two\nlines"}),
        (8, "more fields than the header names"),
        (9, {"provider": "geniq"}),
    ]
    assert _read("") == []
    assert _read("ref,prov\nx,geniq\n", {"client_ref": "ref", "provider": "prov"}) == [
        (2, {"client_ref": "x", "provider": "geniq"})
    ]
