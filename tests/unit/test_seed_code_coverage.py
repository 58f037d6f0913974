"""Every code in the seed provider documents has a complete row in its adapter's code table."""

from __future__ import annotations

import re
import tomllib
from importlib import resources
from typing import Any

import pytest

from receiver.adapters import codes
from receiver.model import ErrorClass, Status
from tests import support

SEEDS = support.SEEDS  # a copy of shared/providers/seeds; must be there

GENIQ_TABLES = {  # the title line above each "…CodeDescription" header -> TOML table
    "Response Codes": "response",
    "Reason Codes": "reason",
    "Manage WhatsApp Template Response Codes": "template",
}
GENIQ_LATER_ADDITIONS = ("20", "23", "24")  # responseCodes of later doc versions (README)
HELLIO_ROW = re.compile(r"^([a-z_]+) \| (\d{3}) \| (.+?) \|$")


def seed(prefix: str) -> str:
    [path] = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text(encoding="utf-8")


def velip_codes(text: str) -> list[str]:
    """Codes of the `| Code | status |` tables (rows `NNN |`; a line without `|` ends a table)."""
    found, in_table = [], False
    for line in text.splitlines():
        if line.startswith("| Code | status |"):
            in_table = True
        elif in_table and not line.rstrip().endswith("|"):
            in_table = False
        elif in_table and (match := re.fullmatch(r"(\d+) \|", line.strip())):
            found.append(match.group(1))
    return found


def geniq_codes(text: str) -> dict[str, dict[str, str]]:
    """Per table, `code -> description` from lines such as `131001Message length…`."""
    tables: dict[str, dict[str, str]] = {}
    title, current = "", None
    for line in (raw.strip() for raw in text.splitlines()):
        if line in GENIQ_TABLES:
            title = line
        elif line.endswith("CodeDescription"):
            current = tables.setdefault(GENIQ_TABLES[title], {})
        elif not line:
            current = None
        elif current is not None and (match := re.fullmatch(r"(\d+)(\D.*)", line)):
            current[match.group(1)] = match.group(2)
    return tables


def hellio_codes(text: str) -> dict[str, int]:
    """`error code -> HTTP status` from the `| Code | Status | …` rows."""
    return {
        m.group(1): int(m.group(2))
        for line in text.splitlines()
        if (m := HELLIO_ROW.match(line.strip()))
    }


def raw_rows(provider: str) -> dict[str, Any]:
    text = resources.files("receiver.adapters").joinpath(f"codes/{provider}.toml").read_text()
    return tomllib.loads(text)


def assert_complete(provider: str, table: str, code: str) -> None:
    [row] = [r for r in raw_rows(provider)[table] if str(r["code"]) == code]
    assert isinstance(row.get("retryable"), bool), (provider, table, code)
    assert row.get("description"), (provider, table, code)
    status = Status(row["status"])
    if status.failure:
        assert ErrorClass(row["error_class"]), (provider, table, code)


@pytest.mark.parametrize(("prefix", "minimum"), [("000", 35), ("002", 12)])
def test_velip_seed_codes_are_mapped(prefix: str, minimum: int) -> None:
    found = velip_codes(seed(prefix))
    assert len(found) >= minimum  # the parser really reads the tables
    missing = [c for c in found if codes.load("velip").lookup("status_code", c) is None]
    assert not missing
    for code in found:
        assert_complete("velip", "status_code", code)


def test_velip_success_and_waiting_codes_are_mapped() -> None:
    table = codes.load("velip")
    for code, status in (("0", Status.ACCEPTED), ("1", Status.SUBMITTED)):
        info = table.lookup("status_code", code)
        assert info is not None and info.status is status


def test_geniq_seed_codes_are_mapped_with_the_seed_descriptions() -> None:
    found = geniq_codes(seed("001"))
    for name, minimum in (("response", 23), ("reason", 15), ("template", 25)):
        assert len(found.get(name, {})) >= minimum, name  # the parser really reads the tables
    table = codes.load("geniq")
    for name, rows in found.items():
        for code, description in rows.items():
            info = table.lookup(name, code)
            assert info is not None, (name, code)
            assert info.description == description, (name, code)
            assert_complete("geniq", name, code)
    for code in GENIQ_LATER_ADDITIONS:
        assert table.lookup("response", code) is not None
        assert_complete("geniq", "response", code)


def test_hellio_seed_codes_are_mapped_with_their_http_status() -> None:
    found = hellio_codes(seed("004"))
    assert len(found) >= 13
    rows = {r["code"]: r for r in raw_rows("hellio")["error"]}
    for code, http in found.items():
        assert code in rows, code
        assert rows[code]["http"] == http, code
        assert_complete("hellio", "error", code)
    for http in sorted(set(found.values())):
        assert codes.load("hellio").lookup("http", str(http)) is not None, http


def test_parsers_find_nothing_in_unrelated_text() -> None:
    # guards the regexes above: the HTTP table of seed 000 is not a code table
    assert "400" not in velip_codes(seed("000"))
    assert velip_codes("200 |\n| Code | status |\nOops\n300 |") == []
