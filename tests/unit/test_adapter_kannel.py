"""Kannel dlr-url callbacks."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver import adapters
from receiver.adapters import codes
from receiver.adapters.base import Ack, ParseError
from receiver.adapters.kannel import ADAPTER
from receiver.model import Channel, ErrorClass, Event, RawRequest, Status
from tests.unit import adapter_support as support

RECEIPT = (
    "id:0000A1B2 sub:001 dlvrd:001 submit date:2401021530 done date:2401021531"
    " stat:DELIVRD err:000 text:Hello"
)


def corpus() -> dict[str, Any]:
    return support.corpus("kannel.json")


def get(
    query: dict[str, str] | list[tuple[str, str]], path: str = "/v1/callbacks/kannel"
) -> RawRequest:
    pairs = tuple(query.items()) if isinstance(query, dict) else tuple(query)
    return RawRequest(method="GET", path=path, query=pairs, headers={}, body=b"")


def url_request(url: str) -> RawRequest:
    """The request Kannel makes when it fetches `url`."""
    parts = urlsplit(url)
    return get(parse_qsl(parts.query, keep_blank_values=True), parts.path)


def parse(query: dict[str, str], options: dict[str, Any] | None = None) -> Event:
    events = ADAPTER.parse_callback(get(query), options or {})
    assert len(events) == 1
    return events[0]


def full(**overrides: str) -> dict[str, str]:
    query = {
        "ref": "order-1",
        "type": "1",
        "fid": "0000A1B2",
        "kid": "6b1f6e2e-0c1a-4f5a-9d1e-2f6f3c1b7a10",
        "smsc": "smsc-a",
        "to": "+233241234567",
        "from": "ACME",
        "ts": "1704209460",
        "answer": RECEIPT,
    }
    query.update(overrides)
    return {key: value for key, value in query.items() if value != ""}


# ---- corpus --------------------------------------------------------------------------------


def test_corpus_userguide_transaction() -> None:
    """Steps 4 and 6 of the userguide: buffered (type=4) then delivered (type=1), our id in myId."""
    narrative = corpus()["examples"][0]["body_verbatim"]
    urls = re.findall(r"Kannel calls (\S+)", narrative)
    assert len(urls) == 2
    options = {"params": {"ref": "myId"}}
    events = [ADAPTER.parse_callback(url_request(url), options)[0] for url in urls]
    assert [e.status for e in events] == [Status.SENT, Status.DELIVERED]
    assert [e.raw_status for e in events] == ["4", "1"]
    assert {e.client_ref for e in events} == {"123456"}
    assert all(e.provider_message_id is None and e.channel is Channel.SMS for e in events)


def test_corpus_template_in_the_narrative_is_not_a_report() -> None:
    """The dlr-url the sender passes (type=%d unsubstituted) has an unknown type: kept raw."""
    narrative = corpus()["examples"][0]["body_verbatim"]
    template = re.search(r"dlr-url=(\S+)", narrative)
    assert template is not None
    event = ADAPTER.parse_callback(url_request(template.group(1)), {"params": {"ref": "myId"}})[0]
    assert (event.raw_status, event.status, event.error_class) == (
        "%d",
        Status.UNKNOWN,
        ErrorClass.UNKNOWN,
    )


def test_every_corpus_type_is_mapped_with_its_finality() -> None:
    table = codes.load("kannel")
    statuses = corpus()["statuses"]
    assert {row["value"] for row in statuses} == set(table.tables["type"])
    for row in statuses:
        event = parse({"ref": "r", "type": row["value"]})
        assert event.status.final is row["final"], row
        info = table.lookup("type", row["value"])
        assert info is not None and event.description == info.description


@pytest.mark.parametrize(
    ("dlr_type", "status"),
    [("1", Status.DELIVERED), ("2", Status.FAILED), ("4", Status.SENT), ("8", Status.SENT),
     ("16", Status.REJECTED), ("32", Status.SENT)],
)  # fmt: skip
def test_type_mapping(dlr_type: str, status: Status) -> None:
    assert parse({"ref": "r", "type": dlr_type}).status is status


def test_corpus_escape_codes_are_in_the_documented_template() -> None:
    """Every escape code the template uses is one the corpus documents."""
    documented = " ".join(corpus()["escape_codes_relevant_to_dlr"])
    template = "type=%d&fid=%F&kid=%I&smsc=%i&to=%p&from=%P&ts=%T&answer=%A"
    for code in re.findall(r"%\w", template):
        assert code in documented, code


# ---- the documented template -----------------------------------------------------------------


def test_full_template() -> None:
    event = parse(full())
    assert event.status is Status.DELIVERED
    assert event.raw_status == "DELIVRD"
    assert event.client_ref == "order-1"
    assert event.raw_message_id == "0000A1B2"
    assert event.provider_message_id == "0000a1b2"
    assert event.recipient == "+233241234567"
    assert event.provider_time == datetime(2024, 1, 2, 15, 31, tzinfo=UTC)
    assert event.error_code is None
    assert event.channel is Channel.SMS
    assert event.details == {
        "dlr_type": "1",
        "smsc": "smsc-a",
        "kannel_id": "6b1f6e2e-0c1a-4f5a-9d1e-2f6f3c1b7a10",
        "sender": "ACME",
        "ts": "1704209460",
        "receipt_id": "0000A1B2",
        "sub": "001",
        "dlvrd": "001",
        "submit_date": "2401021530",
        "done_date": "2401021531",
        "err": "000",
    }


def test_url_encoded_callback_as_kannel_sends_it() -> None:
    url = "https://dlr.example.com/v1/callbacks/kannel?" + urlencode(full())
    event = ADAPTER.parse_callback(url_request(url), {})[0]
    assert (event.status, event.client_ref) == (Status.DELIVERED, "order-1")


def test_receipt_stat_wins_over_type() -> None:
    # Kannel folds UNKNOWN into type 2 (failed); the receipt says more
    unknown = parse(full(type="2", answer="id:1 stat:UNKNOWN err:000"))
    assert (unknown.status, unknown.raw_status) == (Status.UNKNOWN, "UNKNOWN")
    failed = parse(full(type="2", answer="id:1 stat:UNDELIV err:0x0B text:"))
    assert (failed.status, failed.error_code, failed.error_class) == (
        Status.FAILED,
        "0x0B",
        ErrorClass.RECIPIENT,
    )


def test_answer_that_is_not_a_receipt_falls_back_to_type() -> None:
    ack = parse(full(type="8", answer="ACK/"))
    assert (ack.status, ack.raw_status, ack.details["answer"]) == (Status.SENT, "8", "ACK/")
    nack = parse(full(type="16", answer="NACK/0x00000045/Submit failed"))
    assert (nack.status, nack.details["answer"]) == (
        Status.REJECTED,
        "NACK/0x00000045/Submit failed",
    )
    assert nack.status.final


def test_provider_id_from_receipt_when_no_fid() -> None:
    event = parse(full(fid=""))
    assert (event.raw_message_id, event.provider_message_id) == ("0000A1B2", "0000a1b2")


def test_time_falls_back_to_ts() -> None:
    event = parse(full(answer=""))
    assert event.provider_time == datetime.fromtimestamp(1704209460, UTC)
    assert parse(full(answer="", ts="garbage")).provider_time is None
    assert parse(full(answer="", ts="9" * 40)).provider_time is None


def test_id_only_or_ref_only_is_matchable() -> None:
    assert parse({"type": "1", "fid": "42"}).client_ref is None
    assert parse({"type": "1", "ref": "r"}).provider_message_id is None


def test_nothing_to_match_on() -> None:
    with pytest.raises(ParseError, match="no message id"):
        parse({"type": "1", "to": "+1555"})


def test_no_status_at_all() -> None:
    with pytest.raises(ParseError, match="DLR type"):
        parse({"ref": "r", "answer": "ACK/"})


def test_unmapped_type_is_kept_raw() -> None:
    event = parse({"ref": "r", "type": "64"})
    assert (event.raw_status, event.status, event.error_class) == (
        "64",
        Status.UNKNOWN,
        ErrorClass.UNKNOWN,
    )


def test_renamed_parameters() -> None:
    options = {"params": {"type": "t", "ref": "myId", "answer": "a"}}
    event = parse({"t": "4", "myId": "x1", "a": "id:9 stat:ENROUTE"}, options)
    assert (event.status, event.client_ref, event.raw_message_id) == (Status.SENT, "x1", "9")
    with pytest.raises(ParseError, match="unknown"):
        parse({"type": "1", "ref": "r"}, {"params": {"typo": "x"}})


def test_post_form_is_accepted() -> None:
    body = urlencode(full()).encode()
    request = RawRequest(
        "POST", "/v1/callbacks/kannel", (), {}, body, "application/x-www-form-urlencoded"
    )
    assert ADAPTER.parse_callback(request, {})[0].status is Status.DELIVERED


# ---- ids -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "receipt_id", "submit_id"),
    [
        ({}, "A1B2C3", "a1b2c3"),
        ({"id_format": "hex"}, "0000A1B2", "a1b2"),
        ({"id_format": "decimal"}, "0041394", "41394"),
        ({"id_format": "hex_to_decimal"}, "0000A1B2", "41394"),
        ({"id_format": "decimal_to_hex"}, "41394", "0000A1B2"),
    ],
)
def test_receipt_ids_match_submit_ids(
    options: dict[str, Any], receipt_id: str, submit_id: str
) -> None:
    event = parse({"type": "1", "fid": receipt_id}, options)
    assert event.raw_message_id == receipt_id
    assert event.provider_message_id == ADAPTER.canonical_id(submit_id, options)


def test_registry_and_ack() -> None:
    assert adapters.get("kannel") is ADAPTER
    assert ADAPTER.signature_scheme is None
    assert ADAPTER.acknowledge(get({}), {}) == Ack()
    assert ADAPTER.handshake(get({}), {}) is None


# ---- fuzz ----------------------------------------------------------------------------------

_NAMES = st.sampled_from(["ref", "type", "fid", "kid", "smsc", "to", "from", "ts", "answer", "x"])
_VALUES = st.one_of(
    st.text(max_size=40), st.sampled_from(["1", "2", "16", RECEIPT, "9" * 30, "-1"])
)
_CONTENT_TYPES = st.sampled_from(
    ["", "application/x-www-form-urlencoded", "application/json", "text/plain"]
)


@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=12), st.binary(max_size=300), _CONTENT_TYPES)
def test_fuzz_only_parse_error(
    query: list[tuple[str, str]], body: bytes, content_type: str
) -> None:
    request = RawRequest("POST", "/v1/callbacks/kannel", tuple(query), {}, body, content_type)
    _only_parse_error(request)


@given(st.dictionaries(_NAMES, _VALUES, max_size=9), _CONTENT_TYPES)
def test_fuzz_forms_and_json_only_parse_error(fields: dict[str, str], content_type: str) -> None:
    for body in (urlencode(fields).encode(), json.dumps(fields).encode()):
        _only_parse_error(RawRequest("POST", "/", (), {}, body, content_type))


@pytest.mark.parametrize(
    "body", [b"[" * 5000, b'{"ref": ' + b"1" * 5000 + b"}", b"\xff\xfe", b"=&=&", b"{}", b"[]"]
)
def test_hostile_bodies_only_parse_error(body: bytes) -> None:
    _only_parse_error(RawRequest("POST", "/", (), {}, body, "application/json"))


def _only_parse_error(request: RawRequest) -> None:
    support.only_parse_error(ADAPTER, request)
