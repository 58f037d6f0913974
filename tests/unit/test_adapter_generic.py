"""Generic adapter: a provider onboarded by configuration (field paths and a status map)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver.adapters import fields
from receiver.adapters.base import ParseError
from receiver.adapters.generic import ADAPTER
from receiver.model import Channel, ErrorClass, RawRequest, Status, Submission
from tests.unit import adapter_support as support

OPTIONS: dict[str, Any] = {
    "id_field": "data.id",
    "status_field": "data.status",
    "time_field": "data.updated_at",
    "error_code_field": "data.error.code",
    "price_field": "data.price.amount",
    "currency_field": "data.price.currency",
    "client_ref_field": "data.reference",
    "recipient_field": "data.to",
    "channel": "sms",
    "status_map": {
        "DELIVERED": "delivered",
        "sent": "sent",
        "UNDELIVERABLE": {
            "status": "failed",
            "error_class": "recipient",
            "retryable": False,
            "description": "Handset unreachable",
        },
        "bounced": "failed",
    },
}
REPORT = {
    "data": {
        "id": "m-1",
        "status": "DELIVERED",
        "updated_at": "2025-03-01T12:00:00Z",
        "price": {"amount": 0.0350, "currency": "EUR"},
        "reference": "order-1",
        "to": "+4915112345678",
    }
}
JSON_VALUES = support.SEED_JSON
FLAT = {
    "id_field": "id",
    "status_field": "status",
    "time_field": "ts",
    "price_field": "price",
    "currency": "USD",
    "client_ref_field": "ref",
    "status_map": {"ok": "delivered"},
}


CALLBACKS = support.Callbacks(ADAPTER, "acme")
request = CALLBACKS.request


def parse(body: Any, options: dict[str, Any] = OPTIONS) -> list[Any]:
    return ADAPTER.parse_callback(request(json.dumps(body).encode()), options)


def test_nested_json_report() -> None:
    # the JSON number 0.0350 is read as text: never through a float
    [event] = ADAPTER.parse_callback(
        request(json.dumps(REPORT).replace("0.035", "0.0350").encode()), OPTIONS
    )
    assert (event.status, event.provider_message_id, event.client_ref, event.recipient) == (
        Status.DELIVERED,
        "m-1",
        "order-1",
        "+4915112345678",
    )
    assert (event.cost, event.currency, event.channel) == (Decimal("0.0350"), "EUR", Channel.SMS)
    assert event.provider_time == datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def test_status_map_tables_give_the_error_class() -> None:
    report = {"data": {"id": "m-2", "status": "undeliverable", "error": {"code": "E42"}}}
    [event] = parse(report)  # matched case-insensitively
    assert (event.status, event.error_code, event.error_class, event.description) == (
        Status.FAILED,
        "E42",
        ErrorClass.RECIPIENT,
        "Handset unreachable",
    )


def test_failure_without_a_class_is_unknown_class() -> None:
    [event] = parse({"data": {"id": "m-3", "status": "bounced"}})
    assert (event.status, event.error_class) == (Status.FAILED, ErrorClass.UNKNOWN)


def test_unmapped_status_is_unknown() -> None:
    [event] = parse({"data": {"id": "m-4", "status": "weird"}})
    assert (event.status, event.raw_status, event.error_class) == (
        Status.UNKNOWN,
        "weird",
        ErrorClass.UNKNOWN,
    )
    assert event.unmapped
    [known] = parse({"data": {"id": "m-5", "status": "sent"}})
    assert not known.unmapped


def test_batch_bodies() -> None:
    items = [{"id": "a", "status": "ok"}, {"ref": "r-2", "status": "ok"}]
    batch = parse({"results": items}, {**FLAT, "items_field": "results"})
    top_level = parse(items, FLAT)
    assert batch == top_level
    assert [(e.provider_message_id, e.client_ref, e.status) for e in batch] == [
        ("a", None, Status.DELIVERED),
        (None, "r-2", Status.DELIVERED),
    ]


def test_form_post_and_get_query_with_a_fixed_currency() -> None:
    fields = {"id": "q-1", "status": "ok", "price": "0,05", "ts": "2025-03-01T13:00:00+01:00"}
    [form] = ADAPTER.parse_callback(CALLBACKS.form(fields), FLAT)
    # an unencoded "+" in the offset arrives as a space
    query = urlencode(fields).replace("%2B", "+")
    [got] = ADAPTER.parse_callback(request(query=query, method="GET"), FLAT)
    assert form == got
    assert (form.cost, form.currency) == (Decimal("0.05"), "USD")
    assert form.provider_time == datetime(2025, 3, 1, 13, tzinfo=timezone(timedelta(hours=1)))


def test_price_without_currency_is_not_money() -> None:
    options = {**FLAT, "currency": None}
    [event] = ADAPTER.parse_callback(request(query="id=1&status=ok&price=0.5"), options)
    assert event.cost is None and event.currency is None
    assert event.details == {"price_without_currency": "0.5"}


def test_list_index_paths() -> None:
    options = {"id_field": "results.0.id", "status_field": "results.0.status"}
    [event] = parse({"results": [{"id": "x", "status": "sent"}]}, options)
    assert (event.provider_message_id, event.status) == ("x", Status.UNKNOWN)


@pytest.mark.parametrize(
    ("body", "options"),
    [
        ({"data": {"status": "DELIVERED"}}, OPTIONS),  # neither id nor client_ref
        ({"data": {"id": "m"}}, OPTIONS),  # no status
        ({"data": {"id": {"a": 1}, "status": "sent"}}, OPTIONS),
        ({"data": {"id": "m", "status": "sent", "price": {"amount": "NaN"}}}, OPTIONS),
        ({"data": {"id": "m", "status": "sent", "updated_at": "soon"}}, OPTIONS),
        ({"id": "m", "status": "x"}, {"status_map": {"x": "gone"}}),  # not a canonical status
        ({"id": "m", "status": "x"}, {"status_map": ["x"]}),
        ({"id": "m", "status": "x"}, {"channel": "fax"}),
        ({"results": "nope"}, {"items_field": "results"}),
        ("just a string", {}),
    ],
)
def test_unusable_reports_and_bad_configuration_raise_parse_error(
    body: Any, options: dict[str, Any]
) -> None:
    with pytest.raises(ParseError):
        parse(body, options)


def test_submit_uses_the_default_outcome() -> None:
    sub = Submission("acme", Channel.SMS, "r", ("id-1",), None, None, {"ok": True}, 201)
    [event] = ADAPTER.parse_submit(sub, {}).events
    assert (event.status, event.provider_message_id) == (Status.ACCEPTED, "id-1")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2017-01-03T14:31:28 08:00", datetime(2017, 1, 3, 6, 31, 28, tzinfo=UTC)),
        ("2017-01-03 14:31:28", datetime(2017, 1, 3, 14, 31, 28, tzinfo=UTC)),
        (1483425088, datetime(2017, 1, 3, 6, 31, 28, tzinfo=UTC)),
    ],
)
def test_when_reads_provider_times(value: Any, expected: datetime) -> None:
    assert fields.when(value) == expected


@pytest.mark.parametrize("value", ["²²²²²²²²²", "9" * 30, "1" * 5000])
def test_when_turns_odd_digits_into_parse_error(value: str) -> None:
    with pytest.raises(ParseError):
        fields.when(value)


@pytest.mark.parametrize("raw", [b"1" * 5000, b"[" * 100_000, b'{"a": NaN}'])
def test_json_value_turns_every_failure_into_parse_error(raw: bytes) -> None:
    with pytest.raises(ParseError):
        fields.json_value(raw)


# --- fuzz ---


def _callback_only_raises_parse_error(req: RawRequest, options: dict[str, Any]) -> None:
    support.only_parse_error(ADAPTER, req, options)


@given(st.binary())
def test_fuzz_bytes(body: bytes) -> None:
    _callback_only_raises_parse_error(request(body), OPTIONS)


@given(JSON_VALUES, st.sampled_from([OPTIONS, FLAT, {**FLAT, "items_field": "r"}]))
def test_fuzz_json(value: Any, options: dict[str, Any]) -> None:
    for body in (value, {"data": value}, {"r": [value]}):
        _callback_only_raises_parse_error(request(json.dumps(body).encode()), options)


@given(
    st.dictionaries(
        st.sampled_from(["id", "status", "ts", "price", "ref"]) | st.text(max_size=8),
        st.text(max_size=16),
    )
)
def test_fuzz_form_and_query(fields: dict[str, str]) -> None:
    for req in CALLBACKS.form_and_query(fields):
        _callback_only_raises_parse_error(req, FLAT)


@given(JSON_VALUES, st.none() | st.integers(100, 599))
def test_fuzz_submit_never_raises(response: Any, http: int | None) -> None:
    sub = Submission("acme", Channel.SMS, "r", (), None, None, response, http)
    assert ADAPTER.parse_submit(sub, {}).events


ERROR_OPTIONS: dict[str, Any] = {
    "id_field": "id",
    "status_field": "status",
    "error_code_field": "errors.0.code",
    "status_map": {"delivered": "delivered", "failed": "failed", "sent": "sent"},
    "error_codes": {
        "30": {"status": "rejected", "error_class": "content", "description": "Spam"},
        "20": {"error_class": "network", "retryable": True, "description": "Network"},
        "0": {"status": "delivered", "description": "No error"},
    },
}


def test_error_codes_class_failures() -> None:
    [spam] = parse({"id": "e1", "status": "failed", "errors": [{"code": 30}]}, ERROR_OPTIONS)
    assert (spam.status, spam.error_code, spam.error_class, spam.retryable, spam.description) == (
        Status.REJECTED,
        "30",
        ErrorClass.CONTENT,
        False,
        "Spam",
    )
    [network] = parse({"id": "e2", "status": "failed", "errors": [{"code": "20"}]}, ERROR_OPTIONS)
    assert (network.status, network.error_class, network.retryable) == (
        Status.FAILED,
        ErrorClass.NETWORK,
        True,
    )
    assert not spam.unmapped and not network.unmapped


def test_error_codes_never_make_a_success_a_failure() -> None:
    [event] = parse({"id": "e3", "status": "sent", "errors": [{"code": "30"}]}, ERROR_OPTIONS)
    assert event.status is Status.SENT and event.error_code == "30"
    [ok] = parse({"id": "e4", "status": "delivered", "errors": [{"code": "0"}]}, ERROR_OPTIONS)
    assert (ok.status, ok.error_class, ok.description) == (Status.DELIVERED, None, "No error")


def test_a_failure_code_without_a_row_is_counted_unmapped() -> None:
    [event] = parse({"id": "e5", "status": "failed", "errors": [{"code": "99"}]}, ERROR_OPTIONS)
    assert (event.status, event.error_code, event.error_class, event.unmapped) == (
        Status.FAILED,
        "99",
        ErrorClass.UNKNOWN,
        True,
    )
    # a success with an unknown code is no unmapped failure
    [sent] = parse({"id": "e6", "status": "sent", "errors": [{"code": "99"}]}, ERROR_OPTIONS)
    assert not sent.unmapped
    # without any error_codes table, the code is only kept raw
    plain = {k: v for k, v in ERROR_OPTIONS.items() if k != "error_codes"}
    [raw] = parse({"id": "e7", "status": "failed", "errors": [{"code": "99"}]}, plain)
    assert (raw.error_code, raw.unmapped) == ("99", False)


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        (
            'error_codes = { 30 = { status = "refused" } }',
            "error_codes.30: status 'refused' is not one of",
        ),
        (
            'error_codes = { 30 = { error_class = "spam" } }',
            "error_codes.30: error_class 'spam' is not one of",
        ),
        (
            'error_codes = { 30 = { retryable = "yes" } }',
            "error_codes.30: retryable must be true or false",
        ),
        ('error_codes = { 30 = { reason = "x" } }', "error_codes.30: unknown key(s) reason"),
        ('status_map = { ok = { error_class = "content" } }', "status_map.ok: has no status"),
        ('status_map = { ok = "deliverd" }', "status_map.ok: status 'deliverd' is not one of"),
        ('channel = "sms "', "channel 'sms ' is not one of"),
    ],
)
def test_bad_tables_are_refused_at_start(tmp_path: Any, table: str, problem: str) -> None:
    import re

    from click.testing import CliRunner

    from dlrecon.cli import cli
    from receiver import settings

    path = tmp_path / "dlrecon.toml"
    path.write_text(f"[providers.acme]\nadapter = 'generic'\nverify = 'off'\n{table}\n")
    with pytest.raises(settings.ConfigError, match=re.escape(f"providers.acme: {problem}")):
        settings.load(path)
    result = CliRunner().invoke(cli, ["--config", str(path), "serve"])
    assert result.exit_code == 2 and problem in result.output
