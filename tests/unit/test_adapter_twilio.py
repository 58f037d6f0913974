"""Twilio adapter: corpus examples, every documented code, submit responses and fuzzing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.adapters import codes
from receiver.adapters.base import Ack, ParseError
from receiver.adapters.twilio import ADAPTER
from receiver.model import Channel, CodeInfo, ErrorClass, Event, RawRequest, Status
from tests.unit import adapter_support as support
from tests.unit.adapter_support import FORM

# corpus example 0: Status callback when an outbound SMS changes status to 'sent' - VERBATIM from Tw
DOC_SENT = (
    '"AccountSid": "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"\n'
    '"From": "+15017250604"\n'
    '"MessageSid": "SM1342fe1b2c904d1ab04f0fc7a58abca9"\n'
    '"MessageStatus": "sent"\n'
    '"SmsSid": "SM1342fe1b2c904d1ab04f0fc7a58abca9"\n'
    '"SmsStatus": "sent"'
)

# corpus example 1: Status-poll response (GET Message resource) - VERBATIM mock response from twilio
REST_RESOURCE = (
    "            {\n"
    '                "account_sid": "ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",\n'
    '                "api_version": "2010-04-01",\n'
    '                "body": "testing",\n'
    '                "date_created": "Fri, 24 May 2019 17:18:27 +0000",\n'
    '                "date_sent": "Fri, 24 May 2019 17:18:28 +0000",\n'
    '                "date_updated": "Fri, 24 May 2019 17:18:28 +0000",\n'
    '                "direction": "outbound-api",\n'
    '                "error_code": 30007,\n'
    '                "error_message": "Carrier violation",\n'
    '                "from": "+12019235161",\n'
    '                "messaging_service_sid": "MGdeadbeefdeadbeefdeadbeefdeadbeef",\n'
    '                "num_media": "0",\n'
    '                "num_segments": "1",\n'
    '                "price": "-0.00750",\n'
    '                "price_unit": "USD",\n'
    '                "sid": "SMb7c0a2ce80504485a6f653a7110836f5",\n'
    '                "status": "sent",\n'
    '                "subresource_uris": {\n'
    '                    "media": "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMb7c0a2ce80504485a6f653a7110836f5/Media.json",\n'
    '                    "feedback": "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMb7c0a2ce80504485a6f653a7110836f5/Feedback.json"\n'
    "                },\n"
    '                "tags": {\n'
    '                    "campaign_name": "Spring Sale 2022",\n'
    '                    "message_type": "cart_abandoned"\n'
    "                },\n"
    '                "to": "+18182008801",\n'
    '                "uri": "/2010-04-01/Accounts/ACaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/Messages/SMb7c0a2ce80504485a6f653a7110836f5.json"\n'
    "            }\n"
)

# corpus example 2: Status callback failed with ErrorCode 21610 (recipient unsubscribed/STOP) - mini
FAILED_21610 = "ErrorCode=21610&MessageSid=SMe287d7109a5a925f182f0e07fe5b223b&MessageStatus=failed&To=%2B12028831111"

# corpus example 3: Status callback read (WhatsApp) - courier fixture
READ_WHATSAPP = "MessageSid=SMe287d7109a5a925f182f0e07fe5b223b&MessageStatus=read"


EXAMPLES = (DOC_SENT, REST_RESOURCE, FAILED_21610, READ_WHATSAPP)
SID = "SMe287d7109a5a925f182f0e07fe5b223b"


CALLBACKS = support.Callbacks(ADAPTER, "twilio", FORM)
request, parse, one = CALLBACKS.request, CALLBACKS.parse, CALLBACKS.one


def callback(**fields: str) -> Event:
    return one(urlencode({"MessageSid": SID, **fields}))


def doc_rendering_as_form(rendered: str) -> str:
    """The doc prints the form as `"Key": "Value"` lines; on the wire it is form-encoded."""
    pairs = [line.split(": ", 1) for line in rendered.splitlines()]
    return urlencode([(key.strip('"'), value.strip('"')) for key, value in pairs])


def test_every_corpus_example_is_tested_here() -> None:
    assert support.corpus_bodies("twilio.json") == set(EXAMPLES)


# --- corpus examples -------------------------------------------------------------------


def test_doc_sent_callback_as_sent_on_the_wire() -> None:
    event = one(doc_rendering_as_form(DOC_SENT))
    assert event.raw_status == "sent"
    assert event.status is Status.SENT
    assert event.provider_message_id == event.raw_message_id == "SM1342fe1b2c904d1ab04f0fc7a58abca9"
    assert event.error_code is None and event.error_class is None
    assert event.channel is Channel.SMS
    assert event.recipient is None  # the example has no To
    assert event.provider_time is None  # Twilio callbacks carry no time unless RawDlrDoneDate
    assert event.cost is None  # callbacks carry no price
    assert event.details["account_sid"] == "ACxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
    assert event.details["from"] == "+15017250604"


def test_doc_rendering_itself_is_not_a_wire_format() -> None:
    # the doc's key:value rendering is not what Twilio sends: quarantined, not guessed at
    with pytest.raises(ParseError):
        parse(DOC_SENT)


def test_rest_message_resource_from_polling() -> None:
    event = one(REST_RESOURCE, content_type="application/json")
    assert event.raw_status == "sent"
    assert event.status is Status.SENT  # error 30007 on a `sent` message does not make it failed
    assert event.provider_message_id == "SMb7c0a2ce80504485a6f653a7110836f5"
    assert event.error_code == "30007"
    assert event.error_class is ErrorClass.CONTENT
    assert event.retryable is False
    assert event.cost == Decimal("0.00750")  # Twilio's "-0.00750" is a charge
    assert isinstance(event.cost, Decimal)
    assert event.currency == "USD"
    assert event.provider_time == datetime(2019, 5, 24, 17, 18, 28, tzinfo=UTC)
    assert event.recipient == "+18182008801"
    assert event.channel is Channel.SMS
    assert event.details["segments"] == 1
    assert event.details["error_message"] == "Carrier violation"
    assert event.details["messaging_service_sid"] == "MGdeadbeefdeadbeefdeadbeefdeadbeef"


def test_failed_21610_unsubscribed_recipient() -> None:
    event = one(FAILED_21610)
    assert event.raw_status == "failed"
    # 21610 (the recipient replied STOP) is a refusal before any carrier saw the message
    assert event.status is Status.REJECTED
    assert event.provider_message_id == SID
    assert event.error_code == "21610"
    assert event.error_class is ErrorClass.RECIPIENT
    assert event.retryable is False
    assert event.description is not None and "unsubscribed" in event.description
    assert event.recipient == "+12028831111"
    assert event.channel is Channel.SMS


def test_read_receipt() -> None:
    event = one(READ_WHATSAPP)
    assert event.raw_status == "read"
    assert event.status is Status.READ
    assert event.provider_message_id == SID
    assert event.error_code is None
    assert event.channel is None  # no To/From: nothing says which channel


# --- behaviour -----------------------------------------------------------------------


def test_whatsapp_callback() -> None:
    event = callback(
        MessageStatus="failed",
        ErrorCode="63016",
        To="whatsapp:+14155238886",
        From="whatsapp:+15005550006",
        ChannelPrefix="whatsapp",
        ChannelStatusMessage="Message failed to send because more than 24 hours have passed",
        AccountSid="AC123",
    )
    assert event.channel is Channel.WHATSAPP
    assert event.recipient == "+14155238886"
    assert event.status is Status.REJECTED
    assert event.error_class is ErrorClass.CONTENT
    assert event.details["channel_prefix"] == "whatsapp"
    assert event.details["channel_status_message"].startswith("Message failed")


def test_channel_from_from_address_alone() -> None:
    event = callback(MessageStatus="delivered", From="whatsapp:+15005550006")
    assert event.channel is Channel.WHATSAPP


def test_other_channel_prefixes_are_kept_not_guessed() -> None:
    event = callback(MessageStatus="delivered", To="rcs:+14155238886")
    assert event.channel is None
    assert event.recipient == "+14155238886"
    assert event.details["channel_prefix"] == "rcs"


def test_raw_dlr_done_date_is_the_provider_time() -> None:
    event = callback(MessageStatus="delivered", RawDlrDoneDate="2302141005", To="+15558675310")
    assert event.provider_time == datetime(2023, 2, 14, 10, 5, tzinfo=UTC)
    assert event.details["raw_dlr_done_date"] == "2302141005"


@pytest.mark.parametrize(
    "junk",
    [
        "23021410",
        "2313451005",
        "abcdefghij",
        "\uff12\uff13\uff10\uff12\uff11\uff14\uff11\uff10\uff10\uff15",
    ],
)
def test_bad_raw_dlr_done_date_is_kept_raw_not_fatal(junk: str) -> None:
    event = callback(MessageStatus="delivered", RawDlrDoneDate=junk)
    assert event.status is Status.DELIVERED
    assert event.provider_time is None
    assert event.details["raw_dlr_done_date"] == junk


def test_undelivered_30003_is_a_retryable_recipient_failure() -> None:
    event = callback(MessageStatus="undelivered", ErrorCode="30003", To="+15558675310")
    assert event.status is Status.FAILED
    assert event.error_class is ErrorClass.RECIPIENT
    assert event.retryable is True


def test_legacy_sms_fields() -> None:
    event = one(urlencode({"SmsSid": "SM1", "SmsStatus": "delivered"}))
    assert event.provider_message_id == "SM1"
    assert event.status is Status.DELIVERED


def test_error_code_zero_is_no_error() -> None:
    assert callback(MessageStatus="delivered", ErrorCode="0").error_code is None


def test_unknown_status_and_code_are_kept_raw() -> None:
    event = callback(MessageStatus="teleported", ErrorCode="99999")
    assert event.raw_status == "teleported"
    assert event.status is Status.UNKNOWN
    assert event.error_code == "99999"
    assert event.error_class is ErrorClass.UNKNOWN


def test_inbound_messages_are_not_delivery_reports() -> None:
    assert parse(urlencode({"MessageSid": "SM1", "SmsStatus": "received", "Body": "hi"})) == []


def test_query_string_fields_fill_in() -> None:
    event = one(query=(("MessageSid", "SM9"), ("MessageStatus", "sent")), method="GET")
    assert event.provider_message_id == "SM9"


def test_voice_callbacks_are_out_of_scope() -> None:
    with pytest.raises(ParseError, match="voice"):
        parse(urlencode({"CallSid": "CA1", "CallStatus": "completed"}))


@pytest.mark.parametrize(
    "body",
    [
        urlencode({"MessageStatus": "sent"}),
        urlencode({"MessageSid": "SM1"}),
        "",
        "%%%=&&",
        '{"code": 20404, "message": "not found", "status": 404}',
        "[1, 2]",
        '{"sid": "SM1"}',
        '{"sid": "SM1", "status": "sent", "price": "NaN"}',
        '{"sid": "SM1", "status": "sent", "date_updated": "yesterday"}',
        b"\xff\xfe",
    ],
)
def test_unusable_requests_are_parse_errors(body: str | bytes) -> None:
    with pytest.raises(ParseError):
        parse(body)


def test_message_list_page_gives_one_event_per_outbound_message() -> None:
    page = {
        "messages": [
            {"sid": "SM1", "status": "delivered", "to": "+1555", "price": None},
            {"sid": "SM2", "status": "received", "direction": "inbound"},
            {"sid": "SM3", "status": "undelivered", "error_code": 30005, "to": "+1556"},
        ]
    }
    events = parse(json.dumps(page), content_type="application/json")
    assert [(e.provider_message_id, e.status) for e in events] == [
        ("SM1", Status.DELIVERED),
        ("SM3", Status.FAILED),
    ]
    assert events[0].cost is None and events[0].currency is None
    assert events[1].error_class is ErrorClass.RECIPIENT


def test_canonical_id_is_case_sensitive() -> None:
    assert ADAPTER.canonical_id("  SMb7c0a2CE  ", {}) == "SMb7c0a2CE"


def test_contract_attributes() -> None:
    assert ADAPTER.name == "twilio"
    assert ADAPTER.signature_scheme == "twilio"
    assert ADAPTER.acknowledge(request(FAILED_21610), {}) == Ack()
    assert ADAPTER.handshake(request(FAILED_21610), {}) is None


# --- every documented code ------------------------------------------------------------

TABLES = codes.load("twilio")


def rows(table: str) -> list[CodeInfo]:
    return support.rows("twilio", table)


@pytest.mark.parametrize("row", rows("status"), ids=lambda row: row.code)
def test_every_status(row: CodeInfo) -> None:
    event = callback(MessageStatus=row.code)
    assert event.status is row.status
    assert event.description == row.description
    assert event.error_class is row.error_class


@pytest.mark.parametrize("row", rows("error"), ids=lambda row: row.code)
def test_every_error_code(row: CodeInfo) -> None:
    event = callback(MessageStatus="undelivered", ErrorCode=row.code)
    assert event.error_code == row.code
    assert event.error_class is row.error_class
    assert event.retryable is row.retryable
    assert event.description == row.description
    assert event.status is (row.status if row.status.failure else Status.FAILED)


def test_tables_cover_what_users_meet_most() -> None:
    wanted = {str(code) for code in range(30001, 30011)}
    wanted |= {"21610", "21211", "21408", "21614", "63016", "63018", "63024"}
    assert wanted <= set(TABLES.tables["error"])
    assert {"queued", "sending", "sent", "delivered", "undelivered", "failed", "read"} <= set(
        TABLES.tables["status"]
    )
    for row in rows("error"):
        assert row.error_class is not None and row.description


# --- submit responses -----------------------------------------------------------------


submission = support.Submissions("twilio", Channel.SMS, "order-1", "+15558675310", http=201)


def test_submit_message_resource() -> None:
    resource = json.loads(REST_RESOURCE) | {"status": "queued", "error_code": None, "price": None}
    outcome = ADAPTER.parse_submit(submission(resource), {})
    assert outcome.provider_message_ids == ("SMb7c0a2ce80504485a6f653a7110836f5",)
    assert outcome.segments == 1
    (event,) = outcome.events
    assert event.status is Status.ACCEPTED
    assert event.client_ref == "order-1"
    assert event.cost is None


def test_submit_response_as_a_string() -> None:
    outcome = ADAPTER.parse_submit(submission(REST_RESOURCE), {})
    assert outcome.provider_message_ids == ("SMb7c0a2ce80504485a6f653a7110836f5",)
    assert outcome.cost == Decimal("0.00750") and outcome.currency == "USD"


def test_submit_error_body() -> None:
    body = {"code": 21211, "message": "The 'To' number is not valid.", "status": 400}
    outcome = ADAPTER.parse_submit(submission(body, 400), {})
    (event,) = outcome.events
    assert outcome.provider_message_ids == ()
    assert event.status is Status.REJECTED
    assert event.error_code == "21211"
    assert event.error_class is ErrorClass.VALIDATION
    assert event.client_ref == "order-1"


@pytest.mark.parametrize("response", [None, "not json", [1], {"foo": 1}, {"sid": None}])
def test_submit_without_twilio_shape_falls_back_to_http_status(response: Any) -> None:
    outcome = ADAPTER.parse_submit(submission(response, 201), {})
    assert all(e.status in (Status.ACCEPTED, Status.SUBMITTED) for e in outcome.events)


# --- fuzzing: nothing but ParseError --------------------------------------------------

KEYS = [
    "MessageSid",
    "SmsSid",
    "MessageStatus",
    "SmsStatus",
    "ErrorCode",
    "To",
    "From",
    "RawDlrDoneDate",
    "ChannelPrefix",
    "ChannelStatusMessage",
    "CallSid",
]
REST_KEYS = ["sid", "status", "error_code", "price", "price_unit", "num_segments", "date_updated"]
JSON_VALUES = support.json_values()
TEXTS = st.text(max_size=24) | st.sampled_from(["sent", "failed", "30003", "whatsapp:+1", ""])


def survives(req: RawRequest) -> None:
    support.only_parse_error(ADAPTER, req)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([FORM, "application/json", ""]))
def test_fuzz_bytes(body: bytes, content_type: str) -> None:
    survives(request(body, content_type=content_type))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(support.names(KEYS), TEXTS))
def test_fuzz_forms(fields: dict[str, str]) -> None:
    survives(request(urlencode(fields)))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(support.names(KEYS), TEXTS), max_size=8))
def test_fuzz_query_strings(pairs: list[tuple[str, str]]) -> None:
    survives(request(query=tuple(pairs), method="GET"))


@settings(max_examples=150, deadline=None)
@given(JSON_VALUES | st.dictionaries(st.sampled_from(REST_KEYS), JSON_VALUES))
def test_fuzz_json(doc: Any) -> None:
    survives(request(json.dumps(doc), content_type="application/json"))


@settings(max_examples=100, deadline=None)
@given(JSON_VALUES | st.dictionaries(st.sampled_from([*REST_KEYS, "code"]), JSON_VALUES))
def test_fuzz_submit_never_raises(response: Any) -> None:
    ADAPTER.parse_submit(submission(response), {})


def test_price_without_unit_is_no_cost() -> None:
    body = {"sid": "SM1", "status": "delivered", "price": "-0.0075", "price_unit": None}
    event = one(json.dumps(body), content_type="application/json")
    assert event.cost is None and event.currency is None
    assert event.details["price"] == "-0.0075"
