"""The finance report page of a computed report (the planted-problem world, its run, four
currencies and messages without one): every figure shown equals the document's, nothing
number-like outside a figure; the same by provider and currency only."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import asyncpg
import pytest

from receiver.settings import Settings
from reconcile import runner
from reconcile.reports import finance, html
from tests.support import ROOT, reconcile_world, report_page

ARTIFACTS = ROOT / "test-artifacts" / "report"


@pytest.mark.parametrize(
    "dimensions", [("provider", "channel", "country", "currency"), ("provider", "currency")]
)
async def test_the_page_of_the_planted_worlds_report(
    conn: asyncpg.Connection, settings: Settings, tmp_path: Path, dimensions: tuple[str, ...]
) -> None:
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
    doc = await finance.compute(
        conn,
        start=window_from.date(),
        end=window_to.date() + timedelta(days=1),
        dimensions=dimensions,
        config=reconcile_world.config(),
    )
    assert doc.run is not None and len(doc.totals) >= 3
    page = html.render(doc)
    shown, stray = report_page.parse(page)
    assert report_page.problems(shown, doc.to_json()) == []
    assert stray == []
    assert 'id="no-run"' not in page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"planted-{len(dimensions)}.html").write_text(page)
