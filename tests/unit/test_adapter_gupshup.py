"""Gupshup adapter: WhatsApp v2/v3 events, Enterprise SMS DLRs, codes, submit and fuzzing."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from receiver.adapters import codes
from receiver.adapters.base import ParseError
from receiver.adapters.gupshup import ADAPTER
from receiver.model import Channel, CodeInfo, ErrorClass, Event, RawRequest, Status
from tests.unit import adapter_support as support
from tests.unit.adapter_support import FORM, JSON

# corpus example 0: enqueued - VERBATIM
ENQUEUED = (
    "{\n"
    '  "app": "DemoAPI",\n'
    '  "timestamp": 1580546677791,\n'
    '  "version": 2,\n'
    '  "type": "message-event",\n'
    '  "payload": {\n'
    '    "id": "59f8db90-c37e-4408-90ab-cc54ef8246ad",\n'
    '    "type": "enqueued",\n'
    '    "destination": "91XX985XX10X",\n'
    '    "payload": {\n'
    '      "whatsappMessageId": "gBEGkYaYVSEEAgkD7bRi9syGnBk",\n'
    '      "type": "session"\n'
    "    }\n"
    "  }\n"
    "}"
)

# corpus example 1: sync failed, code 1008 (Gupshup-side) - VERBATIM
SYNC_FAILED_1008 = (
    "{\n"
    '    "app": "DemoAPI",\n'
    '    "timestamp": 1580311136040,\n'
    '    "version": 2,\n'
    '    "type": "message-event",\n'
    '    "payload": {\n'
    '        "id": "ee4a68a0-1203-4c85-8dc3-49d0b3226a35",\n'
    '        "type": "failed",\n'
    '        "destination": "918x98xx21x4",\n'
    '        "payload": {\n'
    '            "code": 1008,\n'
    '            "reason": "User is not Opted in and Inactive"\n'
    "        }\n"
    "    }\n"
    "}"
)

# corpus example 2: async failed, code 470 (WhatsApp on-prem 24h window) with gsId - VERBATIM
ASYNC_FAILED_470 = (
    "{\n"
    '    "app": "DemoAPI",\n'
    '    "timestamp": 1663138637856,\n'
    '    "version": 2,\n'
    '    "type": "message-event",\n'
    '    "payload": {\n'
    '        "id": "9163a016-710e-41ee-978b-79a1adbd734e",\n'
    '        "gsId": "72f61f22-5aa4-4615-a970-943edf6da01c",\n'
    '        "type": "failed",\n'
    '        "destination": "918x98xx21x4",\n'
    '        "payload": {\n'
    '            "code": 470,\n'
    '            "reason": "Message failed to send because more than 24 hours have passed since the customer last replied to this number"\n'
    "        }\n"
    "    }\n"
    "}"
)

# corpus example 3: delivered - VERBATIM (tabs preserved)
DELIVERED = (
    "{\n"
    '\t"app": "2GvVby7hAeoXOig4Zt24htQn",\n'
    '\t"phone": "917065917373",\n'
    '\t"timestamp": 1747136693404,\n'
    '\t"version": 2,\n'
    '\t"type": "message-event",\n'
    '\t"payload": \n'
    "  {\n"
    '\t\t"id": "326822fd-55e9-4112-b810-e86909cd71f6",\n'
    '\t\t"gsId": "1a6207e5-af37-4fc8-948a-25867d3ab077",\n'
    '\t\t"type": "delivered",\n'
    '\t\t"destination": "917980890978",\n'
    '\t\t"payload": \n'
    "\t\t{\n"
    '\t\t\t"ts": 1747136691\n'
    "\t\t}\n"
    "\t}\n"
    "}"
)

# corpus example 4: read - VERBATIM
READ = (
    "{\n"
    '  "app": "DemoAPI",\n'
    '  "timestamp": 1585344602933,\n'
    '  "version": 2,\n'
    '  "type": "message-event",\n'
    '  "payload": {\n'
    '    "id": "gBEGkYaYVSEEAgnZxQ3JmKK6Wvg",\n'
    '    "gsId": "ee4a68a0-1203-4c85-8dc3-49d0b3226a35",\n'
    '    "type": "read",\n'
    '    "destination": "918x98xx21x4",\n'
    '    "payload": {\n'
    '      "ts": 1585344602\n'
    "    }\n"
    "  }\n"
    "}"
)

# corpus example 5: Enterprise SMS real-time DLR, GET URL template - VERBATIM from docs.gupshup.io/d
SMS_GET_TEMPLATE = (
    "http://example.com/RealTimeDLR/readurl?externalId=%0&deliveredTS=%1&status=%2&cause=%3&phoneNo=%4\n"
    "&errCode=%6& noOfFrags=%7&mask=%8"
)


EXAMPLES = (ENQUEUED, SYNC_FAILED_1008, ASYNC_FAILED_470, DELIVERED, READ, SMS_GET_TEMPLATE)
SMS_ID = "3562707498794989059-328736121207676738"


CALLBACKS = support.Callbacks(ADAPTER, "gupshup")
request, parse, one = CALLBACKS.request, CALLBACKS.parse, CALLBACKS.one


def from_url(url: str) -> Event:
    """A GET as Gupshup makes it from the configured URL template."""
    query = url.partition("?")[2]
    return one(query=tuple(parse_qsl(query, keep_blank_values=True)), method="GET")


def fill(template: str, values: dict[str, str]) -> str:
    return re.sub(r"%(\d)", lambda m: values[m.group(1)], template)


def v2_event(kind: str, inner: dict[str, Any], **ids: str) -> str:
    payload = {**ids, "type": kind, "destination": "918x98xx21x4", "payload": inner}
    doc = {"app": "DemoAPI", "timestamp": 1580546677791, "version": 2, "type": "message-event"}
    return json.dumps({**doc, "payload": payload})


def test_every_corpus_example_is_tested_here() -> None:
    assert support.corpus_bodies("gupshup.json") == set(EXAMPLES)


# --- corpus examples: WhatsApp v2 ------------------------------------------------------


def test_enqueued() -> None:
    event = one(ENQUEUED)
    assert event.raw_status == "enqueued"
    assert event.status is Status.SENT
    assert event.provider_message_id == "59f8db90-c37e-4408-90ab-cc54ef8246ad"
    assert event.details["whatsapp_message_id"] == "gBEGkYaYVSEEAgkD7bRi9syGnBk"
    assert event.details["message_type"] == "session"
    assert event.details["app"] == "DemoAPI"
    assert event.provider_time == datetime(2020, 2, 1, 8, 44, 37, tzinfo=UTC)
    assert event.recipient == "91XX985XX10X"
    assert event.channel is Channel.WHATSAPP


def test_sync_failed_1008() -> None:
    event = one(SYNC_FAILED_1008)
    assert event.raw_status == "failed"
    assert event.status is Status.REJECTED  # refused on Gupshup's side, never reached WhatsApp
    assert event.provider_message_id == "ee4a68a0-1203-4c85-8dc3-49d0b3226a35"
    assert event.error_code == "1008"
    assert event.error_class is ErrorClass.RECIPIENT
    assert event.retryable is False
    assert event.details["reason"] == "User is not Opted in and Inactive"
    assert "whatsapp_message_id" not in event.details


def test_async_failed_470_is_keyed_on_gs_id() -> None:
    event = one(ASYNC_FAILED_470)
    assert event.status is Status.REJECTED
    assert event.provider_message_id == "72f61f22-5aa4-4615-a970-943edf6da01c"
    assert event.details["whatsapp_message_id"] == "9163a016-710e-41ee-978b-79a1adbd734e"
    assert event.error_code == "470"  # a WhatsApp code: found in Meta's table
    assert event.error_class is ErrorClass.CONTENT
    assert event.description is not None and "24 hours" in event.description


def test_delivered() -> None:
    event = one(DELIVERED)
    assert event.status is Status.DELIVERED
    assert event.provider_message_id == "1a6207e5-af37-4fc8-948a-25867d3ab077"
    assert event.details["whatsapp_message_id"] == "326822fd-55e9-4112-b810-e86909cd71f6"
    assert event.provider_time == datetime(2025, 5, 13, 11, 44, 51, tzinfo=UTC)  # payload.ts
    assert event.recipient == "917980890978"


def test_read() -> None:
    event = one(READ)
    assert event.status is Status.READ
    # the same Gupshup id as the sync-failed example: gsId keys the event
    assert event.provider_message_id == "ee4a68a0-1203-4c85-8dc3-49d0b3226a35"
    assert event.details["whatsapp_message_id"] == "gBEGkYaYVSEEAgnZxQ3JmKK6Wvg"
    assert event.provider_time == datetime(2020, 3, 27, 21, 30, 2, tzinfo=UTC)


# --- corpus examples: Enterprise SMS -----------------------------------------------------


def test_sms_get_from_the_published_template() -> None:
    values = {
        "0": SMS_ID,
        "1": "1526347800000",
        "2": "SUCCESS",
        "3": "SUCCESS",
        "4": "919892488888",
        "6": "000",
        "7": "1",
        "8": "TESTIN",
    }
    event = from_url(fill(SMS_GET_TEMPLATE, values))  # line break and "& noOfFrags" included
    assert event.raw_status == "SUCCESS"
    assert event.status is Status.DELIVERED
    assert event.provider_message_id == SMS_ID
    assert event.error_code is None
    assert event.provider_time == datetime(2018, 5, 15, 1, 30, tzinfo=UTC)
    assert event.recipient == "919892488888"
    assert event.channel is Channel.SMS
    assert event.details == {"cause": "SUCCESS", "segments": "1", "sender": "TESTIN"}


def test_sms_get_failure() -> None:
    values = dict.fromkeys("012345678", "")
    values |= {"0": SMS_ID, "1": "1526347800000", "2": "FAILURE", "3": "UNKNOWN_SUBSCRIBER"}
    values |= {"4": "91989237777", "6": "003", "7": "1"}
    event = from_url(fill(SMS_GET_TEMPLATE.replace("\n", ""), values))
    assert event.status is Status.FAILED
    assert event.error_code == "003"
    assert event.error_class is ErrorClass.RECIPIENT
    assert event.retryable is False


def test_sms_template_with_unfilled_placeholders_is_quarantined() -> None:
    with pytest.raises(ParseError):
        from_url(SMS_GET_TEMPLATE)


# --- behaviour -----------------------------------------------------------------------


def test_all_events_of_one_message_share_the_gupshup_id() -> None:
    gupshup_id, whatsapp_id = "59f8db90-c37e-4408-90ab-cc54ef8246ad", "gBEGkYaYVSEEAgkD7bRi9syGnBk"
    bodies = [
        v2_event("enqueued", {"whatsappMessageId": whatsapp_id, "type": "session"}, id=gupshup_id),
        v2_event("sent", {"ts": 1580546678}, id=whatsapp_id, gsId=gupshup_id),
        v2_event("delivered", {"ts": 1580546679}, id=whatsapp_id, gsId=gupshup_id),
        v2_event("read", {"ts": 1580546680}, id=whatsapp_id, gsId=gupshup_id),
    ]
    events = [one(body) for body in bodies]
    assert {e.provider_message_id for e in events} == {gupshup_id}
    assert {e.details["whatsapp_message_id"] for e in events} == {whatsapp_id}
    assert [e.status for e in events] == [Status.SENT, Status.SENT, Status.DELIVERED, Status.READ]


def test_sent_event_keeps_conversation_and_pricing() -> None:
    inner = {
        "ts": 1580546678,
        "conversation": {
            "id": "532b57b5f6e63595ccd74c6010e5c5c7",
            "expiresAt": 1580633078,
            "type": "business_initiated",
        },
        "pricing": {"policy": "CBP", "category": "business_initiated"},
    }
    event = one(v2_event("sent", inner, id="gBEG", gsId="59f8db90-c37e-4408-90ab-cc54ef8246ad"))
    assert event.cost is None  # a category, never an amount
    assert event.details["pricing_policy"] == "CBP"
    assert event.details["pricing_category"] == "business_initiated"
    assert event.details["conversation_id"] == "532b57b5f6e63595ccd74c6010e5c5c7"


def test_report_after_a_week_has_only_the_whatsapp_id() -> None:
    event = one(v2_event("delivered", {"ts": 1585344602}, id="gBEGkYaYVSEEAgnZxQ3JmKK6Wvg"))
    assert event.provider_message_id == "gBEGkYaYVSEEAgnZxQ3JmKK6Wvg"
    assert event.details["gupshup_id_missing"] is True


def test_failed_with_a_meta_cloud_code() -> None:
    inner = {"code": 131026, "reason": "Message undeliverable"}
    event = one(
        v2_event(
            "failed",
            inner,
            id="9163a016-710e-41ee-978b-79a1adbd734e",
            gsId="72f61f22-5aa4-4615-a970-943edf6da01c",
        )
    )
    assert event.status is Status.FAILED
    assert event.error_class is ErrorClass.RECIPIENT


@pytest.mark.parametrize(
    "kind", ["message", "user-event", "billing-event", "system-event", "platform-event"]
)
def test_other_v2_callbacks_give_no_events(kind: str) -> None:
    assert parse(json.dumps({"app": "DemoAPI", "type": kind, "payload": {}})) == []


WAMID_V3 = "wamid.HBgMOTE5MTYzODA1ODczFQIAERgSNkZCMThGMEEwQzJDOUFGQjFBAA=="


def test_v3_meta_envelope_keyed_on_gs_id() -> None:
    body = {
        "entry": [
            {
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "statuses": [
                                {
                                    "gs_id": "2baff204-c39a-4121-90b5-f53f26d522b3",
                                    "id": WAMID_V3,
                                    "recipient_id": "9191****873",
                                    "status": "enqueued",
                                    "timestamp": 1710941393420,
                                },
                                {
                                    "gs_id": "2BAFF204-C39A-4121-90B5-F53F26D522B3",
                                    "id": WAMID_V3,
                                    "recipient_id": "9191****873",
                                    "status": "failed",
                                    "timestamp": "1710941394",
                                    "errors": [{"code": 1002, "title": "Number Not Exist"}],
                                },
                            ],
                        },
                    }
                ]
            }
        ],
        "gs_app_id": "82ed52f4-30c0-4f12-81b4-e7ad07bd41de",
        "object": "whatsapp_business_account",
    }
    enqueued, failed = parse(json.dumps(body))
    assert enqueued.provider_message_id == failed.provider_message_id
    assert enqueued.provider_message_id == "2baff204-c39a-4121-90b5-f53f26d522b3"
    assert enqueued.status is Status.SENT
    assert enqueued.provider_time == datetime(2024, 3, 20, 13, 29, 53, tzinfo=UTC)
    assert enqueued.details["whatsapp_message_id"] == WAMID_V3
    assert enqueued.details["gs_app_id"] == "82ed52f4-30c0-4f12-81b4-e7ad07bd41de"
    assert failed.status is Status.REJECTED
    assert failed.error_code == "1002"
    assert failed.error_class is ErrorClass.RECIPIENT


def test_v3_platform_connectivity_check_gives_no_events() -> None:
    body = {
        "gs_app_id": "0a6f5e4d-1234-4c8b-9f21-7d3e5a9b1c40",
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "1",
                "time": 1760440000000,
                "changes": [{"field": "platform-event", "value": {"type": "connectivity-check"}}],
            }
        ],
    }
    assert parse(json.dumps(body)) == []


def test_sms_post_batch() -> None:
    batch = [
        {
            "externalId": SMS_ID,
            "eventType": "DELIVERED",
            "eventTs": 1526347800000,
            "destAddr": "919892488888",
            "srcAddr": "TESTIN",
            "cause": "SUCCESS",
            "errCode": "000",
            "channel": "SMS",
            "noOfFrags": 1,
        },
        {
            "externalId": "3798318073013708082-252169030017029882",
            "eventType": "FAILED",
            "eventTs": 1526347800000,
            "destAddr": "91989237777",
            "srcAddr": "ABCDEF",
            "cause": " UNKNOWN_SUBSCRIBER",
            "errCode": 3,
            "channel": "SMS",
            "noOfFrags": 1,
        },
    ]
    delivered, failed = parse(json.dumps(batch))
    assert delivered.status is Status.DELIVERED and delivered.error_code is None
    assert delivered.details["segments"] == "1" and delivered.details["sender"] == "TESTIN"
    assert failed.status is Status.FAILED
    assert failed.error_code == "003"  # a bare 3 is the documented 003
    assert failed.error_class is ErrorClass.RECIPIENT
    assert failed.recipient == "91989237777"
    # the docs print the batch as `[response=[...]]`: an object holding it works too
    assert parse(json.dumps({"response": batch})) == [delivered, failed]


def test_sms_cause_without_err_code() -> None:
    query = urlencode({"externalId": SMS_ID, "status": "FAILURE", "cause": "DND_FAIL"})
    event = from_url("?" + query)
    assert event.status is Status.REJECTED
    assert event.error_code == "DND_FAIL"
    assert event.error_class is ErrorClass.RECIPIENT


def test_sms_form_post() -> None:
    body = urlencode({"externalId": SMS_ID, "status": "UNKNOWN", "deliveredTS": "1526347800000"})
    event = one(body, content_type=FORM)
    assert event.status is Status.UNKNOWN


@pytest.mark.parametrize(
    "body",
    [
        "",
        "{}",
        '"x"',
        '{"type": "message-event"}',
        '{"type": "message-event", "payload": {"type": "sent"}}',
        '{"type": "message-event", "payload": {"id": "x"}}',
        '{"type": "message-event", "payload": {"id": "x", "type": "sent", "payload": {"ts": "x"}}}',
        '{"type": "something-new"}',
        '[{"eventType": "DELIVERED"}]',
        "[1]",
        '{"entry": [{"changes": [{"value": {"statuses": [{"status": "sent"}]}}]}]}',
    ],
)
def test_unusable_requests_are_parse_errors(body: str) -> None:
    with pytest.raises(ParseError):
        parse(body)


def test_canonical_id() -> None:
    assert ADAPTER.canonical_id(" EE4A68A0-1203-4C85-8DC3-49D0B3226A35 ", {}) == (
        "ee4a68a0-1203-4c85-8dc3-49d0b3226a35"
    )
    assert ADAPTER.canonical_id("gBEGkYaYVSEEAgnZxQ3JmKK6Wvg", {}) == "gBEGkYaYVSEEAgnZxQ3JmKK6Wvg"
    assert ADAPTER.canonical_id(SMS_ID, {}) == SMS_ID


def test_contract_attributes() -> None:
    assert ADAPTER.name == "gupshup"
    assert ADAPTER.signature_scheme is None
    assert ADAPTER.handshake(request(ENQUEUED), {}) is None


# --- every documented code ------------------------------------------------------------

TABLES = codes.load("gupshup")


def rows(table: str) -> list[CodeInfo]:
    return support.rows("gupshup", table)


@pytest.mark.parametrize("row", rows("status"), ids=lambda row: row.code)
def test_every_whatsapp_status(row: CodeInfo) -> None:
    event = one(v2_event(row.code, {"ts": 1585344602}, id="gBEG", gsId="g-1"))
    assert event.status is row.status
    assert event.description == row.description


@pytest.mark.parametrize("row", rows("error"), ids=lambda row: row.code)
def test_every_whatsapp_error(row: CodeInfo) -> None:
    event = one(v2_event("failed", {"code": int(row.code), "reason": "x"}, id="g-1"))
    assert event.error_code == row.code
    assert event.error_class is row.error_class
    assert event.retryable is row.retryable
    assert event.description == row.description
    assert event.status is (row.status if row.status.failure else Status.FAILED)


def test_error_table_is_the_documented_one() -> None:
    documented = {"500", *(str(n) for n in range(1001, 1013)), *(str(n) for n in range(4001, 4006))}
    assert set(TABLES.tables["error"]) == documented


@pytest.mark.parametrize("row", rows("sms_status"), ids=lambda row: row.code)
def test_every_sms_status(row: CodeInfo) -> None:
    event = from_url("?" + urlencode({"externalId": SMS_ID, "status": row.code}))
    assert event.status is row.status


@pytest.mark.parametrize("row", rows("sms_error"), ids=lambda row: row.code)
def test_every_sms_err_code(row: CodeInfo) -> None:
    query = {"externalId": SMS_ID, "status": "FAILURE", "errCode": row.code}
    event = from_url("?" + urlencode(query))
    assert event.error_code == row.code
    assert event.error_class is row.error_class
    assert event.status is row.status


@pytest.mark.parametrize("row", rows("sms_cause"), ids=lambda row: row.code)
def test_every_sms_cause(row: CodeInfo) -> None:
    event = from_url(
        "?" + urlencode({"externalId": SMS_ID, "status": "FAILURE", "cause": row.code})
    )
    assert event.error_class is row.error_class


# --- submit responses -----------------------------------------------------------------


submission = support.Submissions("gupshup", Channel.WHATSAPP, "order-1", "918x98xx21x4")


def test_submit_accepted() -> None:
    response = {"status": "submitted", "messageId": "EE4A68A0-1203-4C85-8DC3-49D0B3226A35"}
    outcome = ADAPTER.parse_submit(submission(response), {})
    assert outcome.provider_message_ids == ("ee4a68a0-1203-4c85-8dc3-49d0b3226a35",)
    assert outcome.events[0].status is Status.ACCEPTED


def test_submit_error() -> None:
    response = {"status": "error", "message": "Invalid Destination"}
    (event,) = ADAPTER.parse_submit(submission(json.dumps(response), 400), {}).events
    assert event.status is Status.REJECTED
    assert event.details["message"] == "Invalid Destination"


# --- fuzzing: nothing but ParseError --------------------------------------------------

SMS_KEYS = ["externalId", "deliveredTS", "status", "cause", "phoneNo", "errCode", " noOfFrags"]
WA_KEYS = ["id", "gsId", "type", "destination", "payload"]
INNER_KEYS = ["ts", "code", "reason", "whatsappMessageId", "conversation", "pricing", "type"]
JSON_VALUES = support.json_values()
TEXTS = st.text(max_size=24) | st.sampled_from(["SUCCESS", "FAILURE", "003", "1526347800000"])


def survives(req: RawRequest) -> None:
    for event in support.only_parse_error(ADAPTER, req):
        assert event.cost is None  # a pricing category, never an amount


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([JSON, FORM, ""]))
def test_fuzz_bytes(body: bytes, content_type: str) -> None:
    survives(request(body, content_type=content_type))


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(support.names(SMS_KEYS), TEXTS), max_size=9))
def test_fuzz_query_strings(pairs: list[tuple[str, str]]) -> None:
    survives(request(query=tuple(pairs), method="GET", content_type=""))


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(support.names(SMS_KEYS), TEXTS))
def test_fuzz_forms(fields: dict[str, str]) -> None:
    survives(CALLBACKS.form(fields))


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(["message-event", "message", None]),
    st.dictionaries(st.sampled_from(WA_KEYS), JSON_VALUES),
    st.dictionaries(st.sampled_from(INNER_KEYS), JSON_VALUES),
    JSON_VALUES,
)
def test_fuzz_whatsapp_events(kind: Any, payload: dict[str, Any], inner: Any, ts: Any) -> None:
    doc = {"type": kind, "timestamp": ts, "payload": {**payload, "payload": inner}}
    survives(request(json.dumps(doc)))


@settings(max_examples=150, deadline=None)
@given(JSON_VALUES | st.lists(st.dictionaries(st.sampled_from(SMS_KEYS), JSON_VALUES)))
def test_fuzz_json(doc: Any) -> None:
    survives(request(json.dumps(doc)))


@settings(max_examples=100, deadline=None)
@given(JSON_VALUES | st.dictionaries(st.sampled_from(["status", "messageId"]), JSON_VALUES))
def test_fuzz_submit_never_raises(response: Any) -> None:
    ADAPTER.parse_submit(submission(response), {})
