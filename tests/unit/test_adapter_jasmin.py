"""Jasmin HTTP DLRs."""

from __future__ import annotations

import ast
import json
import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver import adapters
from receiver.adapters.base import ParseError
from receiver.adapters.jasmin import ADAPTER
from receiver.model import Channel, ErrorClass, Event, RawRequest, Status
from tests.unit import adapter_support as support

FORM = "application/x-www-form-urlencoded"
JASMIN_ID = "16fd2706-8baf-433b-82eb-8c7fada847da"


def corpus() -> dict[str, Any]:
    return support.corpus("jasmin.json")


def post(body: bytes | str, query: tuple[tuple[str, str], ...] = ()) -> RawRequest:
    raw = body.encode() if isinstance(body, str) else body
    return RawRequest("POST", "/v1/callbacks/jasmin", query, {}, raw, FORM)


def get(fields: dict[str, str]) -> RawRequest:
    return RawRequest("GET", "/v1/callbacks/jasmin", tuple(fields.items()), {}, b"")


def parse(request: RawRequest, options: dict[str, Any] | None = None) -> Event:
    events = ADAPTER.parse_callback(request, options or {})
    assert len(events) == 1
    return events[0]


def level2(**overrides: str) -> dict[str, str]:
    """A level-2 DLR with every documented parameter, values from the Jasmin docs."""
    fields = {
        "id": JASMIN_ID,
        "id_smsc": "2567",
        "message_status": "DELIVRD",
        "level": "2",
        "connector": "smsc-a",
        "subdate": "1311022338",
        "donedate": "1311022339",
        "sub": "001",
        "dlvrd": "001",
        "err": "000",
        "text": "Hello foo bar",
    }
    fields.update(overrides)
    return fields


# ---- corpus --------------------------------------------------------------------------------


def test_corpus_ack_body() -> None:
    expected = corpus()["examples"][0]["body_verbatim"]
    ack = ADAPTER.acknowledge(post(""), {})
    assert (ack.status, ack.body) == (200, expected.encode())


def test_corpus_courier_post() -> None:
    event = parse(post(corpus()["examples"][1]["body_verbatim"]))
    assert event.status is Status.DELIVERED
    assert (event.raw_message_id, event.provider_message_id, event.raw_status) == (
        "external1",
        "external1",
        "DELIVRD",
    )
    assert event.details == {"dlvrd": "001"}
    assert event.channel is Channel.SMS


def test_corpus_examples_are_all_covered() -> None:
    assert len(corpus()["examples"]) == 2, "a new corpus example needs a test here"


def test_corpus_level1_statuses() -> None:
    ok = parse(get({"id": JASMIN_ID, "message_status": "ESME_ROK", "level": "1", "connector": "c"}))
    assert (ok.status, ok.error_code, ok.status.final) == (Status.SENT, None, False)
    bad = parse(get({"id": JASMIN_ID, "message_status": "ESME_RINVNUMDESTS", "level": "1"}))
    assert (bad.status, bad.error_code, bad.error_class) == (
        Status.REJECTED,
        "ESME_RINVNUMDESTS",
        ErrorClass.VALIDATION,
    )
    assert bad.status.final
    assert bad.details == {"level": "1"}


def test_corpus_level2_states_and_jasmin_finality() -> None:
    statuses = corpus()["statuses"]
    stats = statuses[2]["value"].split(" / ")
    found = re.search(r"final_states = (\[.*?\])", statuses[2]["final"])
    assert found is not None
    final_states = ast.literal_eval(found.group(1))
    assert set(final_states) <= set(stats)
    for stat in stats:
        event = parse(get(level2(message_status=stat)))
        assert event.status is not Status.UNKNOWN or stat == "UNKNOWN"
        # Jasmin: ACCEPTD is success but not final; UNKNOWN is ours to poll
        assert event.status.final is (stat in final_states), stat


def test_corpus_every_documented_param_is_read() -> None:
    params = corpus()["params"]
    documented = {p.split(" ")[0] for p in params["always"] + params["level_2_3_only"]}
    assert documented == set(level2())
    event = parse(get(level2()))
    assert event.status is Status.DELIVERED
    assert (event.raw_message_id, event.provider_message_id) == (JASMIN_ID, JASMIN_ID)
    assert event.provider_time == datetime(2013, 11, 2, 23, 39, tzinfo=UTC)
    assert event.error_code is None
    assert event.details == {
        "level": "2",
        "connector": "smsc-a",
        "receipt_id": "2567",
        "smsc_message_id": "2567",
        "sub": "001",
        "dlvrd": "001",
        "submit_date": "1311022338",
        "done_date": "1311022339",
        "err": "000",
    }


