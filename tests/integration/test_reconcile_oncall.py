"""Reconciliation as on-call sees it: the findings that name a message in its trace (API, CLI,
trace page), the findings still to deal with on /ops, and the runs and findings on /metrics."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import asyncpg
import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from dlrecon.cli.messages import render_trace
from receiver.settings import Settings
from receiver.views import MessageView
from reconcile import runner
from reconcile.db import findings as finding_store
from tests.support import auth, make_settings, reconcile_world


@pytest.fixture
def settings() -> Settings:
    return make_settings(oncall={"processes": 0, "refresh_every": "1s"})


async def _reconciled(conn: asyncpg.Connection, settings: Settings, tmp: Path) -> int:
    world = await reconcile_world.build(conn, settings, tmp)
    window_from, window_to = world.window
    await runner.reconcile(
        conn,
        window_from=window_from,
        window_to=window_to,
        as_of=None,
        config=reconcile_world.config(),
        requested_by="test",
    )
    return world.messages["na"]  # Velip's NA pass-through: a downstream failure


async def test_a_message_trace_names_its_findings(
    client: TestClient, conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    message_id = await _reconciled(conn, settings, tmp_path)
    expected = await finding_store.of_message(conn, message_id)
    assert {f["rule"] for f in expected} >= {"downstream_failure"}

    view = await (await client.get(f"/v1/messages/{message_id}", headers=auth("read"))).json()
    listed = view["sections"]["findings"]
    assert [(f["id"], f["rule"], f["state"]) for f in listed] == [
        (f["id"], f["rule"], f["state"]) for f in expected
    ]
    # dlrecon trace renders the same view for people: a line per finding
    text = render_trace([MessageView.model_validate(view)], "table")
    assert "  findings:\n" in text
    assert all(f"rule={f['rule']}" in text for f in expected)
    page = await (await client.get(f"/ops/messages/{message_id}", headers=auth("read"))).text()
    assert 'id="section-findings"' in page
    for f in expected:
        assert f["explanation"] in page.replace("&#39;", "'").replace("&quot;", '"')


async def test_ops_lists_the_findings_to_deal_with_as_the_api_counts_them(
    client: TestClient, conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    await _reconciled(conn, settings, tmp_path)
    answer = await (
        await client.get("/v1/findings", params={"limit": "1000"}, headers=auth("finance"))
    ).json()
    by_rule: dict[str, int] = {}
    for f in answer["findings"]:
        if f["state"] in ("open", "acknowledged"):
            by_rule[f["rule"]] = by_rule.get(f["rule"], 0) + 1
    assert by_rule

    page = await (await client.get("/ops", headers=auth("read"))).text()
    section = page[page.index('id="findings"') : page.index('id="inbox"')]
    tiles = {
        rule.replace(" ", "_"): int(count)
        for count, rule in re.findall(r"<b>(\d+)</b><span>([a-z ]+)</span>", section)
    }
    assert tiles == by_rule
    assert section.count("<tr><td>") == min(sum(by_rule.values()), 15)  # one row each


async def test_metrics_show_open_findings_and_the_last_run(
    client: TestClient, conn: asyncpg.Connection, settings: Settings, tmp_path: Path
) -> None:
    await _reconciled(conn, settings, tmp_path)
    open_by_rule = await finding_store.open_by_rule(conn)
    samples: dict[tuple[str, str], float] = {}
    for _ in range(100):  # until the refresher has run since the run
        text = await (await client.get("/metrics")).text()
        samples = {
            (s.name, s.labels.get("rule", "")): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        if samples.get(("dlrecon_reconcile_last_run_finished_timestamp_seconds", ""), 0) > 0:
            break
        await asyncio.sleep(0.1)
    assert {
        rule: int(v) for (name, rule), v in samples.items() if name == "dlrecon_open_findings"
    } == open_by_rule
    assert samples[("dlrecon_reconcile_last_run_failed", "")] == 0
    assert samples[("dlrecon_reconcile_last_run_duration_seconds", "")] > 0
    last = {rule: v for (name, rule), v in samples.items() if name.endswith("last_run_findings")}
    assert sum(last.values()) == sum(open_by_rule.values())
