"""Hellio: 202 send responses, error envelopes by code and HTTP status, webhooks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.adapters import codes
from receiver.adapters.base import ParseError
from receiver.adapters.hellio import ADAPTER
from receiver.model import Channel, ErrorClass, RawRequest, Status
from tests.unit import adapter_support as support

# from shared/providers/README.md
WEBHOOK = {
    "event": "message.delivered",
    "mobile_number": "+233241234567",
    "provider_message_id": "abc123",
    "status": "delivered",
    "timestamp": "2026-06-30T10:24:01+00:00",
}
SENT = {
    "data": {
        "reference": "5b0c7a5e-8a43-4b8e-a0a3-3c1f4f1f2a10",
        "campaign_id": 981,
        "status": "queued",
        "accepted_recipients": 1,
        "invalid_recipients": 0,
        "segments": 2,
        "estimated_cost": "0.0350",
        "currency": "GHS",
    }
}
JSON_VALUES = support.SEED_JSON
FIELDS = ["event", "mobile_number", "provider_message_id", "status", "timestamp", "client_ref"]
SCALARS = (
    st.none()
    | st.integers()
    | st.text(max_size=30)
    | st.sampled_from(["delivered", "DELIVRD", "message.failed", "2026-06-30T10:24:01+00:00"])
)


CALLBACKS = support.Callbacks(ADAPTER, "hellio")
request = CALLBACKS.request


submit = support.Submissions("hellio", Channel.SMS, "order-7", "+233241234567", http=202)


def test_signature_scheme_is_hellio() -> None:
    assert ADAPTER.signature_scheme == "hellio"


# --- sends ---


def test_queued_send_is_accepted_with_segments_and_cost() -> None:
    outcome = ADAPTER.parse_submit(submit(SENT), {})
    assert (outcome.segments, outcome.cost, outcome.currency) == (2, Decimal("0.0350"), "GHS")
    assert outcome.provider_message_ids == ()  # Hellio gives no per-recipient id
    [event] = outcome.events
    assert (event.status, event.client_ref, event.provider_message_id) == (
        Status.ACCEPTED,
        "order-7",
        None,
    )
    assert event.details["reference"] == SENT["data"]["reference"]
    assert event.details["campaign_id"] == "981"


def test_send_keeps_ids_the_sending_system_registered() -> None:
    outcome = ADAPTER.parse_submit(submit(SENT, ids=("abc123",)), {})
    assert [e.provider_message_id for e in outcome.events] == ["abc123"]


def test_float_cost_is_never_used() -> None:
    sent = {"data": {**SENT["data"], "estimated_cost": 0.035}}
    outcome = ADAPTER.parse_submit(submit(sent), {})
    assert outcome.cost is None and outcome.events[0].status is Status.ACCEPTED


@pytest.mark.parametrize("code", sorted(codes.load("hellio").tables["error"]))
def test_every_documented_error_code(code: str) -> None:
    row = codes.load("hellio").tables["error"][code]
    body = {"message": "human text", "error": code}
    [event] = ADAPTER.parse_submit(submit(body, 422), {}).events
    assert (event.status, event.error_code, event.error_class, event.retryable) == (
        Status.REJECTED,
        code,
        row.error_class,
        row.retryable,
    )
    assert event.details == {"http_status": 422, "message": "human text"}


@pytest.mark.parametrize(
    ("http", "body", "error_class", "retryable"),
    [
        (401, {"message": "Unauthenticated."}, ErrorClass.AUTH, False),
        (429, None, ErrorClass.RATE_LIMIT, True),
        (403, {"message": "no", "error": "something_new"}, ErrorClass.ACCOUNT, False),
        (503, "<html>Service Unavailable</html>", ErrorClass.PROVIDER, True),
        (500, {"message": "Server Error"}, ErrorClass.PROVIDER, True),
    ],
)
def test_errors_without_a_known_code_use_the_http_status(
    http: int, body: Any, error_class: ErrorClass, retryable: bool
) -> None:
    [event] = ADAPTER.parse_submit(submit(body, http), {}).events
    assert (event.status, event.error_class, event.retryable) == (
        Status.REJECTED,
        error_class,
        retryable,
    )


@pytest.mark.parametrize("response", ["accepted", {"data": []}, [1, 2]])
def test_odd_send_responses_do_not_raise(response: Any) -> None:
    assert ADAPTER.parse_submit(submit(response), {}).events[0].status is Status.UNKNOWN


# --- webhooks ---


def test_readme_webhook_example() -> None:
    [event] = ADAPTER.parse_callback(request(json.dumps(WEBHOOK).encode()), {})
    assert (event.status, event.provider_message_id, event.recipient) == (
        Status.DELIVERED,
        "abc123",
        "+233241234567",
    )
    assert event.provider_time == datetime(2026, 6, 30, 10, 24, 1, tzinfo=UTC)
    assert event.details == {"event": "message.delivered"}


@pytest.mark.parametrize(
    ("status", "canonical"),
    [
        ("failed", Status.FAILED),
        ("ACK/", Status.SENT),
        ("DELIVRD", Status.DELIVERED),
        ("UNDELIV", Status.FAILED),
        ("FAILED", Status.FAILED),
        ("EXPIRED", Status.EXPIRED),
        ("something_else", Status.UNKNOWN),
    ],
)
def test_modern_and_legacy_statuses(status: str, canonical: Status) -> None:
    body = {**WEBHOOK, "event": "message.failed", "status": status}
    [event] = ADAPTER.parse_callback(request(json.dumps(body).encode()), {})
    assert (event.status, event.raw_status) == (canonical, status)


def test_event_name_stands_in_for_a_missing_status() -> None:
    body = {k: v for k, v in WEBHOOK.items() if k != "status"} | {"event": "message.failed"}
    [event] = ADAPTER.parse_callback(request(json.dumps(body).encode()), {})
    assert (event.status, event.raw_status) == (Status.FAILED, "message.failed")


def test_client_reference_matches_when_there_is_no_id() -> None:
    body = {k: v for k, v in WEBHOOK.items() if k != "provider_message_id"} | {"ref": "order-7"}
    [event] = ADAPTER.parse_callback(
        request(json.dumps(body).encode()), {"client_ref_field": "ref"}
    )
    assert (event.provider_message_id, event.client_ref) == (None, "order-7")


@pytest.mark.parametrize(
    "body",
    [
        {"status": "delivered"},
        {"provider_message_id": "abc123"},
        {**WEBHOOK, "timestamp": "not a time"},
        {**WEBHOOK, "provider_message_id": {"nested": 1}},
        [WEBHOOK],
    ],
)
def test_unusable_webhooks_raise_parse_error(body: Any) -> None:
    with pytest.raises(ParseError):
        ADAPTER.parse_callback(request(json.dumps(body).encode()), {})


# --- fuzz ---


def _callback_only_raises_parse_error(req: RawRequest) -> None:
    support.only_parse_error(ADAPTER, req)


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
    | st.dictionaries(st.sampled_from(["message", "error"]), SCALARS)
    | st.fixed_dictionaries(
        {
            "data": st.dictionaries(
                st.sampled_from(["status", "segments", "estimated_cost", "currency", "reference"]),
                SCALARS | JSON_VALUES,
            )
        }
    ),
    st.none() | st.integers(100, 599),
)
def test_fuzz_submit_never_raises(response: Any, http: int | None) -> None:
    outcome = ADAPTER.parse_submit(submit(response, http), {})
    assert outcome.events
    assert outcome.cost is None or outcome.currency
