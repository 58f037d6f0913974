"""Infobip adapter: corpus examples, every documented code, batches, submit and fuzzing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.adapters import codes
from receiver.adapters.base import ParseError
from receiver.adapters.infobip import ADAPTER
from receiver.model import Channel, CodeInfo, ErrorClass, Event, RawRequest, Status
from tests.unit import adapter_support as support

# corpus example 0: Outbound SMS delivery report webhook payload - VERBATIM JSON string from infobip
REPORT_WEBHOOK = (
    "{\n"
    '      "results": [\n'
    "        {\n"
    '          "bulkId": "BULK-ID-123-xyz",\n'
    '          "price": {\n'
    '            "pricePerMessage": 0.01,\n'
    '            "currency": "EUR"\n'
    "          },\n"
    '          "status": {\n'
    '            "groupId": 3,\n'
    '            "groupName": "DELIVERED",\n'
    '            "id": 5,\n'
    '            "name": "DELIVERED_TO_HANDSET",\n'
    '            "description": "Message delivered to handset"\n'
    "          },\n"
    '          "error": {\n'
    '            "groupId": 0,\n'
    '            "groupName": "OK",\n'
    '            "id": 0,\n'
    '            "name": "NO_ERROR",\n'
    '            "description": "No Error",\n'
    '            "permanent": false\n'
    "          },\n"
    '          "messageId": "MESSAGE-ID-123-xyz",\n'
    '          "to": "41793026727",\n'
    '          "sender": "InfoSMS",\n'
    '          "sentAt": "2023-08-01T16:10:00+05:30",\n'
    '          "doneAt": "2023-08-01T16:10:00+05:30",\n'
    '          "messageCount": 1,\n'
    '          "platform": {\n'
    '            "entityId": "promotional-traffic-entity",\n'
    '            "applicationId": "marketing-automation-application"\n'
    "          }\n"
    "        }\n"
    "      ]\n"
    "    }"
)

# corpus example 1: Status object example - VERBATIM from Infobip 'Message status codes' doc
STATUS_OBJECT = (
    "{\n"
    '  "groupId": 3,\n'
    '  "groupName": "DELIVERED",\n'
    '  "id": 5,\n'
    '  "name": "DELIVERED_TO_HANDSET",\n'
    '  "description": "Message delivered to handset"\n'
    "}"
)


EXAMPLES = (REPORT_WEBHOOK, STATUS_OBJECT)
IST = timezone(timedelta(hours=5, minutes=30))


CALLBACKS = support.Callbacks(ADAPTER, "infobip")
request, parse = CALLBACKS.request, CALLBACKS.parse


def report(**fields: Any) -> dict[str, Any]:
    base = {"messageId": "M-1", "to": "41793026727", "doneAt": "2019-11-09T16:00:00.000+0000"}
    return base | fields


def one(item: dict[str, Any]) -> Event:
    (event,) = parse(json.dumps({"results": [item]}))
    return event


def status(name: str, group: str = "", **extra: Any) -> dict[str, Any]:
    return {"groupName": group, "name": name, **extra}


def test_every_corpus_example_is_tested_here() -> None:
    assert support.corpus_bodies("infobip.json") == set(EXAMPLES)


# --- corpus examples -------------------------------------------------------------------


def test_delivery_report_webhook() -> None:
    (event,) = parse(REPORT_WEBHOOK)
    assert event.raw_status == "DELIVERED_TO_HANDSET"
    assert event.status is Status.DELIVERED
    assert event.provider_message_id == event.raw_message_id == "MESSAGE-ID-123-xyz"
    assert event.error_code is None  # NO_ERROR in group OK
    assert event.error_class is None
    assert event.cost == Decimal("0.01")  # a JSON number, read exactly
    assert isinstance(event.cost, Decimal)
    assert event.currency == "EUR"
    assert event.provider_time == datetime(2023, 8, 1, 16, 10, tzinfo=IST)
    assert event.recipient == "41793026727"
    assert event.channel is Channel.SMS
    assert event.details["segments"] == 1
    assert event.details["bulk_id"] == "BULK-ID-123-xyz"
    assert event.details["sender"] == "InfoSMS"
    assert event.details["entity_id"] == "promotional-traffic-entity"
    assert event.details["application_id"] == "marketing-automation-application"


def test_status_object_example() -> None:
    # the doc's bare status object is not a callback: it has no message id
    with pytest.raises(ParseError):
        parse(STATUS_OBJECT)
    # inside a report it is read by name
    event = one(report(status=json.loads(STATUS_OBJECT)))
    assert event.status is Status.DELIVERED
    assert event.details["status_id"] == "5"
    assert event.details["status_group"] == "DELIVERED"


# --- behaviour -----------------------------------------------------------------------


def test_batch_gives_one_event_per_report() -> None:
    batch = {
        "results": [
            report(messageId="M-1", status=status("DELIVERED_TO_OPERATOR", "DELIVERED")),
            report(messageId="M-2", status=status("PENDING_ENROUTE", "PENDING")),
            report(messageId="M-3", status=status("PENDING_ACCEPTED", "PENDING")),
            report(messageId="M-4", status=status("EXPIRED_EXPIRED", "EXPIRED")),
            report(messageId="M-5", status=status("REJECTED_NETWORK", "REJECTED")),
            report(messageId="M-6", status=status("UNDELIVERABLE_NOT_DELIVERED", "UNDELIVERABLE")),
        ]
    }
    events = parse(json.dumps(batch))
    assert [(e.provider_message_id, e.status) for e in events] == [
        ("M-1", Status.SENT),  # DELIVERED_TO_OPERATOR is not final
        ("M-2", Status.SENT),
        ("M-3", Status.ACCEPTED),
        ("M-4", Status.EXPIRED),
        ("M-5", Status.REJECTED),
        ("M-6", Status.FAILED),
    ]


def test_empty_batch() -> None:
    assert parse('{"results": []}') == []


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("PENDING", Status.SENT),
        ("DELIVERED", Status.SENT),  # never final by group alone
        ("UNDELIVERABLE", Status.FAILED),
        ("EXPIRED", Status.EXPIRED),
        ("REJECTED", Status.REJECTED),
        ("ACCEPTED", Status.ACCEPTED),
    ],
)
def test_unknown_status_name_falls_back_to_its_group(group: str, expected: Status) -> None:
    event = one(report(status=status(f"{group}_SOMETHING_NEW", group)))
    assert event.raw_status == f"{group}_SOMETHING_NEW"
    assert event.status is expected


def test_status_with_group_only() -> None:
    event = one(report(status={"groupName": "UNDELIVERABLE"}))
    assert event.raw_status == "UNDELIVERABLE"
    assert event.status is Status.FAILED


def test_error_permanent_flag_decides_retryability() -> None:
    error = {
        "groupId": 1,
        "groupName": "HANDSET_ERRORS",
        "id": 27,
        "name": "EC_ABSENT_SUBSCRIBER",
        "description": "Absent Subscriber",
        "permanent": False,
    }
    event = one(report(status=status("UNDELIVERABLE_NOT_DELIVERED", "UNDELIVERABLE"), error=error))
    assert event.status is Status.FAILED
    assert event.error_code == "27"
    assert event.error_class is ErrorClass.RECIPIENT
    assert event.retryable is True
    assert event.details["error_name"] == "EC_ABSENT_SUBSCRIBER"
    permanent = one(
        report(status=status("UNDELIVERABLE_NOT_DELIVERED"), error=error | {"permanent": True})
    )
    assert permanent.retryable is False


def test_unknown_error_id_uses_its_group_and_its_own_description() -> None:
    error = {"groupName": "OPERATOR_ERRORS", "id": 9876, "name": "EC_NEW", "description": "New"}
    event = one(report(status=status("UNDELIVERABLE_REJECTED_OPERATOR"), error=error))
    assert event.error_code == "9876"
    assert event.error_class is ErrorClass.NETWORK
    assert event.description == "New"
    assert event.retryable is True  # no `permanent`: the group's default
    assert not event.unmapped  # its group classifies it


def test_unknown_error_with_its_own_description_is_still_unmapped() -> None:
    event = one(
        report(status=status("UNDELIVERABLE_NOT_SENT"), error={"id": 9876, "description": "New"})
    )
    assert event.description == "New"
    assert event.unmapped


def test_unknown_error_without_group() -> None:
    event = one(report(status=status("UNDELIVERABLE_NOT_SENT"), error={"id": 9876}))
    assert event.error_class is ErrorClass.UNKNOWN
    assert event.retryable is False
    assert event.description == "unmapped code"
    assert event.unmapped


def test_cost_is_price_per_part_times_parts() -> None:
    price = {"pricePerMessage": 0.0075, "currency": "USD"}
    event = one(report(status=status("DELIVERED_TO_HANDSET"), price=price, messageCount=3))
    assert event.cost == Decimal("0.0225")
    assert event.currency == "USD"
    assert event.details["price_per_message"] == "0.0075"
    older = one(report(status=status("DELIVERED_TO_HANDSET"), price=price, smsCount=2))
    assert older.cost == Decimal("0.0150")


def test_no_price_no_currency() -> None:
    event = one(report(status=status("PENDING_ENROUTE")))
    assert event.cost is None and event.currency is None


def test_callback_data_is_the_client_ref() -> None:
    event = one(report(status=status("DELIVERED_TO_HANDSET"), callbackData="order-42"))
    assert event.client_ref == "order-42"
    only_ref = one({"callbackData": "order-43", "status": status("DELIVERED_TO_HANDSET")})
    assert only_ref.provider_message_id is None and only_ref.client_ref == "order-43"


def test_done_at_with_infobip_offset_format() -> None:
    event = one(report(status=status("DELIVERED_TO_HANDSET")))
    assert event.provider_time == datetime(2019, 11, 9, 16, 0, tzinfo=UTC)


def test_sent_at_when_no_done_at() -> None:
    item = report(status=status("PENDING_ENROUTE"), sentAt="2019-11-09T15:59:00.000+0000")
    del item["doneAt"]
    assert one(item).provider_time == datetime(2019, 11, 9, 15, 59, tzinfo=UTC)


def test_channel_from_report_or_option() -> None:
    whatsapp = one(report(status=status("DELIVERED_TO_HANDSET"), channel="WHATSAPP"))
    assert whatsapp.channel is Channel.WHATSAPP
    batch = json.dumps({"results": [report(status=status("DELIVERED_TO_HANDSET"))]})
    (voice,) = parse(batch, {"channel": "voice"})
    assert voice.channel is Channel.VOICE


# a valid report but for its price
BAD_PRICE = '{{"results": [{{"messageId": "M", "status": {{"name": "X"}}, "price": {{"pricePerMessage": {}}}}}]}}'


@pytest.mark.parametrize(
    "body",
    [
        "",
        "[]",
        "{}",
        '{"results": {}}',
        '{"results": [1]}',
        '{"results": [{"status": {"name": "DELIVERED_TO_HANDSET"}}]}',
        '{"results": [{"messageId": "M-1"}]}',
        '{"results": [{"messageId": "M-1", "status": {"name": "X"}, "doneAt": "later"}]}',
        BAD_PRICE.format('"x"'),
        BAD_PRICE.format("NaN"),
        BAD_PRICE.format("Infinity"),
    ],
)
def test_unusable_requests_are_parse_errors(body: str) -> None:
    with pytest.raises(ParseError):
        parse(body)


def test_one_bad_report_quarantines_the_batch() -> None:
    batch = {"results": [report(status=status("DELIVERED_TO_HANDSET")), {"messageId": "M-2"}]}
    with pytest.raises(ParseError):
        parse(json.dumps(batch))


def test_canonical_id_keeps_case() -> None:
    assert ADAPTER.canonical_id(" MESSAGE-ID-123-xyz ", {}) == "MESSAGE-ID-123-xyz"


def test_contract_attributes() -> None:
    assert ADAPTER.name == "infobip"
    assert ADAPTER.signature_scheme is None


# --- every documented code ------------------------------------------------------------

TABLES = codes.load("infobip")


def rows(table: str) -> list[CodeInfo]:
    return list(TABLES.tables[table].values())


@pytest.mark.parametrize("row", rows("status"), ids=lambda row: row.code)
def test_every_status_name(row: CodeInfo) -> None:
    event = one(report(status=status(row.code, "SOME_GROUP")))
    assert event.status is row.status
    assert event.description == row.description


@pytest.mark.parametrize("row", rows("status_group"), ids=lambda row: row.code)
def test_every_status_group(row: CodeInfo) -> None:
    assert one(report(status={"groupName": row.code})).status is row.status


@pytest.mark.parametrize("row", rows("error"), ids=lambda row: row.code)
def test_every_error_id(row: CodeInfo) -> None:
    error = {"id": int(row.code), "name": "EC_X", "groupName": "HANDSET_ERRORS"}
    event = one(report(status=status("UNDELIVERABLE_NOT_DELIVERED"), error=error))
    assert event.error_code == row.code
    assert event.error_class is row.error_class
    assert event.retryable is row.retryable
    assert event.description == row.description
    assert event.status is Status.FAILED  # the status name decides, never the error


@pytest.mark.parametrize("row", rows("error_group"), ids=lambda row: row.code)
def test_every_error_group(row: CodeInfo) -> None:
    error = {"id": 99999, "groupName": row.code, "permanent": True}
    event = one(report(status=status("UNDELIVERABLE_NOT_DELIVERED"), error=error))
    assert event.error_class is row.error_class
    assert event.retryable is False


# --- submit responses -----------------------------------------------------------------


submission = support.Submissions("infobip", Channel.SMS, "order-1", "41793026727")


SEND_RESPONSE = {
    "bulkId": "2034072219640523072",
    "messages": [
        {
            "messageId": "2250be2d4219-3af1-78856-aabe-1362af1edfd2",
            "status": {
                "groupId": 1,
                "groupName": "PENDING",
                "id": 26,
                "name": "PENDING_ACCEPTED",
                "description": "Message sent to next instance",
            },
            "to": "41793026727",
        },
        {
            "messageId": "other-recipient",
            "status": {"groupId": 1, "groupName": "PENDING", "id": 26, "name": "PENDING_ACCEPTED"},
            "to": "41793026834",
        },
    ],
}


def test_submit_picks_the_registered_destination() -> None:
    outcome = ADAPTER.parse_submit(submission(SEND_RESPONSE), {})
    assert outcome.provider_message_ids == ("2250be2d4219-3af1-78856-aabe-1362af1edfd2",)
    (event,) = outcome.events
    assert event.status is Status.ACCEPTED
    assert event.client_ref == "order-1"


def test_submit_without_matching_destination_keeps_every_message() -> None:
    outcome = ADAPTER.parse_submit(submission(json.dumps(SEND_RESPONSE), destination=None), {})
    assert len(outcome.provider_message_ids) == 2


@pytest.mark.parametrize("response", [None, "x", {"requestError": {}}, {"messages": [1]}])
def test_submit_without_infobip_shape_falls_back(response: Any) -> None:
    outcome = ADAPTER.parse_submit(submission(response), {})
    assert all(e.status is Status.ACCEPTED for e in outcome.events)


# --- fuzzing: nothing but ParseError --------------------------------------------------

REPORT_KEYS = [
    "messageId",
    "to",
    "sentAt",
    "doneAt",
    "status",
    "error",
    "price",
    "messageCount",
    "smsCount",
    "callbackData",
    "channel",
]
JSON_VALUES = support.json_values(
    "name", "groupName", "id", "permanent", "pricePerMessage", "currency"
)


def survives(req: RawRequest) -> None:
    support.only_parse_error(ADAPTER, req)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_bytes(body: bytes) -> None:
    survives(request(body))


@settings(max_examples=150, deadline=None)
@given(JSON_VALUES)
def test_fuzz_json(doc: Any) -> None:
    survives(request(json.dumps(doc)))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(REPORT_KEYS), JSON_VALUES) | JSON_VALUES))
def test_fuzz_reports(results: list[Any]) -> None:
    survives(request(json.dumps({"results": results})))


@settings(max_examples=100, deadline=None)
@given(JSON_VALUES | st.fixed_dictionaries({"messages": st.lists(JSON_VALUES, max_size=3)}))
def test_fuzz_submit_never_raises(response: Any) -> None:
    ADAPTER.parse_submit(submission(response), {})


def test_price_without_currency_is_no_cost() -> None:
    event = one(report(status=status("DELIVERED_TO_HANDSET"), price={"pricePerMessage": 0.01}))
    assert event.cost is None and event.currency is None
    assert event.details["price_per_message"] == "0.01"
    batch = json.dumps({"results": [report(price={"pricePerMessage": 0.01}, status={"name": "X"})]})
    (with_option,) = parse(batch, {"currency": "EUR"})
    assert with_option.cost == Decimal("0.01") and with_option.currency == "EUR"
