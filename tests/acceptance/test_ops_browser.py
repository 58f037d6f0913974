"""/ops in a real browser (Debian's chromium, driven through playwright): sign in through the
form, no console error and no failed request, every number on the page equal to the JSON
API's (as rendered by the server, and again after the page's own refresh), a link followed to
a trace, the print stylesheet; screenshots in test-artifacts/ops/."""

from __future__ import annotations

import asyncio
import json
import urllib.request
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.support import ROOT, TOKENS
from tests.support.browser import CHROMIUM, launch, watch
from tests.support.service import Service, free_port, service_env
from tests.support.traffic import sent

ARTIFACTS = ROOT / "test-artifacts" / "ops"
CONFIG = f"""
[api]
tokens = [{{ token = "{TOKENS["read"]}", scopes = ["read"] }}]
[providers.calm]
adapter = "generic"
verify = "off"
[providers.quiet]
adapter = "generic"
verify = "off"
[providers.held]
adapter = "geniq"
verify = "quarantine"
path_token = "held-token"
[oncall]
page_refresh_seconds = 5
refresh_every = "2s"
[log]
format = "json"
"""
MIN = timedelta(minutes=1)


def _num(value: Any) -> str:
    """What the page shows for a JSON number (reconcile.pages' `num`)."""
    if value is None:
        return "-"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return repr(value) if isinstance(value, float) else str(value)


def _when(iso: str | None) -> str:
    if not iso:
        return "-"
    from datetime import UTC, datetime

    return datetime.fromisoformat(iso).astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def expected_numbers(health: dict, inbox: dict, stuck: dict | None) -> dict[str, str]:
    """The page's data-k values, from the API's answers."""
    out: dict[str, str] = {}
    first = health["windows"][0]
    for p in health["providers"]:
        k = f"h|{p['provider']}"
        out[f"{k}|{p['window']}|state"] = p["state"]
        if p["window"] != first:
            continue
        for name in (
            "sent",
            "callbacks_per_sent",
            "failure_share",
            "orphans",
            "quarantined",
            "verification_failures",
            "median_to_final_seconds",
            "p95_to_final_seconds",
            "open_late",
        ):
            out[f"{k}|{name}"] = _num(p["figures"][name])
        out[f"{k}|usual_callbacks_per_sent"] = _num(
            p["usual"]["callbacks_per_sent"] if p["usual"] else None
        )
        out[f"{k}|reason"] = p["reason"]
    for c in inbox["counts"]:
        out[f"i|{c['provider']}|{c['state']}"] = _num(c["count"])
    if stuck is not None:
        out["s|total"] = _num(stuck["total"])
        for b in stuck["by_age"]:
            out[f"s|age|{b['age']}"] = _num(b["count"])
        for g in stuck["groups"]:
            k = f"s|{g['provider']}|{g['channel']}"
            out[f"{k}|count"] = _num(g["count"])
            out[f"{k}|threshold"] = g["threshold"]
            out[f"{k}|why"] = g["why"]
            out[f"{k}|oldest"] = _when(g["oldest"])
    return out


def _api(base: str, path: str) -> Any:
    request = urllib.request.Request(
        base + path, headers={"Authorization": f"Bearer {TOKENS['read']}"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        if response.status != 200:
            return None
        return json.loads(response.read())


def _stuck_or_none(base: str) -> Any:
    try:
        return _api(base, "/v1/stuck?limit=20")
    except urllib.error.HTTPError as exc:
        if exc.code == 503:  # the stuck definition (migration 0005) is not there yet
            return None
        raise


async def _seed(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        for key in ("calm", "quiet"):
            await sent(
                conn, key, start=timedelta(days=8), stop=timedelta(days=1), count=300, tag="history"
            )
        # everything of the last minutes inside the 15-minute window for the whole test
        await sent(conn, "calm", start=12 * MIN, stop=2 * MIN, count=60, tag="now")
        await sent(
            conn, "quiet", start=12 * MIN, stop=2 * MIN, count=60, silent_since=13 * MIN, tag="now"
        )
    finally:
        await conn.close()


def _shown(page: Any) -> dict[str, str]:
    values: dict[str, str] = page.eval_on_selector_all(
        "[data-k]",
        "els => Object.fromEntries(els.map(e => [e.getAttribute('data-k'), e.textContent.trim()]))",
    )
    values.pop("as_of", None)
    return values


@pytest.fixture
def browser_workdir(tmp_path: Path) -> Path:
    (tmp_path / "dlrecon.toml").write_text(CONFIG)
    return tmp_path


def test_ops_in_a_real_browser(
    browser_workdir: Path, services: list[Service], database_url: str
) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    asyncio.run(_seed(database_url))
    service = Service(browser_workdir, service_env(browser_workdir, database_url), free_port())
    services.append(service)
    service.start()
    service.wait_ready()
    base = service.url
    held = urllib.request.urlopen(f"{base}/v1/callbacks/held?token=wrong&messageId=x1", timeout=10)
    assert held.status == 200
    ARTIFACTS.mkdir(parents=True, exist_ok=True)

    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            problems = watch(page)

            page.goto(f"{base}/ops")
            assert "/ops/login" in page.url
            page.screenshot(path=str(ARTIFACTS / "1-login.png"))
            page.fill("#token", TOKENS["read"])
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/ops")
            page.wait_for_selector("#health")
            page.screenshot(path=str(ARTIFACTS / "2-ops.png"), full_page=True)

            def compare() -> None:
                shown = _shown(page)
                health = _api(base, "/v1/providers/health")
                inbox = _api(base, "/v1/inbox?limit=20")
                expected = expected_numbers(health, inbox, _stuck_or_none(base))
                assert shown == expected

            compare()
            states = {
                p_: page.text_content(f'[data-k="h|{p_}|15m|state"]') for p_ in ("calm", "quiet")
            }
            assert states == {"calm": "ok", "quiet": "silent"}
            assert page.text_content('[data-k="i|held|held"]') == "1"

            # the page's own refresh, from the JSON API, writes the same numbers
            page.evaluate("document.querySelectorAll('[data-k]').forEach(e => e.textContent = '?')")
            page.evaluate("window.dlreconRefresh()")
            page.wait_for_function("document.body.getAttribute('data-refreshed') !== null")
            compare()

            page.emulate_media(media="print")
            page.screenshot(path=str(ARTIFACTS / "3-ops-print.png"), full_page=True)
            page.emulate_media(media="screen")

            page.click("a.trace >> nth=0")
            page.wait_for_url("**/ops/messages/*")
            assert page.is_visible("text=Events")
            page.screenshot(path=str(ARTIFACTS / "4-trace.png"), full_page=True)

            page.goto(f"{base}/ops")
            page.click("button:has-text('Sign out')")
            page.wait_for_url("**/ops/login")
            page.goto(f"{base}/ops")
            assert "/ops/login" in page.url
            assert problems == []
        finally:
            browser.close()
    assert service.stop() == 0
