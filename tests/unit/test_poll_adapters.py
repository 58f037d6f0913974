"""Poll adapters (pure): the requests they build, and the responses they parse, against the
providers' documented examples; credentials never in what is stored; fuzzing."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import SecretStr

from receiver.adapters import names
from receiver.adapters._poll import (
    PollAdapter,
    PollRequest,
    PollResponse,
    PollTarget,
    Window,
    poll_adapter,
)
from receiver.adapters.base import ParseError
from receiver.model import Status
from tests.support import corpus

OPTIONS: dict[str, Any] = {
    "account_sid": "AC123",
    "auth_token": SecretStr("tw-secret"),
    "api_token": SecretStr("token-secret"),
    "api_key": SecretStr("key-secret"),
    "api_secret": SecretStr("api-secret"),
}
SECRET_VALUES = ("tw-secret", "token-secret", "key-secret", "api-secret")


def target(**fields: Any) -> PollTarget:
    base: dict[str, Any] = {
        "message_id": 7,
        "channel": "sms",
        "client_ref": "ref-7",
        "provider_message_ids": ("ID-7",),
        "submitted_at": datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
        "final": False,
        "priced": False,
    }
    return PollTarget(**{**base, **fields})


def response(request: PollRequest, body: Any, status: int = 200) -> PollResponse:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return PollResponse(request.described(), status, {"content-type": "application/json"}, raw)


def adapter(name: str) -> PollAdapter:
    found = poll_adapter(name)
    assert found is not None
    return found


def test_the_providers_with_status_apis_poll() -> None:
    polled = {n for n in names() if poll_adapter(n) is not None}
    assert polled == {"velip", "twilio", "infobip", "vonage", "hellio", "yellowpush"}


@pytest.mark.parametrize("name", ["velip", "twilio", "vonage", "hellio", "yellowpush", "infobip"])
def test_stored_requests_hold_no_credentials(name: str) -> None:
    poll = adapter(name)
    t = target(channel="voice" if name == "velip" else "sms")
    window = Window(datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    requests = [poll.poll_request(t, OPTIONS), poll.list_request([t], window, 100, OPTIONS)]
    requests = [r for r in requests if r is not None]
    assert requests
    for request in requests:
        text = json.dumps(request.described())
        assert not any(secret in text for secret in SECRET_VALUES), text
        assert request.auth is not None  # sent with credentials all the same
        sent = json.dumps(request.auth.headers())
        assert any(secret in sent for secret in SECRET_VALUES) or "Basic" in sent


def test_twilio_fetch_of_the_documented_resource() -> None:
    poll = adapter("twilio")
    request = poll.poll_request(
        target(provider_message_ids=("SMb7c0a2ce80504485a6f653a7110836f5",)), OPTIONS
    )
    assert request is not None
    assert request.method == "GET"
    assert (
        request.path
        == "/2010-04-01/Accounts/AC123/Messages/SMb7c0a2ce80504485a6f653a7110836f5.json"
    )
    example = next(e for e in corpus("twilio")["examples"] if "Status-poll" in e["description"])
    [event] = poll.parse(response(request, example["body_verbatim"].encode()), OPTIONS)
    assert event.raw_status == "sent" and event.status is Status.SENT
    assert event.error_code == "30007"
    # the negative price is what Twilio charged: an exact positive cost in price_unit
    assert (event.cost, event.currency) == (Decimal("0.00750"), "USD")
    assert event.details["segments"] == 1
    assert event.provider_time is None  # as in callbacks: the same statement dedupes
    assert event.details["date_updated"] == "Fri, 24 May 2019 17:18:28 +0000"


def test_twilio_without_an_id_is_not_polled() -> None:
    assert adapter("twilio").poll_request(target(provider_message_ids=()), OPTIONS) is None


def test_velip_lookup_by_cd_id_then_by_ctid_and_only_for_voice() -> None:
    poll = adapter("velip")
    by_id = poll.poll_request(target(channel="voice", provider_message_ids=("db_5",)), OPTIONS)
    by_ref = poll.poll_request(target(channel="voice", provider_message_ids=()), OPTIONS)
    assert by_id is not None and by_id.json_body == {"cd_id": "db_5"}
    assert by_ref is not None and by_ref.json_body == {"ctid": "ref-7"}
    assert by_id.path == "/api/v2/GetCallStatus.php" and by_id.method == "POST"
    assert poll.poll_request(target(channel="sms"), OPTIONS) is None


def test_velip_list_pages_with_the_cursor_and_caps_maxreg() -> None:
    poll = adapter("velip")
    window = Window(datetime(2026, 11, 30, 8, tzinfo=UTC), datetime(2026, 11, 30, 9, tzinfo=UTC))
    first = poll.list_request([target(channel="voice")], window, 9000, OPTIONS)
    assert first is not None and first.kind == "list"
    assert first.json_body == {
        "date_start": "2026-11-30 05:00:00",  # São Paulo time (UTC-3), unless `timezone`
        "date_end": "2026-11-30 06:00:00",
        "maxreg": 5000,
    }
    utc = poll.list_request([target(channel="voice")], window, 10, {**OPTIONS, "timezone": "UTC"})
    assert utc is not None and utc.json_body["date_start"] == "2026-11-30 08:00:00"
    with pytest.raises(ParseError):
        poll.list_request(
            [target(channel="voice")], window, 10, {**OPTIONS, "timezone": "Mars/Base"}
        )
    page = {
        "return": {
            "status": "OK",
            "status_code": "0",
            "pagination": {"has_more": True, "next_id": 812},
        },
        "calls": [
            {"cd_id": "db_1", "cd_status": "OK", "rate": "0,050", "value": "0,150", "dur": "95"}
        ],
    }
    second = poll.next_page(first, response(first, page), OPTIONS)
    assert second is not None and second.json_body["last_id"] == 812 and second.page == 2
    [event] = poll.parse(response(second, page), {**OPTIONS, "currency": "BRL"})
    assert event.status is Status.DELIVERED
    assert (event.cost, event.currency) == (Decimal("0.150"), "BRL")
    assert event.details["rate"] == "0.050" and event.details["dur"] == 95
    last = {
        **page,
        "return": {"status": "OK", "status_code": "0", "pagination": {"has_more": False}},
    }
    assert poll.next_page(second, response(second, last), OPTIONS) is None
    # a cursor that does not move would page for ever: refused
    stuck = {**page, "return": {"pagination": {"has_more": True, "next_id": 812}}}
    with pytest.raises(ParseError):
        poll.next_page(second, response(second, stuck), OPTIONS)


@pytest.mark.parametrize(
    ("cd_status", "status"),
    [
        ("OK", Status.DELIVERED),
        ("BUSY", Status.FAILED),
        ("NOANSWER", Status.FAILED),
        ("CANCEL", Status.FAILED),
        ("CONGESTION", Status.FAILED),
        ("CHANUNAVAIL", Status.FAILED),
    ],
)
def test_velip_call_statuses(cd_status: str, status: Status) -> None:
    poll = adapter("velip")
    request = poll.poll_request(target(channel="voice"), OPTIONS)
    assert request is not None
    body = {
        "return": {"status": "OK", "status_code": "0"},
        "calls": [{"cd_id": "ID-7", "cd_status": cd_status}],
    }
    [event] = poll.parse(response(request, body), OPTIONS)
    assert event.status is status
    assert (event.error_code is not None) == status.failure


def test_velip_not_found_reports_nothing() -> None:
    poll = adapter("velip")
    request = poll.poll_request(target(channel="voice"), OPTIONS)
    assert request is not None
    assert (
        poll.parse(
            response(request, {"return": {"status": "not found", "status_code": "404"}}), OPTIONS
        )
        == []
    )


def test_infobip_drain_pages_while_full_and_parses_the_documented_report() -> None:
    poll = adapter("infobip")
    window = Window(datetime(2026, 11, 30, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC))
    first = poll.list_request([], window, 5000, OPTIONS)
    assert first is not None and first.kind == "drain" and dict(first.query) == {"limit": "1000"}
    assert first.auth is not None and first.auth.headers() == {"Authorization": "App key-secret"}
    report = json.loads(corpus("infobip")["examples"][0]["body_verbatim"])
    [event] = poll.parse(response(first, report), OPTIONS)
    assert event.status is Status.DELIVERED and event.provider_message_id == "MESSAGE-ID-123-xyz"
    small = poll.list_request([], window, 1, OPTIONS)
    assert small is not None
    assert poll.next_page(small, response(small, report), OPTIONS) is not None  # full: again
    assert poll.next_page(first, response(first, report), OPTIONS) is None  # short: drained


def test_vonage_record_and_redacted_account() -> None:
    poll = adapter("vonage")
    request = poll.poll_request(target(provider_message_ids=("0B00000127FDBC63",)), OPTIONS)
    assert request is not None
    assert dict(request.query)["account_id"] == "key-secret"  # sent ...
    assert ["account_id", "<redacted>"] in request.described()["query"]  # ... never stored
    body = {
        "records": [
            {
                "message_id": "0b00000127fdbc63",
                "status": "expired",
                "error_code": "0",
                "total_price": "0.0333",
                "currency": "EUR",
            }
        ]
    }
    [event] = poll.parse(response(request, body), OPTIONS)
    assert event.provider_message_id == "0B00000127FDBC63"
    assert event.status is Status.EXPIRED and event.error_code is None
    assert (event.cost, event.currency) == (Decimal("0.0333"), "EUR")


def test_hellio_reads_the_webhook_vocabulary_in_a_data_object() -> None:
    poll = adapter("hellio")
    submit = {"data": {"reference": "uuid-1", "status": "queued"}}
    request = poll.poll_request(target(provider_message_ids=(), submit_response=submit), OPTIONS)
    assert request is not None and request.path == "/v1/messages/uuid-1"
    body = {
        "data": {
            "provider_message_id": "abc123",
            "status": "failed",
            "timestamp": "2026-06-30T10:24:01+00:00",
        }
    }
    [event] = poll.parse(response(request, body), OPTIONS)
    assert event.status is Status.FAILED and event.client_ref == "ref-7"
    assert event.provider_message_id == "abc123"
    with pytest.raises(ParseError):
        poll.parse(response(request, {"data": {"id": "x"}}), OPTIONS)  # no status: quarantined


def test_yellowpush_through_the_configured_fields() -> None:
    poll = adapter("yellowpush")
    request = poll.poll_request(target(), OPTIONS)
    assert request is not None
    assert dict(request.query) == {
        "client_message_id": "ref-7",
        "start_date": "2026-11-28",
        "end_date": "2026-12-02",
    }
    options = {
        **OPTIONS,
        "poll_fields": {"items_field": "rows", "status_field": "st", "id_field": "uid"},
        "status_map": {"DLV": "delivered"},
    }
    [event] = poll.parse(response(request, {"rows": [{"uid": "U1", "st": "DLV"}]}), options)
    assert event.status is Status.DELIVERED and event.client_ref == "ref-7"
    assert poll.poll_request(target(client_ref=None), OPTIONS) is None


@pytest.mark.parametrize("name", ["velip", "twilio", "vonage", "hellio", "yellowpush", "infobip"])
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.none() | st.booleans() | st.integers() | st.text(max_size=20),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(st.text(max_size=8), children, max_size=4)
            ),
            max_leaves=12,
        ).map(lambda v: json.dumps(v).encode()),
    )
)
def test_any_body_parses_or_is_a_parse_error(name: str, body: bytes) -> None:
    poll = adapter(name)
    request = PollRequest("lookup", "GET", "/x", client_ref="ref-7")
    with contextlib.suppress(ParseError):
        poll.parse(response(request, body), {**OPTIONS, "id_field": "id", "status_field": "status"})
