"""Under `dlrecon serve` the on-call gauges come from the on-call role process (multiprocess
metrics), not from the scrape: they are on /metrics of any worker, and the on-call process is
one of serve's children."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import asyncpg

from tests.support import TOKENS
from tests.support.service import Service, free_port, service_env
from tests.support.traffic import sent

CONFIG = f"""
[api]
tokens = [{{ token = "{TOKENS["read"]}", scopes = ["read"] }}]
[server]
workers = 2
[providers.calm]
adapter = "generic"
verify = "off"
[oncall]
refresh_every = "1s"
[reconcile]
processes = 0
[log]
format = "json"
"""


async def _seed(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await sent(conn, "calm", start=timedelta(minutes=10), stop=timedelta(minutes=1), count=7)
    finally:
        await conn.close()


def test_serve_refreshes_the_on_call_gauges_in_its_own_process(
    tmp_path: Path, services: list[Service], database_url: str
) -> None:
    (tmp_path / "dlrecon.toml").write_text(CONFIG)
    asyncio.run(_seed(database_url))
    service = Service(tmp_path, service_env(tmp_path, database_url), free_port())
    services.append(service)
    service.start()
    service.wait_ready()
    names = " ".join(" ".join(c.cmdline()) for c in service.children())
    assert len(service.children()) == 4  # 2 HTTP workers, the processor, on-call
    wanted = 'dlrecon_sent_messages{provider="calm",window="15m"} 7.0'
    text = ""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"{service.url}/metrics", timeout=10) as response:
            text = response.read().decode()
        if wanted in text:
            break
        time.sleep(0.3)
    assert wanted in text, names
    assert 'dlrecon_provider_state{provider="calm",state="ok",window="15m"} 1.0' in text
    assert service.stop() == 0
