"""Vonage adapter: corpus examples, every documented code, submit responses and fuzzing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.adapters import codes
from receiver.adapters.base import ParseError
from receiver.adapters.vonage import ADAPTER
from receiver.model import Channel, CodeInfo, ErrorClass, Event, RawRequest, Status
from tests.unit import adapter_support as support
from tests.unit.adapter_support import FORM, JSON

# corpus example 0: SMS API 'typical DLR' - VERBATIM from Vonage (Nexmo) docs 'Delivery receipts' gu
SMS_DLR_JSON = (
    "{\n"
    '  "err-code": "0",\n'
    '  "message-timestamp": "2018-10-25 12:10:29",\n'
    '  "messageId": "0B00000127FDBC63",\n'
    '  "msisdn": "447547232824",\n'
    '  "network-code": "23410",\n'
    '  "price": "0.03330000",\n'
    '  "scts": "1810251310",\n'
    '  "status": "delivered",\n'
    '  "to": "Nexmo CLI"\n'
    "}"
)

# corpus example 1: Messages API status webhook - VERBATIM JSON literal from vonage-java-sdk test Me
MESSAGES_STATUS = (
    "{\n"
    '   "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",\n'
    '   "to": "447700900000",\n'
    '   "from": "447700900001",\n'
    '   "timestamp": "2020-01-01T14:00:00.000Z",\n'
    '   "status": "read",\n'
    '   "error": {\n'
    '      "type": "https://developer.nexmo.com/api-errors/messages-olympus#1000",\n'
    '      "title": 1000,\n'
    '      "detail": "Throttled - You have exceeded the submission capacity allowed on this account. Please wait and retry",\n'
    '      "instance": "bf0ca0bf927b3b52e3cb03217e1a1ddf"\n'
    "   },\n"
    '   "usage": {\n'
    '      "currency": "EUR",\n'
    '      "price": "0.0333"\n'
    "   },\n"
    '   "client_ref": "string",\n'
    '   "channel": "whatsapp",\n'
    '   "wubwub": {\n'
    '      "Prop0": {\n'
    '         "id": "ab12cdhfgjk3",\n'
    '         "N3s7ed": {\n'
    '            "type": "user_initiated"\n'
    "         }\n"
    "      }\n"
    "   }\n"
    "}"
)

# corpus example 2: SMS API DLR via GET (courier fixtures, minimal): delivered / expired / failed er
COURIER_GET_LINES = (
    "to=2020&messageId=external1&status=delivered&err-code=0\n"
    "to=2020&messageId=external1&status=expired&err-code=0\n"
    "to=2020&messageId=external1&status=failed&err-code=6\n"
    "to=2020&messageId=external1&status=accepted"
)


EXAMPLES = (SMS_DLR_JSON, MESSAGES_STATUS, COURIER_GET_LINES)


CALLBACKS = support.Callbacks(ADAPTER, "vonage", content_type="")
request, one = CALLBACKS.request, CALLBACKS.one


def get(query: str) -> Event:
    return one(request(query=tuple(parse_qsl(query)), method="GET"))


def receipt(**fields: str) -> Event:
    return get(urlencode({"messageId": "0B00000127FDBC63", "msisdn": "447700900000", **fields}))


def test_every_corpus_example_is_tested_here() -> None:
    assert support.corpus_bodies("vonage.json") == set(EXAMPLES)


# --- corpus examples -------------------------------------------------------------------


def test_typical_sms_receipt_as_json_post() -> None:
    event = one(request(SMS_DLR_JSON, content_type=JSON))
    assert event.raw_status == "delivered"
    assert event.status is Status.DELIVERED
    assert event.raw_message_id == "0B00000127FDBC63"
    assert event.provider_message_id == "0B00000127FDBC63"
    assert event.error_code is None  # err-code 0 means no error
    assert event.error_class is None
    assert event.cost == Decimal("0.03330000")
    assert isinstance(event.cost, Decimal)
    assert event.currency == "EUR"  # the receipt has no currency: the default
    assert event.provider_time == datetime(2018, 10, 25, 12, 10, 29, tzinfo=UTC)
    assert event.recipient == "447547232824"
    assert event.channel is Channel.SMS
    assert event.details == {"network_code": "23410", "scts": "1810251310", "sender": "Nexmo CLI"}


def test_typical_sms_receipt_as_get_and_as_form_post() -> None:
    fields = json.loads(SMS_DLR_JSON)
    as_get = one(request(query=tuple(fields.items()), method="GET"))
    as_form = one(request(urlencode(fields), content_type=FORM))
    as_json = one(request(SMS_DLR_JSON, content_type=JSON))
    assert as_get == as_form == as_json


def test_sms_price_currency_option() -> None:
    event = one(request(SMS_DLR_JSON, content_type=JSON), {"currency": "USD"})
    assert event.currency == "USD"


def test_messages_api_status() -> None:
    event = one(request(MESSAGES_STATUS, content_type=JSON))
    assert event.raw_status == "read"
    assert event.status is Status.READ  # an error object never turns `read` into a failure
    assert event.raw_message_id == "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
    assert event.provider_message_id == "AAAAAAAA-BBBB-CCCC-DDDD-0123456789AB"
    assert event.client_ref == "string"
    assert event.error_code == "1000"
    assert event.error_class is ErrorClass.RATE_LIMIT
    assert event.retryable is True
    assert event.cost == Decimal("0.0333")
    assert event.currency == "EUR"
    assert event.provider_time == datetime(2020, 1, 1, 14, 0, tzinfo=UTC)
    assert event.channel is Channel.WHATSAPP
    assert event.recipient == "447700900000"
    assert event.details["from"] == "447700900001"
    assert event.details["error_instance"] == "bf0ca0bf927b3b52e3cb03217e1a1ddf"
    assert "wubwub" not in event.details  # unknown blocks stay in the raw inbox only


@pytest.mark.parametrize(
    ("line", "status", "error_code", "error_class"),
    [
        (0, Status.DELIVERED, None, None),
        (1, Status.EXPIRED, None, ErrorClass.RECIPIENT),
        (2, Status.REJECTED, "6", ErrorClass.CONTENT),  # failed + anti-spam: a refusal
        (3, Status.SENT, None, None),  # `accepted` by the downstream carrier
    ],
)
def test_courier_get_receipts_one_request_per_line(
    line: int, status: Status, error_code: str | None, error_class: ErrorClass | None
) -> None:
    event = get(COURIER_GET_LINES.split("\n")[line])
    assert event.status is status
    assert event.error_code == error_code
    assert event.error_class is error_class
    assert event.raw_message_id == "external1"
    assert event.provider_message_id == "EXTERNAL1"
    assert event.details["sender"] == "2020"
    assert event.cost is None and event.currency is None


# --- behaviour -----------------------------------------------------------------------


def test_multipart_message_gives_one_receipt_per_part() -> None:
    parts = [
        receipt(messageId=part_id, status="delivered", price="0.0333", **{"client-ref": "ord-7"})
        for part_id in ("0b00000127fdbc63", "0B00000127FDBC64")
    ]
    assert [p.provider_message_id for p in parts] == ["0B00000127FDBC63", "0B00000127FDBC64"]
    assert all(p.client_ref == "ord-7" and p.cost == Decimal("0.0333") for p in parts)


def test_json_number_price_is_exact() -> None:
    body = '{"messageId": "0A1", "status": "delivered", "price": 0.1000000000000000055511}'
    event = one(request(body, content_type=JSON))
    assert event.cost == Decimal("0.1000000000000000055511")


def test_zero_price_is_still_a_price() -> None:
    event = receipt(status="delivered", price="0.00000000")
    assert event.cost == Decimal(0) and event.currency == "EUR"


def test_signed_receipt_fields_do_not_disturb_parsing() -> None:
    event = receipt(status="delivered", timestamp="1540469429", nonce="abc", sig="00ff")
    assert event.status is Status.DELIVERED


def test_failed_with_absent_subscriber() -> None:
    event = receipt(status="failed", **{"err-code": "2"})
    assert event.status is Status.FAILED
    assert event.error_class is ErrorClass.RECIPIENT
    assert event.retryable is True


def test_unknown_receipt_status_is_not_final() -> None:
    event = receipt(status="unknown", **{"err-code": "1"})
    assert event.status is Status.UNKNOWN
    assert event.error_code == "1"


def test_unmapped_err_code_is_kept_raw() -> None:
    event = receipt(status="failed", **{"err-code": "77"})
    assert event.status is Status.FAILED
    assert event.error_code == "77"
    assert event.error_class is ErrorClass.UNKNOWN


def test_messages_rejected_with_ttl_expiry_is_expired() -> None:
    status = {
        "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        "status": "rejected",
        "timestamp": "2023-05-01T14:00:00.000Z",
        "channel": "sms",
        "error": {"type": "https://developer.vonage.com/api-errors/messages#1360", "title": "TTL"},
    }
    event = one(request(json.dumps(status), content_type=JSON))
    assert event.status is Status.EXPIRED
    assert event.error_code == "1360"
    assert event.channel is Channel.SMS


def test_messages_v01_schema() -> None:
    status = {
        "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        "to": {"type": "whatsapp", "number": "447700900000"},
        "from": {"type": "whatsapp", "number": "447700900001"},
        "timestamp": "2020-01-01T14:00:00.000Z",
        "status": "rejected",
        "error": {"code": 1050, "reason": "Number barred"},
        "usage": {"currency": "GBP", "price": "0.0100"},
    }
    event = one(request(json.dumps(status), content_type=JSON))
    assert event.status is Status.REJECTED
    assert event.error_code == "1050"
    assert event.error_class is ErrorClass.RECIPIENT
    assert event.recipient == "447700900000"
    assert event.cost == Decimal("0.0100") and event.currency == "GBP"
    assert event.details["error_detail"] == "Number barred"


def test_messages_submitted_with_segments_and_network() -> None:
    status = {
        "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        "status": "submitted",
        "timestamp": "2023-05-01T14:00:00.000Z",
        "channel": "sms",
        "usage": {"price": "0.0333"},
        "destination": {"network_code": "23410"},
        "sms": {"count_total": "2"},
    }
    event = one(request(json.dumps(status), content_type=JSON))
    assert event.status is Status.SENT
    assert event.currency == "EUR"
    assert event.details["segments"] == "2" and event.details["network_code"] == "23410"


def test_inbound_messages_are_not_receipts() -> None:
    inbound_sms = urlencode({"msisdn": "4477", "to": "4478", "messageId": "0A1", "text": "hi"})
    assert ADAPTER.parse_callback(request(query=tuple(parse_qsl(inbound_sms))), {}) == []
    inbound = {"message_uuid": "x", "message_type": "text", "text": "hi", "channel": "whatsapp"}
    assert ADAPTER.parse_callback(request(json.dumps(inbound), content_type=JSON), {}) == []


@pytest.mark.parametrize(
    "body",
    [
        "",
        '{"status": "delivered"}',
        '{"messageId": "0A1"}',
        '{"messageId": "0A1", "status": "delivered", "price": "lots"}',
        '{"messageId": "0A1", "status": "delivered", "price": "Infinity"}',
        '{"messageId": "0A1", "status": "delivered", "price": [0.5]}',
        '{"messageId": "0A1", "status": "delivered", "message-timestamp": "soon"}',
        '{"messageId": "0A1", "status": "delivered", "message-timestamp": "99999999999999999"}',
        "[]",
        "{",
    ],
)
def test_unusable_requests_are_parse_errors(body: str) -> None:
    with pytest.raises(ParseError):
        ADAPTER.parse_callback(request(body, content_type=JSON), {})


def test_canonical_id_upper_cases() -> None:
    assert ADAPTER.canonical_id(" 0b00000127fdbc63 ", {}) == "0B00000127FDBC63"


def test_contract_attributes() -> None:
    assert ADAPTER.name == "vonage"
    assert ADAPTER.signature_scheme == "vonage"
    assert ADAPTER.handshake(request(SMS_DLR_JSON), {}) is None


# --- every documented code ------------------------------------------------------------

TABLES = codes.load("vonage")


def rows(table: str) -> list[CodeInfo]:
    return support.rows("vonage", table)


@pytest.mark.parametrize("row", rows("sms_status"), ids=lambda row: row.code)
def test_every_sms_status(row: CodeInfo) -> None:
    event = receipt(status=row.code)
    assert event.status is row.status
    assert event.description == row.description


@pytest.mark.parametrize("row", rows("err_code"), ids=lambda row: row.code)
def test_every_err_code(row: CodeInfo) -> None:
    event = receipt(status="failed", **{"err-code": row.code})
    if row.code == "0":
        assert event.error_code is None
        return
    assert event.error_code == row.code
    assert event.error_class is row.error_class
    assert event.retryable is row.retryable
    assert event.description == row.description
    assert event.status is (row.status if row.status.failure else Status.FAILED)


def test_err_code_table_is_the_documented_one() -> None:
    assert set(TABLES.tables["err_code"]) == {str(n) for n in range(16)} | {"99"}


@pytest.mark.parametrize("row", rows("messages_status"), ids=lambda row: row.code)
def test_every_messages_status(row: CodeInfo) -> None:
    status = {"message_uuid": "u-1", "status": row.code, "timestamp": "2023-05-01T14:00:00Z"}
    event = one(request(json.dumps(status), content_type=JSON))
    assert event.status is row.status


@pytest.mark.parametrize("row", rows("messages_error"), ids=lambda row: row.code)
def test_every_messages_error(row: CodeInfo) -> None:
    error = {"type": f"https://developer.vonage.com/api-errors/messages#{row.code}", "title": "x"}
    status = {"message_uuid": "u-1", "status": "rejected", "error": error}
    event = one(request(json.dumps(status), content_type=JSON))
    assert event.error_code == row.code
    assert event.error_class is row.error_class
    assert event.description == row.description
    assert event.status is (row.status if row.status.failure else Status.REJECTED)


# --- submit responses -----------------------------------------------------------------


submission = support.Submissions("vonage", Channel.SMS, "ord-7", "447700900000")


def test_submit_sms_two_parts() -> None:
    response = {
        "message-count": "2",
        "messages": [
            {
                "to": "447700900000",
                "message-id": "0c000000217b7f02",
                "status": "0",
                "remaining-balance": "15.53590000",
                "message-price": "0.03330000",
                "network": "23410",
            },
            {
                "to": "447700900000",
                "message-id": "0C000000217B7F03",
                "status": "0",
                "message-price": "0.03330000",
                "network": "23410",
            },
        ],
    }
    outcome = ADAPTER.parse_submit(submission(response), {})
    assert outcome.provider_message_ids == ("0C000000217B7F02", "0C000000217B7F03")
    assert outcome.segments == 2
    assert outcome.cost == Decimal("0.06660000") and outcome.currency == "EUR"
    assert [e.status for e in outcome.events] == [Status.ACCEPTED, Status.ACCEPTED]
    assert all(e.client_ref == "ord-7" for e in outcome.events)


def test_submit_sms_refused() -> None:
    response = {"message-count": "1", "messages": [{"status": "9", "error-text": "Quota"}]}
    outcome = ADAPTER.parse_submit(submission(json.dumps(response)), {})
    (event,) = outcome.events
    assert event.status is Status.REJECTED
    assert event.error_code == "9"
    assert event.error_class is ErrorClass.BILLING
    assert outcome.provider_message_ids == ()


def test_submit_messages_api() -> None:
    response = {"message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"}
    outcome = ADAPTER.parse_submit(submission(response, 202, channel=Channel.WHATSAPP), {})
    assert outcome.provider_message_ids == ("AAAAAAAA-BBBB-CCCC-DDDD-0123456789AB",)
    assert outcome.events[0].status is Status.ACCEPTED


def test_submit_messages_api_problem() -> None:
    problem = {
        "type": "https://developer.vonage.com/api-errors/messages#1020",
        "title": "Invalid params",
        "detail": "The value of one or more parameters is invalid.",
    }
    (event,) = ADAPTER.parse_submit(submission(problem, 422), {}).events
    assert event.status is Status.REJECTED
    assert event.error_code == "1020"
    assert event.error_class is ErrorClass.VALIDATION


# --- fuzzing: nothing but ParseError --------------------------------------------------

KEYS = [
    "messageId",
    "status",
    "err-code",
    "price",
    "network-code",
    "scts",
    "message-timestamp",
    "client-ref",
    "msisdn",
    "to",
    "text",
    "message_uuid",
]
JSON_KEYS = [*KEYS, "error", "usage", "channel", "timestamp", "from", "sms", "destination"]
JSON_VALUES = support.json_values("title", "type", "code", "price", "currency")
TEXTS = st.text(max_size=24) | st.sampled_from(["delivered", "failed", "0", "6", "2018-10-25"])


def survives(req: RawRequest) -> None:
    support.only_parse_error(ADAPTER, req)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([FORM, JSON, ""]))
def test_fuzz_bytes(body: bytes, content_type: str) -> None:
    survives(request(body, content_type=content_type))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(support.names(KEYS), TEXTS))
def test_fuzz_forms(fields: dict[str, str]) -> None:
    survives(request(urlencode(fields), content_type=FORM))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(support.names(KEYS), TEXTS), max_size=8))
def test_fuzz_query_strings(pairs: list[tuple[str, str]]) -> None:
    survives(request(query=tuple(pairs), method="GET"))


@settings(max_examples=150, deadline=None)
@given(JSON_VALUES | st.dictionaries(st.sampled_from(JSON_KEYS), JSON_VALUES))
def test_fuzz_json(doc: Any) -> None:
    survives(request(json.dumps(doc), content_type=JSON))


@settings(max_examples=100, deadline=None)
@given(
    JSON_VALUES
    | st.fixed_dictionaries({"messages": st.lists(JSON_VALUES, max_size=3)})
    | st.dictionaries(st.sampled_from(["message_uuid", "type", "title"]), JSON_VALUES)
)
def test_fuzz_submit_never_raises(response: Any) -> None:
    ADAPTER.parse_submit(submission(response), {})
