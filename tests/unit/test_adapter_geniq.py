"""GenIQ: send responses (one id per SMS part) and SMS/WhatsApp delivery reports."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.adapters import codes
from receiver.adapters.base import ParseError
from receiver.adapters.geniq import ADAPTER
from receiver.model import Channel, ErrorClass, RawRequest, Status
from tests.unit import adapter_support as support

# verbatim from shared/providers/README.md (GenIQ SMS delivery report sample)
README_QUERY = (
    "?messageId=43BC206B4610B25F41E7C3E050035473&channel=sms&recipient=6591234567"
    "&status=delivered&reasonCode=0&messageTimestamp=2017-01-03T14:31:28+08:00"
    "&operatorTimestamp=2017-01-03T14:31:00+08:00"
)
SGT = timezone(timedelta(hours=8))
JSON_VALUES = support.SEED_JSON
FIELDS = [
    "messageId",
    "channel",
    "recipient",
    "status",
    "reasonCode",
    "messageTimestamp",
    "operatorTimestamp",
    "providerTimestamp",
]
SCALARS = (
    st.none()
    | st.integers()
    | st.text(max_size=30)
    | st.sampled_from(
        ["sms", "whatsapp", "delivered", "failed", "2017-01-03T14:31:28+08:00", "1483425088"]
    )
)


CALLBACKS = support.Callbacks(ADAPTER, "geniq")
request = CALLBACKS.request


submit = support.Submissions("geniq", Channel.SMS, "ref-1", "6591234567")


# --- delivery reports ---


def test_readme_query_string_example() -> None:
    # a raw "+" in a query string decodes to a space: the offset must survive that
    [event] = ADAPTER.parse_callback(request(query=README_QUERY.lstrip("?"), method="GET"), {})
    assert event.provider_message_id == "43BC206B4610B25F41E7C3E050035473"
    assert (event.status, event.channel, event.recipient) == (
        Status.DELIVERED,
        Channel.SMS,
        "6591234567",
    )
    assert event.provider_time == datetime(2017, 1, 3, 14, 31, 0, tzinfo=SGT)
    assert event.details["messageTimestamp"] == "2017-01-03T14:31:28+08:00"
    assert event.error_code is None and event.error_class is None


def test_same_report_as_form_and_json_posts() -> None:
    fields = dict(parse_qsl(README_QUERY.lstrip("?").replace("+", "%2B")))
    [from_get] = ADAPTER.parse_callback(request(query=README_QUERY.lstrip("?"), method="GET"), {})
    [form] = ADAPTER.parse_callback(CALLBACKS.form(fields), {})
    [posted] = ADAPTER.parse_callback(request(json.dumps(fields).encode()), {})
    assert form == posted == from_get


@pytest.mark.parametrize(
    ("status", "reason", "canonical", "error_class", "retryable"),
    [
        ("undeliverable", "5", Status.FAILED, ErrorClass.RECIPIENT, False),
        ("expired", "8", Status.EXPIRED, ErrorClass.RECIPIENT, True),
        ("rejected", "3", Status.REJECTED, ErrorClass.VALIDATION, False),
        ("deleted", "9", Status.FAILED, ErrorClass.PROVIDER, True),
        ("undeliverable", "0", Status.FAILED, ErrorClass.RECIPIENT, False),
        ("undeliverable", "55", Status.FAILED, ErrorClass.UNKNOWN, False),
    ],
)
def test_sms_failures_take_their_class_from_the_reason_code(
    status: str, reason: str, canonical: Status, error_class: ErrorClass, retryable: bool
) -> None:
    body = {"messageId": "ab12", "channel": "sms", "status": status, "reasonCode": reason}
    [event] = ADAPTER.parse_callback(request(json.dumps(body).encode()), {})
    assert (event.status, event.error_class, event.retryable) == (canonical, error_class, retryable)
    assert event.error_code == (None if reason == "0" else reason)


@pytest.mark.parametrize(
    ("table", "channel"), [("sms_status", "sms"), ("whatsapp_status", "whatsapp")]
)
def test_every_documented_status(table: str, channel: str) -> None:
    for raw, row in codes.load("geniq").tables[table].items():
        body = {"messageId": "ab12", "channel": channel, "status": raw, "reasonCode": "0"}
        [event] = ADAPTER.parse_callback(request(json.dumps(body).encode()), {})
        assert event.status is row.status, raw


def test_whatsapp_report_with_a_meta_reason_code() -> None:
    body = {
        "messageId": "wa-1",
        "channel": "whatsapp",
        "recipient": "6591234567",
        "status": "failed",
        "reasonCode": "131021",
        "messageTimestamp": "2024-05-01T10:00:00+08:00",
        "providerTimestamp": "2024-05-01T10:00:05+08:00",
    }
    [event] = ADAPTER.parse_callback(request(json.dumps(body).encode()), {})
    assert (event.status, event.channel, event.error_code, event.error_class) == (
        Status.FAILED,
        Channel.WHATSAPP,
        "131021",
        ErrorClass.RECIPIENT,
    )
    assert event.provider_time == datetime(2024, 5, 1, 10, 0, 5, tzinfo=SGT)
    assert event.provider_message_id == "wa-1"  # not hex: left as it is


def test_whatsapp_read_and_exceeded_retry() -> None:
    def parse(status: str) -> Any:
        body = {"messageId": "m", "channel": "whatsapp", "status": status, "reasonCode": "0"}
        return ADAPTER.parse_callback(request(json.dumps(body).encode()), {})[0]

    assert parse("read").status is Status.READ
    retry = parse("exceeded_retry")
    assert (retry.status, retry.error_class, retry.retryable) == (
        Status.FAILED,
        ErrorClass.PROVIDER,
        True,
    )


def test_unknown_status_is_kept_raw() -> None:
    [event] = ADAPTER.parse_callback(request(query="messageId=x1&status=bouncing"), {})
    assert (event.status, event.raw_status, event.error_class) == (
        Status.UNKNOWN,
        "bouncing",
        ErrorClass.UNKNOWN,
    )


@pytest.mark.parametrize(
    "query",
    [
        "status=delivered",
        "messageId=abc",
        "messageId=abc&status=delivered&operatorTimestamp=yesterday",
    ],
)
def test_unusable_reports_raise_parse_error(query: str) -> None:
    with pytest.raises(ParseError):
        ADAPTER.parse_callback(request(query=query, method="GET"), {})


def test_canonical_id_upper_cases_hex_only() -> None:
    assert ADAPTER.canonical_id(" 43bc206b ", {}) == "43BC206B"
    assert ADAPTER.canonical_id("wamid.abc", {}) == "wamid.abc"


# --- send responses ---


@pytest.mark.parametrize("code", ["0", 0, "00"])
def test_accepted_send_gives_one_event_per_part(code: Any) -> None:
    response = {
        "reference": "r-1",
        "responseCode": code,
        "responseMessage": "Success",
        "messageIds": ["43bc206b4610b25f", "43bc206b4610b260"],
    }
    outcome = ADAPTER.parse_submit(submit(response), {})
    assert outcome.provider_message_ids == ("43BC206B4610B25F", "43BC206B4610B260")
    assert outcome.segments == 2
    assert [(e.status, e.provider_message_id, e.raw_message_id) for e in outcome.events] == [
        (Status.ACCEPTED, "43BC206B4610B25F", "43bc206b4610b25f"),
        (Status.ACCEPTED, "43BC206B4610B260", "43bc206b4610b260"),
    ]
    assert outcome.events[0].details == {"reference": "r-1", "responseMessage": "Success"}


@pytest.mark.parametrize(
    ("code", "channel", "error_class"),
    [
        ("11", Channel.SMS, ErrorClass.RECIPIENT),
        (6, Channel.SMS, ErrorClass.BILLING),
        ("20", Channel.SMS, ErrorClass.AUTH),
        ("23", Channel.SMS, ErrorClass.AUTH),
        ("24", Channel.SMS, ErrorClass.AUTH),
        ("301", Channel.WHATSAPP, ErrorClass.CONTENT),
        ("131009", Channel.WHATSAPP, ErrorClass.VALIDATION),
        ("131009", Channel.SMS, ErrorClass.UNKNOWN),
        ("77", Channel.SMS, ErrorClass.UNKNOWN),
    ],
)
def test_refused_send_is_rejected_with_its_class(
    code: Any, channel: Channel, error_class: ErrorClass
) -> None:
    response = {"reference": "r-2", "responseCode": code, "responseMessage": "x", "messageIds": []}
    outcome = ADAPTER.parse_submit(submit(response, 400, channel=channel), {})
    [event] = outcome.events
    assert (event.status, event.error_code, event.error_class) == (
        Status.REJECTED,
        str(code),
        error_class,
    )
    assert outcome.provider_message_ids == ()


@pytest.mark.parametrize("response", [None, "oops", {"messageIds": "x"}, {"responseCode": [1]}])
def test_odd_send_responses_do_not_raise(response: Any) -> None:
    assert ADAPTER.parse_submit(submit(response, http=502), {}).events[0].status is Status.UNKNOWN


# --- fuzz ---


def _callback_only_raises_parse_error(req: RawRequest) -> None:
    for event in support.only_parse_error(ADAPTER, req):
        assert event.provider_message_id


@given(st.binary())
def test_fuzz_bytes(body: bytes) -> None:
    _callback_only_raises_parse_error(request(body))


@given(JSON_VALUES | st.dictionaries(st.sampled_from(FIELDS), SCALARS))
def test_fuzz_json(value: Any) -> None:
    _callback_only_raises_parse_error(request(json.dumps(value).encode()))


@given(st.dictionaries(support.names(FIELDS, 12), st.text(max_size=30)))
def test_fuzz_form_and_query(fields: dict[str, str]) -> None:
    for req in CALLBACKS.form_and_query(fields):
        _callback_only_raises_parse_error(req)


@given(
    JSON_VALUES
    | st.dictionaries(
        st.sampled_from(["reference", "responseCode", "responseMessage", "messageIds"]),
        SCALARS | JSON_VALUES,
    ),
    st.none() | st.integers(100, 599),
    st.sampled_from(Channel),
)
def test_fuzz_submit_never_raises(response: Any, http: int | None, channel: Channel) -> None:
    assert ADAPTER.parse_submit(submit(response, http, channel=channel), {}).events
