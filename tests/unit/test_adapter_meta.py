"""Meta WhatsApp Cloud API adapter: corpus examples, codes, handshake, submit and fuzzing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from receiver.adapters import codes
from receiver.adapters.base import Ack, ParseError
from receiver.adapters.meta import ADAPTER
from receiver.model import Channel, CodeInfo, ErrorClass, RawRequest, Status
from tests.unit import adapter_support as support

WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA="

# corpus example 0: Meta doc: marketing message successfully sent (PMP pricing, conversation object)
SENT_PMP = (
    "{\n"
    '  "object": "whatsapp_business_account",\n'
    '  "entry": [\n'
    "    {\n"
    '      "id": "102290129340398",\n'
    '      "changes": [\n'
    "        {\n"
    '          "value": {\n'
    '            "messaging_product": "whatsapp",\n'
    '            "metadata": {\n'
    '              "display_phone_number": "15550783881",\n'
    '              "phone_number_id": "106540352242922"\n'
    "            },\n"
    '            "statuses": [\n'
    "              {\n"
    '                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",\n'
    '                "status": "sent",\n'
    '                "timestamp": "1750030073",\n'
    '                "recipient_id": "16505551234",\n'
    '                "conversation": {\n'
    '                  "id": "72b14d6bd5407799e66f64d1b338e567",\n'
    '                  "expiration_timestamp": "1750116480",\n'
    '                  "origin": {\n'
    '                    "type": "marketing"\n'
    "                  }\n"
    "                },\n"
    '                "pricing": {\n'
    '                  "billable": true,\n'
    '                  "pricing_model": "PMP",\n'
    '                  "type": "regular",\n'
    '                  "category": "marketing"\n'
    "                }\n"
    "              }\n"
    "            ]\n"
    "          },\n"
    '          "field": "messages"\n'
    "        }\n"
    "      ]\n"
    "    }\n"
    "  ]\n"
    "}"
)

# corpus example 1: Meta doc: example described as a v24.0 'read' webhook with conversation and pric
SENT_MINIMAL = (
    "{\n"
    '  "object": "whatsapp_business_account",\n'
    '  "entry": [\n'
    "    {\n"
    '      "id": "102290129340398",\n'
    '      "changes": [\n'
    "        {\n"
    '          "value": {\n'
    '            "messaging_product": "whatsapp",\n'
    '            "metadata": {\n'
    '              "display_phone_number": "15550783881",\n'
    '              "phone_number_id": "106540352242922"\n'
    "            },\n"
    '            "statuses": [\n'
    "              {\n"
    '                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQUFERjg0NDEzNDdFODU3MUMxMAA=",\n'
    '                "status": "sent",\n'
    '                "timestamp": "1750030073",\n'
    '                "recipient_id": "16505551234"\n'
    "              }\n"
    "            ]\n"
    "          },\n"
    '          "field": "messages"\n'
    "        }\n"
    "      ]\n"
    "    }\n"
    "  ]\n"
    "}"
)

# corpus example 2: Meta doc: message failed to be sent, error 131049 - VERBATIM
FAILED_131049 = (
    "{\n"
    '  "object": "whatsapp_business_account",\n'
    '  "entry": [\n'
    "    {\n"
    '      "id": "102290129340398",\n'
    '      "changes": [\n'
    "        {\n"
    '          "value": {\n'
    '            "messaging_product": "whatsapp",\n'
    '            "metadata": {\n'
    '              "display_phone_number": "15550783881",\n'
    '              "phone_number_id": "106540352242922"\n'
    "            },\n"
    '            "statuses": [\n'
    "              {\n"
    '                "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA",\n'
    '                "status": "failed",\n'
    '                "timestamp": "1751142888",\n'
    '                "recipient_id": "16505551234",\n'
    '                "errors": [\n'
    "                  {\n"
    '                    "code": 131049,\n'
    '                    "title": "This message was not delivered to maintain healthy ecosystem engagement.",\n'
    '                    "message": "This message was not delivered to maintain healthy ecosystem engagement.",\n'
    '                    "error_data": {\n'
    '                      "details": "In order to maintain a healthy ecosystem engagement, the message failed to be delivered."\n'
    "                    },\n"
    '                    "href": "/documentation/business-messaging/whatsapp/support/error-codes"\n'
    "                  }\n"
    "                ]\n"
    "              }\n"
    "            ]\n"
    "          },\n"
    '          "field": "messages"\n'
    "        }\n"
    "      ]\n"
    "    }\n"
    "  ]\n"
    "}"
)

# corpus example 3: pywa SDK test fixture tests/data/updates/message_status.json key 'sent' (older C
PYWA_SENT = (
    "{\n"
    '  "object": "whatsapp_business_account",\n'
    '  "entry": [\n'
    "    {\n"
    '      "id": "5467539754836534",\n'
    '      "changes": [\n'
    "        {\n"
    '          "value": {\n'
    '            "messaging_product": "whatsapp",\n'
    '            "metadata": {\n'
    '              "display_phone_number": "972123456789",\n'
    '              "phone_number_id": "1122334455667"\n'
    "            },\n"
    '            "contacts": [\n'
    "              {\n"
    '                "profile": {\n'
    '                  "name": "Test Name"\n'
    "                },\n"
    '                "wa_id": "972987654321",\n'
    '                "user_id": "US.13491208655302741918",\n'
    '                "parent_user_id": "US.ENT.11815799212886844830"\n'
    "              }\n"
    "            ],\n"
    '            "statuses": [\n'
    "              {\n"
    '                "id": "wamid.xyzxyz",\n'
    '                "status": "sent",\n'
    '                "timestamp": "1698266945",\n'
    '                "recipient_id": "972987654321",\n'
    '                "conversation": {\n'
    '                  "id": "7270432eae37498234f4444b35ffc5",\n'
    '                  "expiration_timestamp": "1698339900",\n'
    '                  "origin": {\n'
    '                    "type": "service"\n'
    "                  }\n"
    "                },\n"
    '                "pricing": {\n'
    '                  "billable": true,\n'
    '                  "pricing_model": "CBP",\n'
    '                  "category": "service"\n'
    "                }\n"
    "              }\n"
    "            ]\n"
    "          },\n"
    '          "field": "messages"\n'
    "        }\n"
    "      ]\n"
    "    }\n"
    "  ]\n"
    "}"
)

# corpus example 4: pywa SDK test fixture tests/data/updates/message_status.json key 'delivered' (ol
PYWA_DELIVERED = (
    "{\n"
    '  "object": "whatsapp_business_account",\n'
    '  "entry": [\n'
    "    {\n"
    '      "id": "5467539754836534",\n'
    '      "changes": [\n'
    "        {\n"
    '          "value": {\n'
    '            "messaging_product": "whatsapp",\n'
    '            "metadata": {\n'
    '              "display_phone_number": "972123456789",\n'
    '              "phone_number_id": "1122334455667"\n'
    "            },\n"
    '            "contacts": [\n'
    "              {\n"
    '                "profile": {\n'
    '                  "name": "Test Name"\n'
    "                },\n"
    '                "wa_id": "972987654321",\n'
    '                "user_id": "US.13491208655302741918",\n'
    '                "parent_user_id": "US.ENT.11815799212886844830"\n'
    "              }\n"
    "            ],\n"
    '            "statuses": [\n'
    "              {\n"
    '                "id": "wamid.xyzxyz",\n'
    '                "status": "delivered",\n'
    '                "timestamp": "1698266945",\n'
    '                "recipient_id": "972987654321",\n'
    '                "conversation": {\n'
    '                  "id": "7270432eae37498234f4444b35ffc5",\n'
    '                  "origin": {\n'
    '                    "type": "service"\n'
    "                  }\n"
    "                },\n"
    '                "pricing": {\n'
    '                  "billable": true,\n'
    '                  "pricing_model": "CBP",\n'
    '                  "category": "service"\n'
    "                }\n"
    "              }\n"
    "            ]\n"
    "          },\n"
    '          "field": "messages"\n'
    "        }\n"
    "      ]\n"
    "    }\n"
    "  ]\n"
    "}"
)

# corpus signature test vector body: an inbound message webhook (no statuses)
INBOUND_MESSAGE = (
    '{"object":"whatsapp_business_account","entry":[{"id":"264937493375603","changes"'
    ':[{"value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"1'
    '5550953877","phone_number_id":"277321005464405"},"contacts":[{"profile":{"name":'
    '"PyWa Tests"},"wa_id":"972544401243"}],"messages":[{"from":"972544401243","id":"'
    'wamid.HBgMOTcyNTQ0NDAxMjQzFQIAEhggM0RFQTNCMEEwRTY3QzUwODYzMDc4NjQ4QzM4ODAxM0YA",'
    '"timestamp":"1730231903","text":{"body":"Hey there! I am using PyWa."},"type":"t'
    'ext"}]},"field":"messages"}]}]}'
)

EXAMPLES = (SENT_PMP, SENT_MINIMAL, FAILED_131049, PYWA_SENT, PYWA_DELIVERED)


CALLBACKS = support.Callbacks(ADAPTER, "meta")
request, parse, one = CALLBACKS.request, CALLBACKS.parse, CALLBACKS.one


def envelope(*statuses: dict[str, Any], **value: Any) -> str:
    change = {"value": {"messaging_product": "whatsapp", **value, "statuses": list(statuses)}}
    entry = {"id": "102290129340398", "changes": [{**change, "field": "messages"}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]})


def status(**fields: Any) -> dict[str, Any]:
    return {"id": WAMID, "timestamp": "1750030073", "recipient_id": "16505551234", **fields}


def test_every_corpus_example_is_tested_here() -> None:
    assert support.corpus_bodies("meta_whatsapp.json") == set(EXAMPLES)
    corpus = support.corpus("meta_whatsapp.json")
    assert corpus["signature"]["test_vector"]["raw_body"] == INBOUND_MESSAGE


# --- corpus examples -------------------------------------------------------------------


def test_sent_with_pmp_pricing_and_conversation() -> None:
    event = one(SENT_PMP)
    assert event.raw_status == "sent"
    assert event.status is Status.SENT
    assert event.provider_message_id == event.raw_message_id == WAMID
    assert event.provider_time == datetime(2025, 6, 15, 23, 27, 53, tzinfo=UTC)
    assert event.recipient == "16505551234"
    assert event.channel is Channel.WHATSAPP
    assert event.cost is None and event.currency is None  # Meta gives a category, not an amount
    assert event.error_code is None
    assert event.details == {
        "pricing_billable": True,
        "pricing_category": "marketing",
        "pricing_model": "PMP",
        "pricing_type": "regular",
        "conversation_id": "72b14d6bd5407799e66f64d1b338e567",
        "conversation_origin": "marketing",
        "conversation_expiration": "1750116480",
        "phone_number_id": "106540352242922",
        "display_phone_number": "15550783881",
    }


def test_minimal_status_without_pricing() -> None:
    # described by Meta as a `read` example, but its JSON says `sent`: we read what is sent
    event = one(SENT_MINIMAL)
    assert event.status is Status.SENT
    assert event.provider_message_id == WAMID
    assert "pricing_category" not in event.details


def test_failed_131049() -> None:
    event = one(FAILED_131049)
    assert event.raw_status == "failed"
    assert event.status is Status.FAILED
    assert event.provider_message_id == "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI0QUQ2MjA4NEYyRkExNjMyREUA"
    assert event.error_code == "131049"
    assert event.error_class is ErrorClass.RATE_LIMIT
    assert event.retryable is True
    assert event.provider_time == datetime(2025, 6, 28, 20, 34, 48, tzinfo=UTC)
    (error,) = event.details["errors"]
    assert error["code"] == "131049"
    assert error["details"].startswith("In order to maintain a healthy ecosystem")


@pytest.mark.parametrize(
    ("body", "raw_status", "status"),
    [(PYWA_SENT, "sent", Status.SENT), (PYWA_DELIVERED, "delivered", Status.DELIVERED)],
)
def test_pywa_fixtures_with_cbp_pricing(body: str, raw_status: str, status: Status) -> None:
    event = one(body)
    assert event.raw_status == raw_status
    assert event.status is status
    assert event.provider_message_id == "wamid.xyzxyz"
    assert event.recipient == "972987654321"
    assert event.provider_time == datetime(2023, 10, 25, 20, 49, 5, tzinfo=UTC)
    assert event.details["pricing_model"] == "CBP"
    assert event.details["pricing_category"] == "service"
    assert event.details["conversation_origin"] == "service"


def test_inbound_message_webhook_gives_no_events() -> None:
    assert parse(INBOUND_MESSAGE) == []


# --- behaviour -----------------------------------------------------------------------


def test_many_statuses_in_one_post_give_many_events() -> None:
    body = envelope(
        status(status="sent", biz_opaque_callback_data="order-1"),
        status(id="wamid.B", status="delivered"),
        status(id="wamid.C", status="read"),
        status(id="wamid.D", status="played"),
    )
    events = parse(body)
    assert [(e.provider_message_id, e.status) for e in events] == [
        (WAMID, Status.SENT),
        ("wamid.B", Status.DELIVERED),
        ("wamid.C", Status.READ),
        ("wamid.D", Status.READ),
    ]
    assert events[0].client_ref == "order-1"


def test_statuses_across_entries_and_changes() -> None:
    doc = json.loads(envelope(status(status="sent")))
    doc["entry"].append(json.loads(envelope(status(id="wamid.Z", status="failed")))["entry"][0])
    doc["entry"][0]["changes"].append({"field": "account_update", "value": {"event": "X"}})
    events = parse(json.dumps(doc))
    assert [e.provider_message_id for e in events] == [WAMID, "wamid.Z"]
    assert events[1].error_class is ErrorClass.UNKNOWN  # failed without errors[]


def test_re_engagement_failure_is_a_refusal() -> None:
    error = {"code": 131047, "title": "Re-engagement message", "message": "Re-engagement message"}
    event = one(envelope(status(status="failed", errors=[error])))
    assert event.status is Status.REJECTED
    assert event.error_class is ErrorClass.CONTENT


def test_several_errors_are_all_kept() -> None:
    errors = [{"code": 131026, "title": "Message undeliverable"}, {"code": 131000}]
    event = one(envelope(status(status="failed", errors=errors)))
    assert event.error_code == "131026"
    assert [e["code"] for e in event.details["errors"]] == ["131026", "131000"]


def test_unmapped_error_code_is_kept_raw() -> None:
    event = one(envelope(status(status="failed", errors=[{"code": 999999}])))
    assert event.error_code == "999999"
    assert event.error_class is ErrorClass.UNKNOWN
    assert event.status is Status.FAILED
    assert event.unmapped


def test_group_recipient_type_is_kept() -> None:
    event = one(envelope(status(status="sent", recipient_type="group", recipient_id="G1")))
    assert event.recipient == "G1"
    assert event.details["recipient_type"] == "group"


def test_deleted_says_nothing_about_delivery() -> None:
    assert one(envelope(status(status="deleted"))).status is Status.UNKNOWN


@pytest.mark.parametrize(
    "body",
    [
        "",
        "[]",
        '{"object": "whatsapp_business_account"}',
        '{"entry": {}}',
        '{"entry": [1]}',
        '{"entry": [{"changes": [{"value": {"statuses": {}}}]}]}',
        '{"entry": [{"changes": [{"value": {"statuses": ["x"]}}]}]}',
        envelope({"status": "sent"}),
        envelope({"id": "wamid.A"}),
        envelope(status(status="sent", timestamp="yesterday")),
        envelope(status(status="sent", timestamp="99999999999999999999")),
        envelope(status(status="failed", errors="boom")),
        b"\x00\xff",
        "[" * 100_000,
    ],
)
def test_unusable_requests_are_parse_errors(body: str | bytes) -> None:
    with pytest.raises(ParseError):
        parse(body)


def test_canonical_id_keeps_case() -> None:
    assert ADAPTER.canonical_id(f" {WAMID} ", {}) == WAMID


def test_contract_attributes() -> None:
    assert ADAPTER.name == "meta"
    assert ADAPTER.signature_scheme == "meta"
    assert ADAPTER.acknowledge(request(SENT_PMP), {}) == Ack()


# --- subscription handshake -----------------------------------------------------------


def hub(token: str, mode: str = "subscribe", challenge: str = "1158201444") -> RawRequest:
    query = (("hub.mode", mode), ("hub.verify_token", token), ("hub.challenge", challenge))
    return request(query=query, method="GET")


@pytest.mark.parametrize("configured", ["s3cret-token", SecretStr("s3cret-token")])
def test_handshake_answers_the_challenge(configured: Any) -> None:
    ack = ADAPTER.handshake(hub("s3cret-token"), {"verify_token": configured})
    assert ack == Ack(200, b"1158201444")


@pytest.mark.parametrize("configured", [None, "", "other", SecretStr("other"), 12345])
def test_handshake_refuses_a_wrong_or_missing_token(configured: Any) -> None:
    ack = ADAPTER.handshake(hub("s3cret-token"), {"verify_token": configured})
    assert ack == Ack(403, b"verify token mismatch")


def test_handshake_with_non_ascii_token() -> None:
    ack = ADAPTER.handshake(hub("t\udc80ken"), {"verify_token": "token"})
    assert ack is not None and ack.status == 403


@pytest.mark.parametrize(
    "req",
    [
        hub("s3cret-token", mode="unsubscribe"),
        request(query=(("foo", "bar"),), method="GET"),
        request(SENT_PMP),
    ],
)
def test_not_a_handshake(req: RawRequest) -> None:
    assert ADAPTER.handshake(req, {"verify_token": "s3cret-token"}) is None


# --- every documented code ------------------------------------------------------------

TABLES = codes.load("meta")


@pytest.mark.parametrize("row", support.rows("meta", "status"), ids=lambda row: row.code)
def test_every_status(row: CodeInfo) -> None:
    event = one(envelope(status(status=row.code)))
    assert event.status is row.status
    assert event.description == row.description


@pytest.mark.parametrize("row", support.rows("meta", "error"), ids=lambda row: row.code)
def test_every_error_code(row: CodeInfo) -> None:
    event = one(envelope(status(status="failed", errors=[{"code": int(row.code)}])))
    assert event.error_code == row.code
    assert event.error_class is row.error_class
    assert event.retryable is row.retryable
    assert event.description == row.description
    assert event.status is (row.status if row.status.failure else Status.FAILED)


def test_error_table_names_the_codes_users_meet() -> None:
    wanted = {"131000", "131026", "131047", "131048", "131049", "131050", "131051", "131052"}
    wanted |= {"131053", "130429", "131056", "132000", "132015", "132016", "133010", "368"}
    wanted |= {"470", "1013", "130472"}
    assert wanted <= set(TABLES.tables["error"])


# --- submit responses -----------------------------------------------------------------


submission = support.Submissions("meta", Channel.WHATSAPP, "order-1", "16505551234")


def test_submit_accepted() -> None:
    response = {
        "messaging_product": "whatsapp",
        "contacts": [{"input": "16505551234", "wa_id": "16505551234"}],
        "messages": [{"id": WAMID, "message_status": "accepted"}],
    }
    outcome = ADAPTER.parse_submit(submission(response), {})
    assert outcome.provider_message_ids == (WAMID,)
    (event,) = outcome.events
    assert event.status is Status.ACCEPTED
    assert event.client_ref == "order-1"


def test_submit_graph_error() -> None:
    response = {
        "error": {
            "message": "(#131030) Recipient phone number not in allowed list",
            "type": "OAuthException",
            "code": 131030,
            "error_data": {"messaging_product": "whatsapp", "details": "Add it to the list"},
            "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
        }
    }
    outcome = ADAPTER.parse_submit(submission(json.dumps(response), 400), {})
    (event,) = outcome.events
    assert outcome.provider_message_ids == ()
    assert event.status is Status.REJECTED
    assert event.error_code == "131030"
    assert event.error_class is ErrorClass.ACCOUNT
    assert event.details["error_details"] == "Add it to the list"


# --- fuzzing: nothing but ParseError --------------------------------------------------

STATUS_KEYS = [
    "id",
    "status",
    "timestamp",
    "recipient_id",
    "biz_opaque_callback_data",
    "errors",
    "pricing",
    "conversation",
]
JSON_VALUES = support.json_values("code", "title", "error_data", "origin", "type")
STATUS_ITEMS = st.dictionaries(st.sampled_from(STATUS_KEYS), JSON_VALUES | st.text(max_size=12))


def survives(req: RawRequest) -> None:
    for event in support.only_parse_error(ADAPTER, req):
        assert event.cost is None  # Meta gives a pricing category, never an amount


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400))
def test_fuzz_bytes(body: bytes) -> None:
    survives(request(body))


@settings(max_examples=150, deadline=None)
@given(JSON_VALUES)
def test_fuzz_json(doc: Any) -> None:
    survives(request(json.dumps(doc)))


@settings(max_examples=200, deadline=None)
@given(st.lists(STATUS_ITEMS | JSON_VALUES, max_size=4), JSON_VALUES)
def test_fuzz_status_items(items: list[Any], metadata: Any) -> None:
    doc = {"entry": [{"changes": [{"value": {"metadata": metadata, "statuses": items}}]}]}
    survives(request(json.dumps(doc)))


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["hub.mode", "hub.verify_token", "hub.challenge"])
            | st.text(max_size=8),
            st.text(max_size=12),
        ),
        max_size=5,
    ),
    st.sampled_from(["GET", "POST"]),
    st.none() | st.text(max_size=8) | st.integers(),
)
def test_fuzz_handshake_never_raises(pairs: list[tuple[str, str]], method: str, token: Any) -> None:
    ack = ADAPTER.handshake(request(query=tuple(pairs), method=method), {"verify_token": token})
    assert ack is None or ack.status in (200, 403)


@settings(max_examples=100, deadline=None)
@given(JSON_VALUES | st.dictionaries(st.sampled_from(["messages", "error"]), JSON_VALUES))
def test_fuzz_submit_never_raises(response: Any) -> None:
    ADAPTER.parse_submit(submission(response), {})
