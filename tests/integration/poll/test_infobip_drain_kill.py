"""Done when: an Infobip drain whose poller process is killed with SIGKILL halfway loses no
report: the pages already fetched are in the inbox, and processed after the restart."""

from __future__ import annotations

import asyncio
import json
import signal
from pathlib import Path

import asyncpg

from tests.integration.poll.support import FAST, dlrecon, register
from tests.support import eventually, make_settings
from tests.support.poll_fakes import INFOBIP_KEY, FakeProviders

REPORTS = 10


def report(n: int) -> dict[str, object]:
    return {
        "messageId": f"IB-{n}",
        "to": "41793026727",
        "status": {"groupId": 3, "groupName": "DELIVERED", "id": 5, "name": "DELIVERED_TO_HANDSET"},
        "error": {"groupId": 0, "groupName": "OK", "id": 0, "name": "NO_ERROR"},
        "price": {"pricePerMessage": "0.01", "currency": "EUR"},
        "doneAt": "2026-11-30T16:10:00.000+0000",
        "messageCount": 1,
    }


def config(path: Path, database_url: str, api: str) -> Path:
    poll = {**FAST, "page_size": 2, "lease": 1}
    lines = [
        "[database]",
        f'url = "{database_url}"',
        "[log]",
        'format = "json"',
        "[providers.infobip]",
        'verify = "off"',
        f'api_base_url = "{api}"',
        f'api_key = "{INFOBIP_KEY}"',
        "poll_after = 0",
        "[providers.infobip.poll]",
        *(f"{k} = {json.dumps(v)}" for k, v in poll.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def inbox_reports(rows: list[asyncpg.Record]) -> list[str]:
    return [r["messageId"] for row in rows for r in json.loads(bytes(row["body"]))["results"]]


async def test_a_drain_killed_halfway_loses_no_report(
    conn: asyncpg.Connection, database_url: str, fake: FakeProviders, tmp_path: Path
) -> None:
    cfg = config(tmp_path / "dlrecon.toml", database_url, fake.url)
    settings = make_settings({"infobip": {"verify": "off"}})
    ids = await register(
        conn,
        settings,
        *({"provider": "infobip", "provider_message_ids": [f"IB-{n}"]} for n in range(REPORTS)),
    )
    fake.infobip_queue.extend(report(n) for n in range(REPORTS))
    fake.infobip_hold_page = 3  # the third page is held until the poller is dead

    poller = await dlrecon(cfg, "poll")
    try:
        await asyncio.wait_for(fake.held.wait(), 60)
    finally:
        poller.send_signal(signal.SIGKILL)
        _, stderr = await poller.communicate()
    assert poller.returncode == -signal.SIGKILL, stderr.decode()[-2000:]
    assert INFOBIP_KEY.encode() not in stderr  # the poller's log never shows the credential

    given = [r["messageId"] for page in fake.infobip_given for r in page["results"]]
    assert given == ["IB-0", "IB-1", "IB-2", "IB-3"]
    # every page the provider gave (and so will never give again) was stored before the next
    # was asked for
    stored = await conn.fetch("SELECT body, state FROM inbox WHERE source = 'poll' ORDER BY id")
    assert inbox_reports(stored) == given
    assert {r["state"] for r in stored} == {"pending"}  # the poller stores; the processor parses

    # restart: the held page is gone with the dead connection; the rest of the queue is drained
    fake.infobip_hold_page = None
    fake.release.set()

    async def leases_over() -> bool:
        return not await conn.fetchval(
            "SELECT count(*) FROM poll_schedule WHERE lease_until > now()"
        )

    assert await eventually(leases_over, timeout=30)
    again = await dlrecon(cfg, "poll", "--once", "--format", "json")
    out, err = await again.communicate()
    assert again.returncode == 0, err.decode()[-2000:]
    assert INFOBIP_KEY.encode() not in out + err
    [summary] = json.loads(out)
    assert summary["provider"] == "infobip" and summary["changed"] == REPORTS

    given = [r["messageId"] for page in fake.infobip_given for r in page["results"]]
    assert sorted(given) == sorted(f"IB-{n}" for n in range(REPORTS))
    stored = await conn.fetch("SELECT body, state FROM inbox WHERE source = 'poll' ORDER BY id")
    assert sorted(inbox_reports(stored)) == sorted(given)
    assert {r["state"] for r in stored} == {"processed"}
    statuses = await conn.fetch("SELECT id, status FROM messages ORDER BY id")
    assert [(r["id"], r["status"]) for r in statuses] == [(i, "delivered") for i in ids]
