"""Pure parts of reconciliation: durations and invoice layouts in the configuration, date
formats, the CSV feed's line numbers and refusals, the run's configuration snapshot."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from dlrecon.settings import Settings
from reconcile import dates
from reconcile.csvfeed import Feed, FileError, find_columns
from reconcile.durations import parse_duration
from reconcile.settings import InvoiceMapping, ReconcileConfig


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("1h30m", 5400), ("3d", 259200), (45, 45), ("250ms", 0.25)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "1x", "h", "1h 2", "-1h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_invoice_mapping_refuses_unknown_fields_zones_and_formats() -> None:
    with pytest.raises(ValidationError, match="unknown field"):
        InvoiceMapping(columns={"price": "Price"})
    with pytest.raises(ValidationError, match="time zone"):
        InvoiceMapping(timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="%Q is not supported"):
        InvoiceMapping(date_format="%d/%m/%Y %Q")
    with pytest.raises(ValidationError, match="needs a year"):
        InvoiceMapping(date_format="%H:%M")


def test_date_patterns_number_their_groups() -> None:
    pattern = dates.pattern("%d/%m/%Y %H:%M")
    assert pattern.groups == (3, 2, 1, 4, 5, 0, 0, 0, 0)
    assert dates.pattern("%y%m%d").groups[-1] == 1  # the two-digit year


def test_the_run_configuration_snapshot() -> None:
    settings = Settings(
        reconcile={"stuck_after": "2h", "cost_tolerance_relative": "0.02"},
        providers={
            "velip": {
                "verify": "off",
                "stuck_after": {"sms": "30m"},
                "cost_tolerance_absolute": "0.001",
            },
            "geniq": {"verify": "off", "stuck_after": "10m"},
        },
    )
    config = ReconcileConfig.of(settings).run_config()
    assert config["stuck"] == {
        "configured": {"geniq": {"*": 600.0}, "velip": {"sms": 1800.0}},
        "default_after_seconds": 7200.0,
        "min_samples": 100,
    }
    assert config["defaults"] == {
        "cost_tolerance_absolute": "0.0001",
        "cost_tolerance_relative": "0.02",
    }
    assert config["providers"] == {"velip": {"cost_tolerance_absolute": "0.001"}}
    assert Decimal(config["defaults"]["cost_tolerance_relative"]) == Decimal("0.02")


def _rows(path: Path, fields: tuple[str, ...], required: tuple[str, ...] = ()) -> list[list[str]]:
    feed = Feed(path)
    try:
        header = find_columns(feed.header(), fields, {}, required)
        data = b"".join(feed.chunks(header)).decode()
    finally:
        feed.close()
    return list(csv.reader(io.StringIO(data)))


def test_the_feed_numbers_records_by_their_first_line_and_refuses_unreadable_ones(
    tmp_path: Path,
) -> None:
    path = tmp_path / "f.csv"
    path.write_bytes(
        b"\xef\xbb\xbfa,B , c\n"  # a BOM, headers matched without case and blanks
        b"1,2,3\n"
        b"\n"  # blank: skipped
        b'4,"multi\nline",6\n'  # a quoted newline: one record, numbered by its first line
        b"7,8\n"  # short: its field count tells
        b"9,\xff,9\n"  # not UTF-8
        b"10,11,12\n"
    )
    rows = _rows(path, ("a", "b", "c"))
    assert rows == [
        ["2", "3", "", "1", "2", "3"],
        ["4", "3", "", "4", "multi\nline", "6"],
        ["6", "2", "", "7", "8", ""],
        ["8", "3", "", "10", "11", "12"],
        ["7", "0", "not valid utf-8 text", "", "", ""],
    ]


def test_the_feed_needs_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "f.csv"
    path.write_text("x,y\n1,2\n")
    with pytest.raises(FileError, match="column"):
        _rows(path, ("a", "x"), required=("a",))
