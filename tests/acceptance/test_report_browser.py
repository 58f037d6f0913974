"""The finance report page in a real browser (Debian's chromium through playwright, nothing
downloaded): no console error and no failed request, every figure shown equal to the JSON
document's, nothing wider than an A4 or a Letter page in print, printed to PDF on both sizes;
screenshots and PDFs in test-artifacts/report/.

Two ways in: the page of a hand-built document (two currencies, adjustments, a run), and the
page `dlrecon serve` answers at /v1/reports/finance?format=html over data this test produces
(messages registered, callbacks, a rate card and an invoice imported, a reconciliation run),
compared with the same route's `format=json`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from reconcile.reports import html
from tests.support import ROOT, TOKENS, report_page
from tests.support import report_documents as documents
from tests.support.browser import CHROMIUM, launch, watch
from tests.support.service import Service, finance_config, free_port, service_env
from tests.support.service import call as call_api

ARTIFACTS = ROOT / "test-artifacts" / "report"
# the printable width of each paper at the page's @page margins (11 mm each side), CSS px
PAPERS = {"A4": (210 - 22) * 96 / 25.4, "Letter": (215.9 - 22) * 96 / 25.4}
PDF_SIZES = {"A4": (595.92, 842.88), "Letter": (612.0, 792.0)}
FINANCE = "acceptance-report-finance-token"
CONFIG = finance_config(FINANCE)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlrecon", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _shown(page: Any) -> list[tuple[str, str]]:
    pairs: list[list[str]] = page.eval_on_selector_all(
        "[data-k]",
        "els => els.map(e => [e.getAttribute('data-k'), e.textContent.replace(/\\s+/g, ' ').trim()])",
    )
    return [(k, v) for k, v in pairs]


def _overflow(page: Any) -> list[str]:
    """Elements whose right edge passes the page's (in the print stylesheet)."""
    found: list[str] = page.evaluate(
        """() => {
          const width = document.documentElement.clientWidth;
          const out = [];
          if (document.documentElement.scrollWidth > width + 1) out.push('document ' + document.documentElement.scrollWidth + ' > ' + width);
          for (const e of document.querySelectorAll('table, svg.chart, .headline, dl.facts')) {
            const r = e.getBoundingClientRect();
            if (r.right > width + 1) out.push(e.tagName + '#' + (e.closest('section') || {}).id + ' ' + Math.round(r.right) + ' > ' + width);
          }
          return out;
        }"""
    )
    return found


def _check_page(page: Any, doc: dict[str, Any], name: str) -> None:
    """The figures, the first screen, print layout and PDFs of the page open in `page`."""
    assert report_page.problems(_shown(page), doc) == []
    assert report_page.parse(page.content())[1] == []  # no number outside a figure
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"))
    page.screenshot(path=str(ARTIFACTS / f"{name}-full.png"), full_page=True)
    # the first screen: headline figures, completeness and a chart
    first = page.evaluate(
        """() => ['[data-k$="|value"]', '[data-k*="|completeness|final"]', 'svg.chart']
              .map(s => { const e = document.querySelector(s); return e ? e.getBoundingClientRect().top : 1e9; })"""
    )
    assert all(top < 900 for top in first), first
    page.emulate_media(media="print")
    for paper, width in PAPERS.items():
        page.set_viewport_size({"width": int(width), "height": 1100})
        assert (paper, _overflow(page)) == (paper, [])
    page.screenshot(path=str(ARTIFACTS / f"{name}-print.png"), full_page=True)
    sections = page.eval_on_selector_all("section.card", "els => els.length")
    for paper, (w, h) in PDF_SIZES.items():  # in the print media (pdf() keeps the emulated one)
        path = ARTIFACTS / f"{name}-{paper.lower()}.pdf"
        page.pdf(path=str(path), format=paper, print_background=True)
        data = path.read_bytes()
        assert data.startswith(b"%PDF")
        boxes = re.findall(rb"/MediaBox\s*\[0 0 ([0-9.]+) ([0-9.]+)\]", data)
        # each section on a page of its own (some over more than one)
        assert len(boxes) >= sections, f"{paper}: {len(boxes)} pages for {sections} sections"
        assert all(abs(float(x) - w) < 1 and abs(float(y) - h) < 1 for x, y in boxes), boxes[:2]
    page.emulate_media(media="screen")
    page.set_viewport_size({"width": 1440, "height": 900})


