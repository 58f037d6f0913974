"""`dlrecon poll --dry-run`, `--once` with its summary, and `dlrecon trace` showing the polls."""

from __future__ import annotations

import json
from pathlib import Path

import asyncpg

from tests.integration.poll.support import FAST, dlrecon, register
from tests.support import make_settings
from tests.support.poll_fakes import TWILIO_SID, TWILIO_TOKEN, FakeProviders, TwilioMessage


def config(path: Path, database_url: str, api: str) -> Path:
    lines = [
        "[database]",
        f'url = "{database_url}"',
        "[providers.twilio]",
        'verify = "off"',
        f'api_base_url = "{api}"',
        f'account_sid = "{TWILIO_SID}"',
        f'auth_token = "{TWILIO_TOKEN}"',
        "poll_after = 0",
        "[providers.twilio.poll]",
        *(f"{k} = {json.dumps(v)}" for k, v in FAST.items()),
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


async def run(cfg: Path, *args: str) -> tuple[int, str, str]:
    process = await dlrecon(cfg, *args)
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()


async def test_dry_run_once_and_trace(
    conn: asyncpg.Connection, database_url: str, fake: FakeProviders, tmp_path: Path
) -> None:
    cfg = config(tmp_path / "dlrecon.toml", database_url, fake.url)
    settings = make_settings({"twilio": {"verify": "off"}})
    sids = ["SM00000000000000000000000000000001", "SM00000000000000000000000000000002"]
    ids = await register(
        conn, settings, *({"provider": "twilio", "provider_message_ids": [s]} for s in sids)
    )
    fake.twilio[sids[0]] = TwilioMessage(status="delivered", price="-0.0075")
    fake.twilio[sids[1]] = TwilioMessage(status="undelivered", error_code=30003)
    fake.fail("twilio", 1, status=503)  # one transient failure, retried

    code, out, err = await run(cfg, "poll", "--dry-run", "--format", "json")
    assert code == 0, err
    planned = json.loads(out)
    assert sorted(p["message_id"] for p in planned) == ids
    assert all(
        p["auth"] == {"scheme": "basic", "user": TWILIO_SID, "secret": "<redacted>"}
        for p in planned
    )
    assert fake.requests() == []  # nothing sent
    assert await conn.fetchval("SELECT count(*) FROM poll_schedule") == 0  # nothing changed

    code, out, err = await run(cfg, "poll", "--once", "--format", "json")
    assert code == 0, err
    assert json.loads(out) == [
        {
            "provider": "twilio",
            "polled": 2,
            "requests": 3,
            "responses": 2,
            "changed": 2,
            "priced": 1,
            "unpollable": 0,
            "failed": "0",
        }
    ]

    code, out, err = await run(cfg, "trace", str(ids[1]))
    assert code == 0, err
    assert "polls:" in out and "schedule: 1 answered, 0 failed in a row, next at" in out
    assert "undelivered" in out

    views, texts = [], []
    for message_id in ids:
        code, out, err = await run(cfg, "trace", str(message_id), "--format", "json")
        assert code == 0, err
        views += json.loads(out)
        texts.append(out)
    assert [v["status"] for v in views] == ["delivered", "failed"]
    assert views[0]["provider_cost"] == "0.0075"
    outcomes = sorted(p["outcome"] for v in views for p in v["polls"])
    assert outcomes == ["ok", "ok", "server_error"]  # the 503, retried
    assert views[0]["polls"][-1]["request"]["path"].endswith(f"/Messages/{sids[0]}.json")
    assert [v["poll_schedule"]["attempts"] for v in views] == [1, 1]
    assert not any(TWILIO_TOKEN in t for t in texts)
