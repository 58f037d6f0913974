"""The shared SMPP receipt parser, its code tables and id canonicalisation."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver import adapters
from receiver.adapters import _smpp_receipt as smpp
from receiver.adapters import codes
from receiver.adapters.base import ParseError
from receiver.model import ErrorClass, Status
from tests.unit import adapter_support as support


def smpp_examples() -> list[dict[str, Any]]:
    examples: list[dict[str, Any]] = support.corpus("smpp_dlr.json")["examples"]
    return examples


# ---- corpus examples --------------------------------------------------------------------

EXPECTED: dict[str, dict[str, Any]] = {
    # description prefix -> expected fields
    "Format template": {
        "id": "IIIIIIIIII",
        "sub": "SSS",
        "stat": "DDDDDDD",
        "err": "E",
        "text": ". . . . . . . . .",
        "done_date": "YYMMDDhhmm",
    },
    "Jasmin test: standard receipt": {
        "id": "1891273321",
        "sub": "001",
        "dlvrd": "001",
        "submit_date": "1305050826",
        "done_date": "1305050826",
        "stat": "DELIVRD",
        "err": "000",
        "text": "DLVRD TO MOBILE",
    },
    "Jasmin test: empty text": {"id": "1891273321", "stat": "DELIVRD", "err": "000", "text": None},
    "Jasmin test #70": {
        "id": "a29f6845555647139e5c8f3b817f2c9a",
        "submit_date": "141023215253",
        "done_date": "141023215259",
        "stat": "DELIVRD",
        "text": "HOLA",
    },
    "Jasmin test #153": {
        "id": "4a38dc46-5125-4969-90be-72104c340d5c",
        "done_date": "150519232657",
        "stat": "DELIVRD",
        "text": "-",
    },
}


def _expected(description: str) -> dict[str, Any]:
    for prefix, fields in EXPECTED.items():
        if description.startswith(prefix):
            return fields
    raise AssertionError(f"corpus example without expectations: {description}")


@pytest.mark.parametrize("index", range(5))
def test_every_corpus_example_parses(index: int) -> None:
    examples = smpp_examples()
    assert len(examples) == len(EXPECTED), "a new corpus example needs expectations here"
    example = examples[index]
    receipt = smpp.parse_receipt(example["body_verbatim"])
    for key, value in _expected(example["description"]).items():
        assert getattr(receipt, key) == value, key


def test_corpus_dates_10_and_12_digits() -> None:
    receipt = smpp.parse_receipt(smpp_examples()[1]["body_verbatim"])
    assert smpp.receipt_time(receipt.done_date, {}) == datetime(2013, 5, 5, 8, 26, tzinfo=UTC)
    clickatell = smpp.parse_receipt(smpp_examples()[3]["body_verbatim"])
    assert smpp.receipt_time(clickatell.done_date, {}) == datetime(
        2014, 10, 23, 21, 52, 59, tzinfo=UTC
    )
    template = smpp.parse_receipt(smpp_examples()[0]["body_verbatim"])
    assert smpp.receipt_time(template.done_date, {}) is None


def test_every_corpus_status_is_mapped() -> None:
    for row in support.corpus("smpp_dlr.json")["statuses"]:
        info = smpp.stat_info(row["value"])
        assert info.error_class is not ErrorClass.UNKNOWN, row["value"]
        if row["final"] is True and row["value"] != "ACCEPTD":
            assert info.status.final, row["value"]
        if row["final"] is False:
            assert not info.status.final, row["value"]


# ---- docs/design.md mapping----------------------------------------------------------------


@pytest.mark.parametrize(
    ("stat", "status"),
    [
        ("DELIVRD", Status.DELIVERED),
        ("EXPIRED", Status.EXPIRED),
        ("DELETED", Status.FAILED),
        ("UNDELIV", Status.FAILED),
        ("ACCEPTD", Status.SENT),
        ("UNKNOWN", Status.UNKNOWN),
        ("REJECTD", Status.REJECTED),
        ("ENROUTE", Status.SENT),
        ("SCHEDLD", Status.ACCEPTED),
        ("SKIPPED", Status.FAILED),
        ("delivrd", Status.DELIVERED),
    ],
)
def test_stat_mapping(stat: str, status: Status) -> None:
    assert smpp.stat_info(stat).status is status


def test_unmapped_stat_is_kept_raw() -> None:
    info = smpp.stat_info("WEIRDST")
    assert (info.code, info.status, info.error_class) == (
        "WEIRDST",
        Status.UNKNOWN,
        ErrorClass.UNKNOWN,
    )


def test_message_state_table_agrees_with_stat_table() -> None:
    states = [
        "SCHEDLD",
        "ENROUTE",
        "DELIVRD",
        "EXPIRED",
        "DELETED",
        "UNDELIV",
        "ACCEPTD",
        "UNKNOWN",
        "REJECTD",
        "SKIPPED",
    ]  # message_state 0..9
    table = codes.load("smpp")
    for number, stat in enumerate(states):
        state = table.lookup("message_state", number)
        assert state is not None
        assert state.status is smpp.stat_info(stat).status, stat


def test_command_status_table() -> None:
    assert smpp.command_status_info("ESME_ROK").status is Status.SENT
    assert smpp.command_status_info("ESME_ROK").error_class is None
    rows = codes.load("smpp").tables["command_status"]
    assert len(rows) == 48  # every command_status of SMPP 3.4 section 5.1.3
    for name, info in rows.items():
        assert info.description.startswith("0x"), name
        if name != "ESME_ROK":
            assert info.status is Status.REJECTED and info.error_class is not None, name
    assert smpp.command_status_info("ESME_RTHROTTLED").retryable
    unknown = smpp.command_status_info("ESME_RSOMETHINGNEW")
    assert (unknown.status, unknown.error_class) == (Status.REJECTED, ErrorClass.UNKNOWN)


def test_every_table_row_is_described() -> None:
    for name in ("smpp", "kannel"):
        for table in codes.load(name).tables.values():
            assert all(info.description for info in table.values())


# ---- variants ----------------------------------------------------------------------------


def test_unpadded_fields() -> None:
    receipt = smpp.parse_receipt(
        "id:42 sub:1 dlvrd:1 submit date:2401021530 done date:2401021531 stat:DELIVRD err:0 text:hi"
    )
    assert (receipt.id, receipt.sub, receipt.dlvrd, receipt.err) == ("42", "1", "1", "0")


def test_capital_text_key_and_keys_in_any_case() -> None:
    receipt = smpp.parse_receipt(
        "ID:42 Sub:001 DLVRD:001 Submit Date:2401021530 Done Date:2401021531"
        " Stat:undeliv Err:001 Text:Hello"
    )
    assert (receipt.id, receipt.stat, receipt.err, receipt.text) == (
        "42",
        "UNDELIV",
        "001",
        "Hello",
    )
    assert receipt.submit_date == "2401021530"


def test_missing_fields() -> None:
    receipt = smpp.parse_receipt("id:42 stat:EXPIRED")
    assert receipt == smpp.Receipt(id="42", stat="EXPIRED")
    assert smpp.parse_receipt("stat:DELIVRD err:000").id is None
    assert smpp.parse_receipt("id:7").stat is None


def test_trailing_nul_and_whitespace() -> None:
    receipt = smpp.parse_receipt("id:42 sub:001 dlvrd:001 stat:DELIVRD err:000 text:abc\x00\x00 \n")
    assert receipt.text == "abc"
    assert smpp.parse_receipt("id:42 stat:DELIVRD\x00").stat == "DELIVRD"


def test_field_order_is_free_before_text() -> None:
    receipt = smpp.parse_receipt("stat:DELIVRD err:000 id:42 done date:2401021531 sub:001 text:x")
    assert (receipt.id, receipt.stat, receipt.done_date, receipt.text) == (
        "42",
        "DELIVRD",
        "2401021531",
        "x",
    )


def test_text_is_last_and_cannot_fake_a_status() -> None:
    receipt = smpp.parse_receipt("id:42 stat:UNDELIV err:001 text:stat:DELIVRD id:99")
    assert (receipt.id, receipt.stat, receipt.text) == ("42", "UNDELIV", "stat:DELIVRD id:99")


def test_first_occurrence_wins_and_noise_after_value_is_dropped() -> None:
    receipt = smpp.parse_receipt("id:42 extra words stat:DELIVRD stat:UNDELIV")
    assert (receipt.id, receipt.stat) == ("42", "DELIVRD")


def test_underscore_date_keys() -> None:
    receipt = smpp.parse_receipt("id:1 submit_date:2401021530 done_date:2401021531 stat:DELIVRD")
    assert (receipt.submit_date, receipt.done_date) == ("2401021530", "2401021531")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "hello world",
        "ACK/",
        "NACK/0x00000045/Submit failed",
        "text:stat:DELIVRD id:1",
        "\x00",
    ],
)
def test_not_a_receipt(text: str) -> None:
    with pytest.raises(ParseError):
        smpp.parse_receipt(text)


def test_non_string_is_a_parse_error() -> None:
    with pytest.raises(ParseError):
        smpp.parse_receipt(b"id:1 stat:DELIVRD")  # type: ignore[arg-type]


def test_details_leave_the_message_text_out() -> None:
    details = smpp.parse_receipt(smpp_examples()[1]["body_verbatim"]).details()
    assert details == {
        "receipt_id": "1891273321",
        "sub": "001",
        "dlvrd": "001",
        "submit_date": "1305050826",
        "done_date": "1305050826",
        "err": "000",
    }


# ---- dates and errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "13050508",
        "1313050826",
        "130505082",
        "abcdefghij",
        "".join(chr(0xFF10 + int(d)) for d in "1305050826"),  # full-width digits
        "1305050860",
    ],
)
def test_unusable_dates_are_none(raw: str | None) -> None:
    assert smpp.receipt_time(raw, {}) is None


def test_receipt_utc_offset_option() -> None:
    when = smpp.receipt_time("2401021530", {"receipt_utc_offset": "+03:00"})
    assert when == datetime(2024, 1, 2, 15, 30, tzinfo=timezone(timedelta(hours=3)))
    assert when is not None and when.astimezone(UTC).hour == 12
    west = smpp.receipt_time("2401021530", {"receipt_utc_offset": "-0430"})
    assert west is not None and west.utcoffset() == -timedelta(hours=4, minutes=30)
    assert smpp.receipt_time("2401021530", {"receipt_utc_offset": "UTC"}) == datetime(
        2024, 1, 2, 15, 30, tzinfo=UTC
    )
    with pytest.raises(ParseError, match="receipt_utc_offset"):
        smpp.receipt_time("2401021530", {"receipt_utc_offset": "Europe/Berlin"})


@pytest.mark.parametrize(
    ("err", "code"),
    [(None, None), ("000", None), ("0", None), ("001", "001"), ("0x0B", "0x0B"), ("69", "69")],
)
def test_error_code(err: str | None, code: str | None) -> None:
    assert smpp.error_code(err) == code


# ---- ids -----------------------------------------------------------------------------------


def test_as_is_default_strips_and_lowercases() -> None:
    assert smpp.canonical_submit_id(" A1B2-C3\x00 ", {}) == "a1b2-c3"
    assert smpp.canonical_receipt_id("A1B2-C3", {}) == "a1b2-c3"
    # as_is keeps leading zeros: they may be significant
    assert smpp.canonical_receipt_id("0000A1B2", {}) != smpp.canonical_submit_id("a1b2", {})


def test_id_case_option() -> None:
    assert smpp.canonical_submit_id("AbC", {"id_case": "preserve"}) == "AbC"
    assert smpp.canonical_submit_id("AbC", {"id_case": "upper"}) == "ABC"
    with pytest.raises(ParseError, match="id_case"):
        smpp.canonical_submit_id("AbC", {"id_case": "title"})


def test_hex_mode_matches_case_and_padding() -> None:
    options = {"id_format": "hex"}
    assert (
        smpp.canonical_receipt_id("0000A1B2", options)
        == smpp.canonical_submit_id("a1b2", options)
        == "a1b2"
    )
    assert smpp.canonical_submit_id("0000", options) == "0"
    assert smpp.canonical_submit_id("not-hex", options) == "not-hex"


def test_decimal_mode_strips_leading_zeros() -> None:
    options = {"id_format": "decimal"}
    assert smpp.canonical_receipt_id("0001891273321", options) == smpp.canonical_submit_id(
        "1891273321", options
    )
    assert smpp.canonical_submit_id("000", options) == "0"
    assert smpp.canonical_submit_id("AB-1", options) == "ab-1"  # not decimal: as_is


def test_hex_to_decimal_mode() -> None:
    options = {"id_format": "hex_to_decimal"}  # receipts carry hex, the submit answer decimal
    assert smpp.canonical_receipt_id("0000A1B2", options) == "41394"
    assert smpp.canonical_submit_id("0041394", options) == "41394"
    assert smpp.canonical_receipt_id("uuid-like-id", options) == "uuid-like-id"


def test_decimal_to_hex_mode() -> None:
    options = {"id_format": "decimal_to_hex"}  # receipts carry decimal, the submit answer hex
    assert (
        smpp.canonical_receipt_id("41394", options)
        == smpp.canonical_submit_id("0000A1B2", options)
        == "a1b2"
    )
    assert smpp.canonical_receipt_id("x41394", options) == "x41394"


def test_huge_numeric_ids_are_kept_as_text() -> None:
    huge = "9" * 5000  # int() would refuse this many digits
    for fmt in smpp.ID_FORMATS:
        assert smpp.canonical_receipt_id(huge, {"id_format": fmt}) in (huge, huge.lower())


def test_unknown_id_format_is_a_parse_error() -> None:
    with pytest.raises(ParseError, match="id_format"):
        smpp.canonical_submit_id("1", {"id_format": "base64"})


def test_helper_module_is_not_an_adapter() -> None:
    assert "_smpp_receipt" not in adapters.names()
    assert {"kannel", "jasmin"} <= set(adapters.names())


# ---- options -------------------------------------------------------------------------------


def test_param_names() -> None:
    defaults = {"ref": "ref", "type": "type"}
    assert smpp.param_names({}, defaults) == defaults
    assert smpp.param_names({"params": {"ref": "myId"}}, defaults) == {
        "ref": "myId",
        "type": "type",
    }
    with pytest.raises(ParseError, match="unknown"):
        smpp.param_names({"params": {"nope": "x"}}, defaults)
    with pytest.raises(ParseError):
        smpp.param_names({"params": "ref=myId"}, defaults)


@pytest.mark.parametrize(
    "value", [None, "", "abc", "1700000000", "9" * 30, "-1", "2024-01-02T03:04:05Z"]
)
def test_epoch_time_never_raises(value: str | None) -> None:
    smpp.epoch_time(value)


# ---- fuzz ----------------------------------------------------------------------------------

_PIECES = st.sampled_from(
    ["id:", "sub:", "dlvrd:", "submit date:", "done date:", "stat:", "err:", "text:", "Text:",
     "DELIVRD", "0000A1B2", "2401021530", "241302153059", " ", "\x00", "::", "é", "\u2028"]
)  # fmt: skip


@given(st.text())
def test_fuzz_any_text_only_parse_error(text: str) -> None:
    _only_parse_error(text)


@given(st.lists(st.one_of(_PIECES, st.text(max_size=5)), max_size=30).map("".join))
def test_fuzz_receipt_like_text_only_parse_error(text: str) -> None:
    _only_parse_error(text)


def _only_parse_error(text: str) -> None:
    try:
        receipt = smpp.parse_receipt(text)
    except ParseError:
        return
    assert receipt.id is not None or receipt.stat is not None
    smpp.receipt_time(receipt.done_date, {})
    smpp.stat_info(receipt.stat or "")
    smpp.error_code(receipt.err)
    assert receipt.stat is None or re.fullmatch(r"\S+", receipt.stat)


@given(st.text(), st.sampled_from(smpp.ID_FORMATS), st.sampled_from(smpp.ID_CASES))
def test_fuzz_ids_never_raise(raw: str, fmt: str, case: str) -> None:
    options = {"id_format": fmt, "id_case": case}
    submit = smpp.canonical_submit_id(raw, options)
    receipt = smpp.canonical_receipt_id(raw, options)
    # canonical forms are stable: canonicalising again changes nothing
    assert smpp.canonical_submit_id(submit, options) == submit
    if fmt in ("as_is", "decimal", "hex"):
        assert receipt == submit