# ---- behaviour -----------------------------------------------------------------------------


def test_post_form_and_get_give_the_same_event() -> None:
    assert parse(post(urlencode(level2()))) == parse(get(level2()))


def test_error_code_from_err() -> None:
    event = parse(get(level2(message_status="UNDELIV", err="069")))
    assert (event.status, event.error_code, event.error_class) == (
        Status.FAILED,
        "069",
        ErrorClass.RECIPIENT,
    )


def test_level3_sends_both_kinds() -> None:
    assert (
        parse(get({"id": JASMIN_ID, "message_status": "ESME_ROK", "level": "3"})).status
        is Status.SENT
    )
    assert parse(get(level2(level="3", message_status="EXPIRED"))).status is Status.EXPIRED


def test_unknown_submit_status_is_a_rejection_kept_raw() -> None:
    event = parse(get({"id": JASMIN_ID, "message_status": "ESME_RNEWTHING", "level": "1"}))
    assert (event.status, event.error_class, event.error_code) == (
        Status.REJECTED,
        ErrorClass.UNKNOWN,
        "ESME_RNEWTHING",
    )


def test_unknown_receipt_stat_is_kept_raw() -> None:
    event = parse(get(level2(message_status="WEIRDST")))
    assert (event.status, event.error_class, event.raw_status) == (
        Status.UNKNOWN,
        ErrorClass.UNKNOWN,
        "WEIRDST",
    )


def test_lowercase_status() -> None:
    assert parse(get(level2(message_status="delivrd"))).status is Status.DELIVERED
    assert parse(get({"id": "x", "message_status": "esme_rok"})).status is Status.SENT


def test_client_ref_from_the_dlr_url_query() -> None:
    event = parse(post(urlencode(level2()), query=(("ref", "order-7"),)))
    assert event.client_ref == "order-7"
    renamed = parse(
        post(urlencode(level2()), query=(("myId", "order-8"),)), {"params": {"ref": "myId"}}
    )
    assert renamed.client_ref == "order-8"


def test_ids_are_case_folded_and_smsc_id_canonicalised() -> None:
    event = parse(
        get(level2(id=JASMIN_ID.upper(), id_smsc="0000A1B2")), {"id_format": "hex_to_decimal"}
    )
    assert event.provider_message_id == JASMIN_ID == ADAPTER.canonical_id(JASMIN_ID.upper(), {})
    assert event.details["smsc_message_id"] == "41394"
    assert event.details["receipt_id"] == "0000A1B2"


def test_receipt_time_offset_option() -> None:
    event = parse(get(level2()), {"receipt_utc_offset": "+01:00"})
    assert event.provider_time == datetime(2013, 11, 2, 22, 39, tzinfo=UTC)


@pytest.mark.parametrize(
    ("fields", "reason"),
    [({"message_status": "DELIVRD"}, "missing id"), ({"id": "x"}, "missing message_status"),
     ({"id": " ", "message_status": "DELIVRD"}, "missing id")],
)  # fmt: skip
def test_missing_fields(fields: dict[str, str], reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse(get(fields))


def test_registry() -> None:
    assert adapters.get("jasmin") is ADAPTER
    assert ADAPTER.signature_scheme is None
    assert ADAPTER.handshake(get({}), {}) is None


# ---- fuzz ----------------------------------------------------------------------------------

_NAMES = st.sampled_from([*level2(), "ref", "x"])
_VALUES = st.one_of(
    st.text(max_size=40), st.sampled_from(["ESME_ROK", "DELIVRD", "1311022338", "9" * 30, ""])
)
_CONTENT_TYPES = st.sampled_from(["", FORM, "application/json", "text/plain"])


@given(st.lists(st.tuples(_NAMES, _VALUES), max_size=12), st.binary(max_size=300), _CONTENT_TYPES)
def test_fuzz_only_parse_error(
    query: list[tuple[str, str]], body: bytes, content_type: str
) -> None:
    _only_parse_error(RawRequest("POST", "/", tuple(query), {}, body, content_type))


@given(st.dictionaries(_NAMES, _VALUES, max_size=12), _CONTENT_TYPES)
def test_fuzz_forms_and_json_only_parse_error(fields: dict[str, str], content_type: str) -> None:
    for body in (urlencode(fields).encode(), json.dumps(fields).encode()):
        _only_parse_error(RawRequest("POST", "/", (), {}, body, content_type))


def _only_parse_error(request: RawRequest) -> None:
    for event in support.only_parse_error(ADAPTER, request):
        assert event.provider_message_id
