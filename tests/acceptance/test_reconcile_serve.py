"""Reconciliation through the real `dlrecon serve`: messages registered and a rate card and an
invoice imported with the CLI, a run started over HTTP and executed by the reconciler role,
followed to the end, its findings read as CSV, a finding accepted; `dlrecon reconcile` and
`dlrecon findings` from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from tests.support import TOKENS
from tests.support.service import Service, finance_config, free_port, service_env
from tests.support.service import call as call_api

FINANCE = "acceptance-finance-token-01"
CONFIG = finance_config(FINANCE)


def call(url: str, method: str = "GET", body: Any = None, token: str = FINANCE) -> tuple[int, Any]:
    return call_api(url, token, method, body, timeout=30)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlrecon", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_a_run_started_over_http_is_executed_by_serve(
    workdir: Path, services: list[Service]
) -> None:
    (workdir / "dlrecon.toml").write_text(CONFIG)
    env = service_env(workdir, None)
    service = Service(workdir, env, free_port())
    services.append(service)
    service.start()
    service.wait_ready()

    now = datetime.now(UTC).replace(microsecond=0)
    sent = now - timedelta(hours=2)
    messages = [
        {
            "provider": "open",
            "client_ref": f"r{n}",
            "provider_message_ids": [f"AB{n:02d}"],
            "destination": f"+6580000{n:03d}",
            "submitted_at": sent.isoformat(),
            "text": "hi",
            "value": "0.0500",
            "currency": "SGD",
            "submit_response": {
                "reference": "r",
                "responseCode": "0",
                "responseMessage": "ok",
                "messageIds": [f"AB{n:02d}"],
            },
        }
        for n in range(3)
    ]
    status, registered = call(f"{service.url}/v1/messages", "POST", messages, token=TOKENS["send"])
    assert status == 200 and registered["created"] == 3
    for n in range(2):  # two delivered; the third stays accepted (stuck after 1 h)
        query = f"messageId=AB{n:02d}&channel=sms&recipient=1&status=delivered&reasonCode=0&messageTimestamp={(sent + timedelta(minutes=1)).isoformat().replace('+', '%2B')}"
        with urllib.request.urlopen(f"{service.url}/v1/callbacks/open?{query}", timeout=10) as r:
            assert r.status == 200

    rates = workdir / "rates.csv"
    rates.write_text(
        "provider,channel,prefix,price_per_segment,currency,valid_from,valid_to\nopen,sms,65,0.0300,SGD,2020-01-01,\n"
    )
    result = cli(env, "import", "ratecard", str(rates))
    assert result.returncode == 0, result.stderr
    assert "1 lines read: 1 imported, 0 refused, 0 already present" in result.stdout
    invoice = workdir / "invoice.csv"
    invoice.write_text(
        "provider_message_id,client_ref,billed_at,destination,segments,amount,currency\n"
        f"ab00,,{sent.isoformat()},,1,0.0300,SGD\n"
        f"ab01,,{sent.isoformat()},,1,0.0450,SGD\n"
        f"zz99,,{sent.isoformat()},,1,0.0300,SGD\n"
        "bad,,yesterday,,1,0.03,SGD\n"
    )
    result = cli(env, "import", "invoice", "open", str(invoice))
    assert result.returncode == 1  # one line refused, the others kept
    assert "invoice.csv:5: billed_at 'yesterday' is not a date in the format iso" in result.stderr
    assert "4 lines read: 3 imported, 1 refused" in result.stdout
    again = cli(env, "import", "invoice", "open", str(invoice))
    assert again.returncode == 0 and "nothing changed" in again.stdout

    time.sleep(0.5)  # the two callbacks processed
    window = {
        "from": (now - timedelta(days=1)).isoformat(),
        "to": (now + timedelta(minutes=1)).isoformat(),
    }
    status, started = call(f"{service.url}/v1/reconcile/runs", "POST", window)
    assert status == 202
    deadline = time.monotonic() + 60
    while True:
        status, run = call(f"{service.url}{started['href']}")
        if run["state"] in ("succeeded", "failed") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert run["state"] == "succeeded", run
    assert run["requested_by"] == "finance-team" and run["balanced"]
    counts = {r["rule"]: r["findings"] for r in run["rules"]}
    assert (counts["stuck"], counts["cost_mismatch"], counts["billed_not_sent"]) == (1, 1, 1)
    assert sum(counts.values()) == 3, counts

    status, csv_text = call(f"{service.url}{started['href']}/findings?format=csv")
    assert status == 200 and csv_text.splitlines()[0].startswith("finding_id,rule,subject")
    assert len(csv_text.splitlines()) == 4
    status, page = call(f"{service.url}/v1/findings?rule=stuck")
    [stuck] = page["findings"]
    status, changed = call(
        f"{service.url}/v1/findings/{stuck['id']}", "PATCH", {"state": "accepted", "note": "test"}
    )
    assert status == 200 and changed["state_by"] == "finance-team"

    # the same run from the command line: findings as CSV, the same ones (ids included)
    result = cli(
        env,
        "reconcile",
        "--from",
        window["from"],
        "--to",
        window["to"],
        "--as-of",
        run["as_of"],
        "--format",
        "csv",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == csv_text
    assert "stuck" in result.stderr  # progress per rule
    as_json = cli(
        env,
        "reconcile",
        "--from",
        window["from"],
        "--to",
        window["to"],
        "--as-of",
        run["as_of"],
        "--format",
        "json",
    )
    document = json.loads(as_json.stdout)
    assert document["balanced"] and len(document["findings"]) == 3
    assert {f["rule"] for f in document["findings"]} == {
        "stuck",
        "cost_mismatch",
        "billed_not_sent",
    }
    table = cli(
        env, "reconcile", "--from", window["from"], "--to", window["to"], "--as-of", run["as_of"]
    )
    assert (
        table.returncode == 0 and "cost_mismatch" in table.stdout and "0.0150 SGD" in table.stdout
    )
    listed = cli(env, "findings", "list", "--state", "accepted", "--format", "json")
    assert [f["id"] for f in json.loads(listed.stdout)] == [stuck["id"]]
    resolved = cli(env, "findings", "resolve", str(stuck["id"]), "--note", "fixed", "--by", "me")
    assert resolved.returncode == 0 and "is resolved" in resolved.stdout
    refused = cli(env, "findings", "accept", str(stuck["id"]))
    assert refused.returncode == 2  # --note is required
    assert service.stop() == 0
