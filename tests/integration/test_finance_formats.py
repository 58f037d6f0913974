"""The finance report over HTTP and from the CLI: scopes and bad requests; the CSV and the Excel
workbook say, cell by cell, what the JSON says (numbers as numbers in Excel, with the currency
as the number format, headers frozen); the periods API and commands."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import openpyxl
import pytest
from aiohttp.test_utils import TestClient
from click.testing import CliRunner

from dlrecon.cli import cli
from receiver.db.pool import init_connection
from receiver.settings import Settings
from reconcile import runner
from reconcile.reports import months
from tests.support import auth, make_settings, reconcile_world

FIGURE_COLUMNS = (
    "messages", "delivered", "read", "failed", "expired", "rejected", "pending", "segments",
    "value", "expected_cost", "reported_cost", "invoiced", "margin", "cost", "margin_basis",
    "findings",
    "at_stake", "share_final", "share_priced", "share_invoiced", "share_matched",
    "ledger_balances", "ledger_detail",
)  # fmt: skip
MONEY = {
    "value",
    "expected_cost",
    "reported_cost",
    "invoiced",
    "margin",
    "cost",
    "at_stake",
    "amount",
}


def figure_cells(f: dict[str, Any]) -> list[Any]:
    """A group's or total's row, read from the JSON document."""
    m, c = f["messages"], f["completeness"]
    amounts = [s["amount"] for s in f["at_stake"] if s["amount"] is not None]
    return [
        m["total"], m["delivered"], m["read"], m["failed"], m["expired"], m["rejected"],
        m["pending"], f["segments"], f["value"], f["expected_cost"], f["reported_cost"],
        f["invoiced"], f["margin"], f["cost"], f["margin_basis"],
        sum(s["findings"] for s in f["at_stake"]),
        str(sum(Decimal(a) for a in amounts)) if amounts else None, c["final"], c["priced"],
        c["invoiced"], c["matched"], f["ledger"]["balances"], f["ledger"]["detail"],
    ]  # fmt: skip


def sections(doc: dict[str, Any]) -> dict[str, tuple[list[str], list[list[Any]]]]:
    """Every section as the CSV and the workbook must hold it: header, rows (from the JSON)."""
    keys = doc["group_by"]
    return {
        "Totals": (
            ["currency", *FIGURE_COLUMNS],
            [[t["key"]["currency"], *figure_cells(t)] for t in doc["totals"]],
        ),
        "Groups": (
            [*keys, *FIGURE_COLUMNS],
            [[*(g["key"][k] for k in keys), *figure_cells(g)] for g in doc["groups"]],
        ),
        "At stake": (
            [*keys, "rule", "findings", "amount"],
            [
                [*(g["key"][k] for k in keys), s["rule"], s["findings"], s["amount"]]
                for g in doc["groups"]
                for s in g["at_stake"]
            ],
        ),
        "Findings": (
            ["rule", "currency", "findings", "amount"],
            [[f["rule"], f["currency"], f["findings"], f["amount"]] for f in doc["findings"]],
        ),
        "Daily": (
            ["day", "currency", "messages", "value", "margin"],
            [[d["day"], d["currency"], d["messages"], d["value"], d["margin"]] for d in doc["daily"]],
        ),
        "Adjustments": (
            ["month", "kind", "provider", "currency", "message_id", "invoice_line_id", "field",
             "amount", "count", "reason"],
            [[a["month"], a["kind"], a["provider"], a["currency"], a["message_id"],
              a["invoice_line_id"], a["field"], a["amount"], a["count"], a["reason"]]
             for a in doc["adjustments"]],
        ),
    }  # fmt: skip


def same(column: str, cell: Any, expected: Any) -> bool:
    """A cell (CSV text or an Excel value) says what the JSON says."""
    if expected is None:
        return cell in (None, "")
    if column in MONEY:
        return cell not in (None, "") and Decimal(str(cell)) == Decimal(expected)
    if isinstance(expected, bool):
        return cell in (expected, "true" if expected else "false")
    if isinstance(expected, float):
        return float(cell) == pytest.approx(expected, rel=1e-12)
    if isinstance(expected, int):
        return int(cell) == expected
    if isinstance(cell, datetime):
        return cell.date().isoformat() == expected
    return str(cell) == expected


def check_rows(
    name: str, header: list[str], rows: list[list[Any]], expected: tuple[list[str], list[Any]]
) -> None:
    columns, wanted = expected
    assert header == columns, name
    assert len(rows) == len(wanted), name
    for got, want in zip(rows, wanted, strict=True):
        for column, cell, value in zip(columns, got, want, strict=True):
            assert same(column, cell, value), (name, column, cell, value)


def check_csv(text: str, doc: dict[str, Any]) -> None:
    by_section: dict[str, tuple[list[str], list[list[str]]]] = {}
    current = ""
    for row in csv.reader(io.StringIO(text)):
        if row[0] == "section":
            header = row[1:]
            continue
        current = row[0]
        by_section.setdefault(current, (header, []))[1].append(row[1:])
    expected = sections(doc)
    for name, (columns, rows) in expected.items():
        if not rows:
            assert name not in by_section
            continue
        check_rows(name, by_section[name][0], by_section[name][1], (columns, rows))
    assert set(by_section) <= set(expected)


def check_xlsx(data: bytes, doc: dict[str, Any]) -> None:
    book = openpyxl.load_workbook(io.BytesIO(data))
    expected = sections(doc)
    assert book.sheetnames == ["Summary", *expected]
    for name, (columns, rows) in expected.items():
        sheet = book[name]
        assert sheet.freeze_panes == "A2", name
        values = [list(r) for r in sheet.iter_rows(values_only=True)]
        check_rows(name, [str(c) for c in values[0]], values[1:], (columns, rows))
        for r, row in enumerate(rows, start=2):
            currency = row[columns.index("currency")] if "currency" in columns else None
            for c, column in enumerate(columns, start=1):
                cell = sheet.cell(row=r, column=c)
                if column in MONEY and row[c - 1] is not None:
                    assert isinstance(cell.value, int | float), (name, column, cell.value)
                    if currency:
                        assert f'"{currency}"' in cell.number_format, cell.number_format
                if column.startswith("share_") and row[c - 1] is not None:
                    assert isinstance(cell.value, int | float) and cell.number_format == "0.0%"
    summary = {r[0]: r[1] for r in book["Summary"].iter_rows(min_row=2, values_only=True)}
    assert summary["group by"] == ", ".join(doc["group_by"])


@pytest.fixture
async def planted(conn: asyncpg.Connection, settings: Settings, tmp_path: Path) -> dict[str, str]:
    world = await reconcile_world.build(conn, settings, tmp_path)
    window_from, window_to = world.window
    await runner.reconcile(
        conn,
        window_from=window_from,
        window_to=window_to,
        as_of=None,
        config=reconcile_world.config(),
        requested_by="test",
    )
    return {
        "from": window_from.date().isoformat(),
        "to": (window_to.date() + timedelta(days=1)).isoformat(),
    }


async def test_the_report_over_http_in_every_format(
    client: TestClient,  # type: ignore[type-arg]
    planted: dict[str, str],
) -> None:
    path = "/v1/reports/finance"
    assert (await client.get(path, params=planted)).status == 401
    assert (await client.get(path, params=planted, headers=auth("read"))).status == 403
    finance = auth("finance")
    for bad, message in [
        ({**planted, "group_by": "provider,colour"}, "unknown colour"),
        ({**planted, "to": planted["from"]}, "before or when"),
        ({**planted, "format": "pdf"}, "format"),
        ({"from": "2026-02-30", "to": planted["to"]}, "from"),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "longer than"),
        ({"from": "0001-01-01", "to": "0001-01-02"}, "not between"),
        ({"from": "9999-12-30", "to": "9999-12-31"}, "not between"),
    ]:
        response = await client.get(path, params=bad, headers=finance)
        assert response.status == 400, bad
        assert message in (await response.json())["error"]["message"], bad

    answer = await client.get(path, params=planted, headers=finance)
    assert answer.status == 200
    doc = await answer.json()
    assert doc["report"] == "finance" and doc["run"] is not None
    assert {t["key"]["currency"]: t["value"] for t in doc["totals"]}["SGD"] == "0.9200"

    csv_answer = await client.get(path, params={**planted, "format": "csv"}, headers=finance)
    assert csv_answer.content_type == "text/csv"
    check_csv(await csv_answer.text(), doc)

    xlsx = await client.get(path, params={**planted, "format": "xlsx"}, headers=finance)
    assert xlsx.status == 200 and "spreadsheetml" in xlsx.content_type
    check_xlsx(await xlsx.read(), doc)

    grouped = await client.get(
        path, params={**planted, "group_by": "country", "format": "csv"}, headers=finance
    )
    by_country = await client.get(path, params={**planted, "group_by": "country"}, headers=finance)
    by_country_doc = await by_country.json()
    assert by_country_doc["group_by"] == ["country", "currency"]
    check_csv(await grouped.text(), by_country_doc)

    html = await client.get(path, params={**planted, "format": "html"}, headers=finance)
    assert html.status == 200 and html.content_type == "text/html"
    assert "default-src 'none'" in html.headers["Content-Security-Policy"]
    assert html.headers["X-Content-Type-Options"] == "nosniff"
    assert "<svg" in await html.text()


async def test_periods_over_http(client: TestClient) -> None:  # type: ignore[type-arg]
    finance = auth("finance")
    assert (await client.get("/v1/periods", headers=auth("read"))).status == 403
    assert (await client.post("/v1/periods/2026-01/close", headers=auth("read"))).status == 403
    assert (await (await client.get("/v1/periods", headers=finance)).json()) == {"periods": []}
    this_month = months.name(months.of(datetime.now(UTC).date()))
    last_month = months.name(months.preceding(months.of(datetime.now(UTC).date())))
    assert (await client.post(f"/v1/periods/{this_month}/close", headers=finance)).status == 400
    for bad in ("2026-13", "0000-01", "9999-12", "2026-1", "x"):
        assert (await client.post(f"/v1/periods/{bad}/close", headers=finance)).status == 400
    closed = await client.post(f"/v1/periods/{last_month}/close", headers=finance)
    assert closed.status == 200
    assert (await closed.json())["month"] == last_month
    assert (await client.post(f"/v1/periods/{last_month}/close", headers=finance)).status == 409
    reopen = f"/v1/periods/{last_month}/reopen"
    assert (await client.post(reopen, json={}, headers=finance)).status == 400
    reopened = await client.post(reopen, json={"reason": "a late invoice"}, headers=finance)
    assert reopened.status == 200
    assert (await reopened.json())["reopen_reason"] == "a late invoice"
    assert (await client.post(reopen, json={"reason": "x"}, headers=finance)).status == 409
    listed = (await (await client.get("/v1/periods", headers=finance)).json())["periods"]
    assert [(p["month"], p["state"], len(p["history"])) for p in listed] == [
        (last_month, "open", 1)
    ]


CONFIG = """
[api]
tokens = [{ token = "cli-test-token", scopes = ["admin"] }]
"""


async def _build(database_url: str, tmp: Path) -> dict[str, str]:
    conn = await asyncpg.connect(database_url)
    try:
        await init_connection(conn)
        world = await reconcile_world.build(conn, make_settings(), tmp)
    finally:
        await conn.close()
    window_from, window_to = world.window
    return {
        "from": window_from.date().isoformat(),
        "to": (window_to.date() + timedelta(days=1)).isoformat(),
    }


def test_report_and_period_commands(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    window = asyncio.run(_build(database_url, tmp_path))
    config = tmp_path / "dlrecon.toml"
    config.write_text(CONFIG)
    monkeypatch.setenv("DATABASE_URL", database_url)

    def run(*args: str) -> tuple[int, str, str]:
        result = CliRunner().invoke(cli, ["--config", str(config), *args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.stdout, result.stderr

    span = ("--from", window["from"], "--to", window["to"])
    code, out, _ = run("report", "finance", *span, "--format", "json")
    assert code == 0
    doc = json.loads(out)
    totals = {t["key"]["currency"]: t for t in doc["totals"]}
    assert totals["SGD"]["value"] == "0.9200" and totals["SGD"]["invoiced"] == "0.4950"
    assert doc["run"] is None  # no run: no amounts at stake
    csv_file, xlsx_file = tmp_path / "r.csv", tmp_path / "r.xlsx"
    assert run("report", "finance", *span, "--format", "csv", "--output", str(csv_file))[0] == 0
    check_csv(csv_file.read_text(), doc)
    assert run("report", "finance", *span, "--format", "xlsx", "--output", str(xlsx_file))[0] == 0
    check_xlsx(xlsx_file.read_bytes(), doc)
    code, out, _ = run("report", "finance", *span, "--group-by", "provider")
    assert code == 0 and "Totals:" in out and "Groups:" in out and "0.9200" in out
    code, _, err = run("report", "finance", *span, "--group-by", "colour")
    assert code == 1 and "unknown colour" in err

    last_month = months.name(months.preceding(months.of(datetime.now(UTC).date())))
    code, out, _ = run("period", "close", last_month, "--by", "carol")
    assert code == 0 and f"{last_month} closed by carol" in out
    code, _, err = run("period", "close", last_month)
    assert code == 1 and "already closed" in err
    code, out, _ = run("period", "list", "--format", "json")
    [listed] = json.loads(out)
    assert (listed["month"], listed["state"], listed["closing"]["closed_by"]) == (
        last_month,
        "closed",
        "carol",
    )
    code, out, _ = run("period", "reopen", last_month, "--reason", "late DLRs", "--by", "dan")
    assert code == 0 and "reopened by dan: late DLRs" in out
    code, out, _ = run("period", "list")
    assert code == 0 and "open" in out and "late DLRs" in out
