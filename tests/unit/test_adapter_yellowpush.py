"""YellowPush: the 400/401 error envelope per message; callbacks through configured fields."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.adapters.yellowpush import ADAPTER, digits
from receiver.model import Channel, ErrorClass, RawRequest, Status
from tests.unit import adapter_support as support

# verbatim examples of seed 003
MISSING_PARAMETERS = {"message": "Missing parameters", "code": 1, "listErrors": None}
BAD_NUMBERS = {
    "message": "Error reading json",
    "code": 1,
    "listErrors": [
        "Format error in mobile number 000573195112933 in position 1",
        "Format error in mobile number 00573167628372 in position 2",
    ],
}
OPTIONS = {"id_field": "data.id", "status_field": "data.state", "status_map": {"DONE": "delivered"}}
JSON_VALUES = support.SEED_JSON


CALLBACKS = support.Callbacks(ADAPTER, "yellowpush")
request = CALLBACKS.request
submit = support.Submissions("yellowpush", Channel.SMS, "c-1", "+573195112933")


def test_digits_ignore_plus_and_leading_zeros() -> None:
    assert digits("000573195112933") == digits("+57 319 511 2933") == "573195112933"


@pytest.mark.parametrize("destination", ["+573195112933", "573167628372", "00573167628372"])
def test_a_number_named_in_list_errors_is_rejected(destination: str) -> None:
    [event] = ADAPTER.parse_submit(submit(BAD_NUMBERS, 400, destination=destination), {}).events
    assert (event.status, event.error_class, event.retryable) == (
        Status.REJECTED,
        ErrorClass.RECIPIENT,
        False,
    )
    assert "Format error in mobile number" in (event.description or "")
    assert event.client_ref == "c-1"


def test_other_numbers_of_the_batch_keep_going() -> None:
    [event] = ADAPTER.parse_submit(
        submit(BAD_NUMBERS, 400, destination="+5511999999999"), {}
    ).events
    assert event.status is Status.ACCEPTED and event.error_class is None
    assert event.details["list_errors"] == 2


def test_without_a_destination_the_outcome_is_unknown() -> None:
    [event] = ADAPTER.parse_submit(submit(BAD_NUMBERS, 400, destination=None), {}).events
    assert (event.status, event.error_class) == (Status.UNKNOWN, ErrorClass.UNKNOWN)


@pytest.mark.parametrize(
    ("code", "error_class", "retryable"),
    [
        (1, ErrorClass.VALIDATION, False),
        (2, ErrorClass.PROVIDER, True),
        ("9", ErrorClass.UNKNOWN, False),
    ],
)
def test_whole_request_failures(code: Any, error_class: ErrorClass, retryable: bool) -> None:
    body = {**MISSING_PARAMETERS, "code": code}
    [event] = ADAPTER.parse_submit(submit(body, 400), {}).events
    assert (event.status, event.error_code, event.error_class, event.retryable) == (
        Status.REJECTED,
        str(code),
        error_class,
        retryable,
    )
    assert event.details == {"message": "Missing parameters"}


def test_unauthorized_client() -> None:
    [event] = ADAPTER.parse_submit(submit("Unauthorized client", 401), {}).events
    assert (event.status, event.error_class) == (Status.REJECTED, ErrorClass.AUTH)


def test_success_is_accepted() -> None:
    [event] = ADAPTER.parse_submit(submit({"anything": "undocumented"}, 200), {}).events
    assert event.status is Status.ACCEPTED


@pytest.mark.parametrize("response", ["<html>", {"listErrors": "x", "code": 1}, None])
def test_odd_responses_do_not_raise(response: Any) -> None:
    assert ADAPTER.parse_submit(submit(response, 500), {}).events[0].status is Status.UNKNOWN


def test_callbacks_use_the_generic_fields() -> None:
    body = json.dumps({"data": {"id": "yp-1", "state": "DONE"}}).encode()
    [event] = ADAPTER.parse_callback(request(body), OPTIONS)
    assert (event.provider_message_id, event.status) == ("yp-1", Status.DELIVERED)


def test_callbacks_without_configuration_are_kept_as_unknown() -> None:
    [event] = ADAPTER.parse_callback(request(query="id=yp-2&status=DONE", method="GET"), {})
    assert (event.status, event.raw_status) == (Status.UNKNOWN, "DONE")


# --- fuzz ---


def _callback_only_raises_parse_error(req: RawRequest) -> None:
    support.only_parse_error(ADAPTER, req, OPTIONS)


@given(st.binary())
def test_fuzz_bytes(body: bytes) -> None:
    _callback_only_raises_parse_error(request(body))


@given(JSON_VALUES)
def test_fuzz_json(value: Any) -> None:
    for body in (value, {"data": value}):
        _callback_only_raises_parse_error(request(json.dumps(body).encode()))


@given(
    st.dictionaries(
        st.sampled_from(["data.id", "data.state"]) | st.text(max_size=12), st.text(max_size=12)
    )
)
def test_fuzz_form_and_query(fields: dict[str, str]) -> None:
    for req in CALLBACKS.form_and_query(fields):
        _callback_only_raises_parse_error(req)


@given(
    JSON_VALUES
    | st.dictionaries(
        st.sampled_from(["message", "code", "listErrors"]),
        JSON_VALUES | st.lists(st.text() | st.from_regex(r"mobile number \+?\d{1,15}")),
    ),
    st.none() | st.integers(100, 599),
    st.none() | st.text(max_size=16),
)
def test_fuzz_submit_never_raises(response: Any, http: int | None, destination: str | None) -> None:
    assert ADAPTER.parse_submit(submit(response, http, destination=destination), {}).events
