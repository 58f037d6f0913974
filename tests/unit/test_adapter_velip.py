"""Velip: submit envelopes (codes, pass-through statuses, Meta codes) and pushed voice results."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.adapters import codes
from receiver.adapters.base import ParseError
from receiver.adapters.velip import ADAPTER
from receiver.model import Channel, ErrorClass, RawRequest, Status
from tests.unit import adapter_support as support
from tests.unit.adapter_support import FORM

JSON_VALUES = support.SEED_JSON
FIELDS = ["cd_id", "cdls_id", "ctid", "cd_status", "value", "rate", "dur", "cd_amdasw", "dest"]
SCALARS = (
    st.none() | st.integers() | st.text(max_size=12) | st.sampled_from(["OK", "BUSY", "0,050", "0"])
)


CALLBACKS = support.Callbacks(ADAPTER, "velip")
request = CALLBACKS.request


submit = support.Submissions("velip", Channel.SMS, "order-abc-123", "5511999999999")


def envelope(status: str, code: str, cdls_id: str = "1234567") -> dict[str, Any]:
    return {"return": {"status": status, "status_code": code, "cdls_id": cdls_id}}


# --- submit responses ---


def test_ok_is_accepted_with_the_log_id() -> None:
    outcome = ADAPTER.parse_submit(submit(envelope("OK", "0")), {})
    assert outcome.provider_message_ids == ("1234567",)
    [event] = outcome.events
    assert (event.status, event.provider_message_id, event.client_ref) == (
        Status.ACCEPTED,
        "1234567",
        "order-abc-123",
    )
    assert event.error_code is None and event.error_class is None


def test_seed_002_validation_example_is_rejected_without_an_id() -> None:
    outcome = ADAPTER.parse_submit(submit(envelope("Mobile is not valid", "240", "0"), 400), {})
    assert outcome.provider_message_ids == ()
    [event] = outcome.events
    assert event.status is Status.REJECTED and event.provider_message_id is None
    assert (event.error_code, event.error_class, event.retryable) == (
        "240",
        ErrorClass.RECIPIENT,
        False,
    )


def test_waiting_response_is_submitted_not_final() -> None:
    [event] = ADAPTER.parse_submit(submit(envelope("WR", "1")), {}).events
    assert event.status is Status.SUBMITTED and not event.status.final


@pytest.mark.parametrize(
    ("status", "canonical", "error_class"),
    [
        ("NA", Status.UNKNOWN, ErrorClass.UNKNOWN),
        ("WR", Status.SUBMITTED, None),
        ("1010", Status.FAILED, ErrorClass.CONTENT),
        ("submitted", Status.ACCEPTED, None),
        ("enqueued", Status.SENT, None),
    ],
)
def test_pass_through_statuses_are_flagged_downstream(
    status: str, canonical: Status, error_class: ErrorClass | None
) -> None:
    [event] = ADAPTER.parse_submit(submit(envelope(status, "0")), {}).events
    assert (event.raw_status, event.status, event.error_class) == (status, canonical, error_class)
    assert event.details["downstream"] == "pass-through status"
    assert event.details["downstream_status"] == status
    assert event.provider_message_id == "1234567"


def test_gupshup_1010_is_a_failure_with_its_code() -> None:
    [event] = ADAPTER.parse_submit(
        submit(envelope("1010", "0"), channel=Channel.WHATSAPP), {}
    ).events
    assert (event.status, event.error_code, event.description) == (
        Status.FAILED,
        "1010",
        "Gupshup 1010: Invalid Media Url",
    )


def test_matrix_raw_body_is_kept_as_unknown() -> None:
    body = '{"error": "destination not reachable"}'
    [event] = ADAPTER.parse_submit(submit(envelope(body, "0")), {}).events
    assert event.status is Status.UNKNOWN and event.error_class is ErrorClass.UNKNOWN
    assert event.details["downstream_status"] == body and event.error_code == body


@pytest.mark.parametrize(
    ("status", "error_class"),
    [("No sms account", ErrorClass.ACCOUNT), ("Duplicate ctid", ErrorClass.DUPLICATE)],
)
def test_status_text_picks_the_meaning_of_a_two_meaning_code(
    status: str, error_class: ErrorClass
) -> None:
    [event] = ADAPTER.parse_submit(submit(envelope(status, "220", "0"), 400), {}).events
    assert (event.status, event.error_code, event.error_class) == (
        Status.REJECTED,
        "220",
        error_class,
    )


def test_meta_code_passed_through_on_whatsapp() -> None:
    outcome = ADAPTER.parse_submit(
        submit(envelope("Something went wrong", "131000", "0"), 400, channel=Channel.WHATSAPP), {}
    )
    [event] = outcome.events
    assert (event.status, event.error_code, event.error_class, event.retryable) == (
        Status.REJECTED,
        "131000",
        ErrorClass.PROVIDER,
        True,
    )


def test_unknown_code_is_rejected_without_an_id_and_unknown_with_one() -> None:
    [no_id] = ADAPTER.parse_submit(
        submit(envelope("x", "131999", "0"), 400, channel=Channel.WHATSAPP), {}
    ).events
    [with_id] = ADAPTER.parse_submit(submit(envelope("x", "999")), {}).events
    assert (no_id.status, no_id.error_class, no_id.error_code) == (
        Status.REJECTED,
        ErrorClass.UNKNOWN,
        "131999",
    )
    assert (with_id.status, with_id.error_class) == (Status.UNKNOWN, ErrorClass.UNKNOWN)


def test_voice_submit_uses_cd_id_and_a_json_string_response() -> None:
    response = json.dumps({"return": {"status": "OK", "status_code": "0", "cd_id": "42_999"}})
    outcome = ADAPTER.parse_submit(submit(response, channel=Channel.VOICE), {})
    assert outcome.provider_message_ids == ("42_999",)
    assert outcome.events[0].channel is Channel.VOICE


@pytest.mark.parametrize("code", sorted(codes.load("velip").tables["status_code"]))
def test_every_documented_status_code(code: str) -> None:
    row = codes.load("velip").tables["status_code"][code]
    status = "OK" if code == "0" else "some status"
    [event] = ADAPTER.parse_submit(submit(envelope(status, code, "0"), 400), {}).events
    assert (event.status, event.error_class, event.retryable) == (
        row.status,
        row.error_class,
        row.retryable,
    )
    assert event.error_code == (code if row.error_class else None)


@pytest.mark.parametrize("response", [None, "Internal Server Error", [], {"return": "x"}, {"a": 1}])
def test_odd_submit_responses_do_not_raise(response: Any) -> None:
    outcome = ADAPTER.parse_submit(submit(response, 500), {})
    assert [e.status for e in outcome.events] == [Status.UNKNOWN]


# --- voice results pushed via rurl ---


CALLS = {
    "calls": [
        {
            "cd_id": "42_999",
            "ctid": "call-1",
            "cd_status": "OK",
            "dest": "5511999999999",
            "dur": "45",
            "rate": "0,050",
            "value": "0,038",
            "cd_amdasw": "HM",
        },
        {"cd_id": "42_1000", "ctid": "call-2", "cd_status": "BUSY", "dur": "0", "value": "0,000"},
    ],
    "pagination": {"has_more": False, "next_id": ""},
}


def test_pushed_calls_json() -> None:
    ok, busy = ADAPTER.parse_callback(request(json.dumps(CALLS).encode()), {})
    assert (ok.status, ok.provider_message_id, ok.client_ref, ok.channel) == (
        Status.DELIVERED,
        "42_999",
        "call-1",
        Channel.VOICE,
    )
    assert (ok.cost, ok.currency, ok.recipient) == (Decimal("0.038"), "BRL", "5511999999999")
    assert ok.details == {"dur": 45, "rate": "0.050", "cd_amdasw": "HM"}
    assert ok.error_code is None
    assert (busy.status, busy.error_code, busy.error_class) == (
        Status.FAILED,
        "BUSY",
        ErrorClass.RECIPIENT,
    )


def test_calls_inside_the_return_envelope_and_currency_option() -> None:
    body = json.dumps({"return": {"status": "OK", "status_code": "0", **CALLS}}).encode()
    events = ADAPTER.parse_callback(request(body), {"currency": "USD"})
    assert [e.currency for e in events] == ["USD", "USD"]


@pytest.mark.parametrize("status", ["BUSY", "NOANSWER", "CANCEL", "CONGESTION", "CHANUNAVAIL"])
def test_call_failures_carry_the_cause(status: str) -> None:
    body = json.dumps({"cd_id": 77, "cd_status": status}).encode()
    [event] = ADAPTER.parse_callback(request(body), {})
    assert (event.status, event.error_code, event.provider_message_id) == (
        Status.FAILED,
        status,
        "77",
    )
    assert event.error_class is not None and event.description


def test_one_call_as_a_form_post_and_as_a_get_query() -> None:
    fields = {"cd_id": "42_5", "ctid": "c5", "cd_status": "NOANSWER", "value": "0,10"}
    [posted] = ADAPTER.parse_callback(CALLBACKS.form(fields), {})
    [got] = ADAPTER.parse_callback(CALLBACKS.get(urlencode(fields)), {})
    assert posted == got
    assert (posted.status, posted.cost, posted.client_ref) == (Status.FAILED, Decimal("0.10"), "c5")


def test_php_style_form_lists() -> None:
    form = "calls[0][cd_id]=42_1&calls[0][cd_status]=OK&calls[1][ctid]=x&calls[1][cd_status]=BUSY"
    first, second = ADAPTER.parse_callback(request(form, content_type=FORM), {})
    assert (first.provider_message_id, first.status) == ("42_1", Status.DELIVERED)
    assert (second.client_ref, second.provider_message_id, second.status) == (
        "x",
        None,
        Status.FAILED,
    )


@pytest.mark.parametrize(
    "body",
    [
        {"cd_status": "OK"},  # nothing to match on
        {"cd_id": "0", "cd_status": "OK"},  # "0" is no id
        {"cd_id": "42_1"},  # no status
        {"cd_id": "42_1", "cd_status": "OK", "value": "abc"},
        {"status": "OK"},
        {"calls": ["not an object"]},
    ],
)
def test_unusable_calls_raise_parse_error(body: Any) -> None:
    with pytest.raises(ParseError):
        ADAPTER.parse_callback(request(json.dumps(body).encode()), {})


# --- fuzz: nothing but ParseError from callbacks; parse_submit never raises ---


def _callback_only_raises_parse_error(req: RawRequest) -> None:
    support.only_parse_error(ADAPTER, req)


@given(st.binary())
def test_fuzz_bytes(body: bytes) -> None:
    _callback_only_raises_parse_error(request(body))


@given(JSON_VALUES | st.dictionaries(st.sampled_from(FIELDS), SCALARS))
def test_fuzz_json(value: Any) -> None:
    for body in (value, {"calls": [value]}):
        _callback_only_raises_parse_error(request(json.dumps(body).encode()))


@given(st.dictionaries(support.names(FIELDS, 12), st.text(max_size=12)))
def test_fuzz_form_and_query(fields: dict[str, str]) -> None:
    for req in CALLBACKS.form_and_query(fields):
        _callback_only_raises_parse_error(req)


@given(
    JSON_VALUES
    | st.fixed_dictionaries(
        {
            "return": st.dictionaries(
                st.sampled_from(["status", "status_code", "cdls_id", "cd_id", "cp_id"]),
                SCALARS | JSON_VALUES,
            )
        }
    ),
    st.none() | st.integers(100, 599),
    st.sampled_from(Channel),
)
def test_fuzz_submit_never_raises(response: Any, http: int | None, channel: Channel) -> None:
    outcome = ADAPTER.parse_submit(submit(response, http, channel=channel), {})
    assert outcome.events
