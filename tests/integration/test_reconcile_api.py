"""The reconciliation API over HTTP: scopes, starting a run (202), following it, its findings
as JSON pages and as CSV, findings and their lifecycle with the token's name as who."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from dlrecon.app import build_app
from dlrecon.settings import Settings
from reconcile import report, runner
from tests.support import TOKENS, auth, make_settings, reconcile_world

FINANCE_NAMED = "finance-token-of-alice-0005"


@pytest.fixture
def settings() -> Settings:
    tokens = [{"token": t, "scopes": [s]} for s, t in TOKENS.items()]
    tokens.append({"token": FINANCE_NAMED, "scopes": ["finance"], "name": "alice"})
    return make_settings(api={"tokens": tokens}, reconcile={"stuck_after": "1h"})


ALICE = {"Authorization": f"Bearer {FINANCE_NAMED}"}


@pytest.fixture
async def client(database_url: str, settings: Settings) -> Any:
    async with TestClient(TestServer(build_app(settings, database_url))) as test_client:
        yield test_client


async def test_scopes_and_bad_requests(client: TestClient) -> None:  # type: ignore[type-arg]
    body = {"from": "2026-06-01T00:00:00Z", "to": "2026-06-02T00:00:00Z"}
    assert (await client.post("/v1/reconcile/runs", json=body)).status == 401
    assert (await client.post("/v1/reconcile/runs", json=body, headers=auth("read"))).status == 403
    for bad, message in [
        ({"from": "2026-06-02T00:00:00Z", "to": "2026-06-01T00:00:00Z"}, "ends before"),
        ({"from": "2026-06-01T00:00:00Z"}, "to"),
        ({**body, "as_of": "2999-01-01T00:00:00Z"}, "future"),
        ({"from": "2026-06-01T00:00:00", "to": "2026-06-02T00:00:00Z"}, "time zone"),
        ({**body, "extra": 1}, "extra"),
    ]:
        response = await client.post("/v1/reconcile/runs", json=bad, headers=ALICE)
        assert response.status == 400, bad
        assert message in (await response.json())["error"]["message"]
    bad_json = await client.post("/v1/reconcile/runs", data=b"{", headers=ALICE)
    assert bad_json.status == 400
    for path in (
        "/v1/reconcile/runs/99",
        "/v1/reconcile/runs/x",
        "/v1/reconcile/runs/99/findings",
        "/v1/findings/99",
    ):
        assert (await client.get(path, headers=ALICE)).status == 404, path
    assert (await client.get("/v1/findings?state=closed", headers=ALICE)).status == 400
    assert (
        await client.patch("/v1/findings/1", json={"state": "resolved"}, headers=ALICE)
    ).status == 404


async def test_a_run_through_the_api(
    client: TestClient,  # type: ignore[type-arg]
    conn: asyncpg.Connection,
    settings: Settings,
    tmp_path: Path,
) -> None:
    world = await reconcile_world.build(conn, settings, tmp_path)
    window_from, window_to = world.window
    response = await client.post(
        "/v1/reconcile/runs",
        json={"from": window_from.isoformat(), "to": window_to.isoformat()},
        headers=ALICE,
    )
    assert response.status == 202
    started = await response.json()
    assert started["state"] == "queued" and response.headers["Location"] == started["href"]
    queued = await (await client.get(started["href"], headers=ALICE)).json()
    assert queued["state"] == "queued" and queued["requested_by"] == "alice"
    # the reconciler role does this in serve; here, directly
    [outcome] = await runner.drain(conn)
    assert outcome.run_id == started["id"]

    run = await (await client.get(started["href"], headers=ALICE)).json()
    assert run["state"] == "succeeded" and run["balanced"] is True
    assert run["findings"] == sum(len(v) for v in world.expected.values())
    by_rule = {r["rule"]: r for r in run["rules"]}
    assert by_rule["cost_mismatch"]["amounts"] == [{"currency": "SGD", "amount": "0.0200"}]
    assert {(row["provider"], row["currency"]) for row in run["ledger"]} >= {("geniq", "SGD")}
    assert run["config"]["defaults"]["cost_tolerance_relative"] == "0.01"

    pages, after = [], None
    while True:
        query = f"?limit=4{'&after=' + after if after else ''}"
        page = await (await client.get(f"{started['href']}/findings{query}", headers=ALICE)).json()
        pages.extend(page["findings"])
        after = page["next"]
        if after is None:
            break
    assert len(pages) == run["findings"]
    assert [(f["rule"], f["subject"]) for f in pages] == sorted(
        (f["rule"], f["subject"]) for f in pages
    )
    one_rule = await (
        await client.get(f"{started['href']}/findings?rule=stuck", headers=ALICE)
    ).json()
    assert [f["rule"] for f in one_rule["findings"]] == ["stuck"]
    assert one_rule["findings"][0]["amount"] == "0.0500"

    csv_response = await client.get(f"{started['href']}/findings?format=csv", headers=ALICE)
    assert csv_response.headers["Content-Type"].startswith("text/csv")
    expected_csv = report.csv_text(
        [f async for page in report.all_findings(conn, outcome.run_id) for f in page]
    )
    assert await csv_response.text() == expected_csv

    stuck = one_rule["findings"][0]
    refused = await client.patch(
        f"/v1/findings/{stuck['id']}", json={"state": "accepted"}, headers=ALICE
    )
    assert refused.status == 400 and "note" in (await refused.json())["error"]["message"]
    changed = await client.patch(
        f"/v1/findings/{stuck['id']}",
        json={"state": "accepted", "note": "known outage"},
        headers=ALICE,
    )
    assert changed.status == 200
    accepted = await changed.json()
    assert (accepted["state"], accepted["state_by"], accepted["note"]) == (
        "accepted",
        "alice",
        "known outage",
    )
    unnamed = await client.patch(
        f"/v1/findings/{pages[0]['id']}", json={"state": "acknowledged"}, headers=auth("finance")
    )
    assert (await unnamed.json())["state_by"] == "unnamed token"
    listed = await (await client.get("/v1/findings?state=accepted", headers=ALICE)).json()
    assert [f["id"] for f in listed["findings"]] == [stuck["id"]]
    detail = await (await client.get(f"/v1/findings/{stuck['id']}", headers=ALICE)).json()
    assert [c["to_state"] for c in detail["changes"]] == ["open", "accepted"]
    assert detail["seen_by_runs"] == [outcome.run_id]
    assert TOKENS["finance"] not in str(detail)
    assert datetime.fromisoformat(detail["first_seen_at"]) <= datetime.now(UTC) + timedelta(
        seconds=1
    )
