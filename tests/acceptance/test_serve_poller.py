"""`dlrecon serve` with `[poller] enabled`: a poller process beside the HTTP worker polls,
the trace shows the polls, /metrics the poller's figures."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

from tests.acceptance.test_serve_processes import metric, scrape
from tests.support import TOKENS
from tests.support.poll_fakes import TWILIO_SID, TWILIO_TOKEN, FakeInThread, TwilioMessage
from tests.support.service import Service, free_port, service_env

SID = "SM0000000000000000000000000000ab12"


def config(api: str) -> str:
    return f"""
[api]
tokens = [{{ token = "{TOKENS["send"]}", scopes = ["send", "read"] }}]
[poller]
enabled = true
[providers.twilio]
verify = "off"
api_base_url = "{api}"
account_sid = "{TWILIO_SID}"
auth_token = "{TWILIO_TOKEN}"
poll_after = 0
[providers.twilio.poll]
interval = 0.2
[log]
format = "json"
[reconcile]
processes = 0
"""


def call(service: Service, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"{service.url}{path}",
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {TOKENS['send']}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        return json.loads(r.read())


def test_serve_runs_the_poller_role(
    workdir: Path, database_url: str, services: list[Service]
) -> None:
    with FakeInThread() as fake:
        fake.twilio[SID] = TwilioMessage(status="delivered", price="-0.0079")
        (workdir / "dlrecon.toml").write_text(config(fake.url))
        service = Service(workdir, service_env(workdir, database_url), free_port())
        services.append(service)
        service.start()
        service.wait_ready()
        # the HTTP worker, the processor, the poller, the on-call refresher
        assert len(service.children()) == 4
        [item] = call(
            service, "/v1/messages", {"provider": "twilio", "provider_message_ids": [SID]}
        )["results"]
        message_id = item["message_id"]

        deadline = time.monotonic() + 60
        view: dict[str, Any] = {}
        while time.monotonic() < deadline:
            view = call(service, f"/v1/messages/{message_id}")
            if view["provider_cost"] is not None:
                break
            time.sleep(0.2)
        assert view["status"] == "delivered" and view["provider_cost"] == "0.0079"
        assert [p["outcome"] for p in view["polls"]] == ["ok"]
        assert view["poll_schedule"]["attempts"] == 1
        text = scrape(service)
        assert metric(text, "dlrecon_polls_total", provider="twilio", outcome="ok") >= 1
        assert "dlrecon_poll_breaker_state" in text and "dlrecon_poll_backlog" in text
        assert service.stop() == 0