@pytest.fixture
def browser() -> Any:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        launched = launch(p)
        try:
            yield launched
        finally:
            launched.close()


def test_the_page_of_a_hand_built_report(browser: Any, tmp_path: Path) -> None:
    doc = documents.full()
    path = tmp_path / "report.html"
    path.write_text(html.render(doc))
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    problems = watch(page)
    page.goto(path.as_uri())
    _check_page(page, doc, "sample")
    assert problems == []


def _call(url: str, method: str = "GET", body: Any = None, token: str = FINANCE) -> tuple[int, Any]:
    return call_api(url, token, method, body, timeout=60)


def _message(pid: str, sent: datetime, n: int) -> dict[str, Any]:
    return {
        "provider": "open",
        "client_ref": f"rep-{pid}",
        "provider_message_ids": [pid],
        "destination": f"+6580001{n:03d}",
        "submitted_at": sent.isoformat(),
        "text": "hello" if n % 3 else "x" * 200,  # some of two segments
        "value": "0.0500" if n % 4 else "0.0725",
        "currency": "SGD",
        "submit_response": {
            "reference": "r",
            "responseCode": "0",
            "responseMessage": "ok",
            "messageIds": [pid],
        },
    }


def _callback(base: str, pid: str, state: str, reason: str, at: datetime) -> None:
    stamp = at.isoformat().replace("+", "%2B")
    query = (
        f"messageId={pid}&channel=sms&recipient=1&status={state}&reasonCode={reason}"
        f"&messageTimestamp={stamp}"
    )
    with urllib.request.urlopen(f"{base}/v1/callbacks/open?{query}", timeout=10) as r:
        assert r.status == 200


def _invoice(env: dict[str, str], path: Path, lines: list[str]) -> None:
    path.write_text(
        "provider_message_id,client_ref,billed_at,destination,segments,amount,currency\n"
        + "".join(line + "\n" for line in lines)
    )
    result = cli(env, "import", "invoice", "open", str(path))
    assert result.returncode == 0, result.stderr


def _produce(service: Service, env: dict[str, str], workdir: Path, now: datetime) -> str:
    """Last month: two messages, one delivered and billed, then the month closed, then the
    other's DLR and invoice line (adjustments). Now: twelve messages over two days, callbacks,
    an invoice; a rate card; a run over the last two days. Returns the closed month."""
    base = service.url
    this_month = now.replace(day=1, hour=0, minute=0, second=0)
    before = this_month - timedelta(days=2, hours=-10)
    last_month = f"{before:%Y-%m}"
    recent = [
        _message(f"C0{n:02d}", now - timedelta(days=1 if n < 6 else 0, hours=2, minutes=n), n)
        for n in range(12)
    ]
    earlier = [_message("E001", before, 20), _message("E002", before, 21)]
    status, registered = _call(
        f"{base}/v1/messages", "POST", earlier + recent, token=TOKENS["send"]
    )
    assert status == 200 and registered["created"] == 14, registered
    for n in range(10):  # eight delivered, two failed, two left pending
        state, reason = ("delivered", "0") if n < 8 else ("undeliverable", "1")
        _callback(base, f"C0{n:02d}", state, reason, now - timedelta(hours=1))
    _callback(base, "E001", "delivered", "0", before + timedelta(minutes=1))
    rates = workdir / "rates.csv"
    rates.write_text(
        "provider,channel,prefix,price_per_segment,currency,valid_from,valid_to\n"
        "open,sms,65,0.0300,SGD,2020-01-01,\n"
    )
    assert cli(env, "import", "ratecard", str(rates)).returncode == 0
    billed = (now - timedelta(hours=2)).isoformat()
    _invoice(
        env,
        workdir / "invoice.csv",
        [f"c0{n:02d},,{billed},,1,0.0300,SGD" for n in range(6)]
        + [f"c006,,{billed},,1,0.0450,SGD", f"zz99,,{billed},,1,0.0300,SGD"]
        + [f"e001,,{before.isoformat()},,1,0.0300,SGD"],
    )
    time.sleep(0.5)  # the callbacks processed
    closed = cli(env, "period", "close", last_month, "--by", "finance-test")
    assert closed.returncode == 0, closed.stderr
    # after closing: E002's DLR and its invoice line arrive
    _callback(base, "E002", "delivered", "0", before + timedelta(minutes=2))
    _invoice(env, workdir / "late.csv", [f"e002,,{before.isoformat()},,1,0.0300,SGD"])
    time.sleep(0.5)
    window = {
        "from": (now - timedelta(days=2)).isoformat(),
        "to": (now + timedelta(minutes=1)).isoformat(),
    }
    status, started = _call(f"{base}/v1/reconcile/runs", "POST", window)
    assert status == 202, started
    deadline = time.monotonic() + 60
    while True:
        status, run = _call(f"{base}{started['href']}")
        if run["state"] in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert run["state"] == "succeeded", run
    return last_month


def _same_moment(page: Any, doc: dict[str, Any]) -> None:
    """A report is as of the moment it is asked for: the page's (asked for second) is the
    JSON's or just after; the document takes the page's to be compared."""
    shown = datetime.strptime(
        page.text_content('[data-k="as_of"]') or "", "%Y-%m-%d %H:%M:%S UTC"
    ).replace(tzinfo=UTC)
    asked = datetime.fromisoformat(doc["as_of"]).replace(microsecond=0)  # the page has seconds
    assert timedelta(0) <= shown - asked < timedelta(minutes=2)
    doc["as_of"] = shown.isoformat()


def test_the_report_served_by_dlrecon_in_a_real_browser(
    browser: Any, workdir: Path, services: list[Service]
) -> None:
    (workdir / "dlrecon.toml").write_text(CONFIG)
    env = service_env(workdir, None)
    service = Service(workdir, env, free_port())
    services.append(service)
    service.start()
    service.wait_ready()
    now = datetime.now(UTC).replace(microsecond=0)
    closed = _produce(service, env, workdir, now)

    # the CLI's page, over the same data, against the CLI's JSON
    start = date.fromisoformat(f"{closed}-01")  # the closed month and this one
    end = (now + timedelta(days=1)).date()
    days = ["--from", str(start), "--to", str(end)]
    as_json = cli(env, "report", "finance", *days, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    cli_doc = json.loads(as_json.stdout)
    page_file = ARTIFACTS / "report-cli.html"
    as_html = cli(env, "report", "finance", *days, "--format", "html", "--output", str(page_file))
    assert as_html.returncode == 0, as_html.stderr
    page = browser.new_page(viewport={"width": 1440, "height": 900})
    problems = watch(page)
    page.goto(page_file.as_uri())
    _same_moment(page, cli_doc)
    _check_page(page, cli_doc, "report-cli")
    assert problems == []
    page.close()

    query = f"from={start}&to={end}&group_by=provider,channel,country,currency"
    url = f"{service.url}/v1/reports/finance?{query}"
    status, doc = _call(url + "&format=json")
    assert status == 200, doc
    assert doc["run"] is not None and doc["totals"][0]["key"] == {"currency": "SGD"}
    assert doc["frozen"] == [closed]
    assert sorted(a["kind"] for a in doc["adjustments"]) == ["late_event", "late_invoice_line"]

    context = browser.new_context(
        viewport={"width": 1440, "height": 900},
        extra_http_headers={"Authorization": f"Bearer {FINANCE}"},
    )
    page = context.new_page()
    problems = watch(page)
    response = page.goto(url + "&format=html")
    assert response is not None and response.status == 200
    assert "text/html" in response.headers["content-type"]
    _same_moment(page, doc)
    _check_page(page, doc, "report")
    assert page.text_content('[data-k="t|SGD|messages|total"]') == "14"
    assert page.is_visible("#frozen") and page.is_visible("#adjustments")
    assert problems == []
    context.close()
    assert service.stop() == 0
