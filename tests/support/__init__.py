"""Shared test helpers: settings, database URLs, corpus access."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from dlrecon.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# copies of shared/corpus and shared/providers/seeds, so a clone tests on its own
DATA = ROOT / "tests" / "data"
CORPUS = DATA / "corpus"
SEEDS = DATA / "seeds"

TOKENS = {
    "send": "test-send-token-0001",
    "read": "test-read-token-0002",
    "finance": "test-finance-token-03",
    "admin": "test-admin-token-0004",
}
SECRETS = {
    "hellio": "hellio-secret-do-not-log",
    "velip_password": "velip-password-do-not-log",
    "geniq_token": "geniq-path-token-do-not-log",
}


def auth(scope: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[scope]}"}


def with_database(url: str, name: str) -> str:
    """The same server URL, another database."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def make_settings(providers: dict[str, Any] | None = None, **sections: Any) -> Settings:
    """Settings as a test deployment would have them (a token per scope, seed providers)."""
    base_providers: dict[str, Any] = {
        "hellio": {"signing_secrets": ["old-" + SECRETS["hellio"], SECRETS["hellio"]]},
        "velip": {"basic_auth": {"user": "velip", "password": SECRETS["velip_password"]}},
        "geniq": {"path_token": SECRETS["geniq_token"]},
        "open": {"adapter": "geniq", "verify": "off"},
        "held": {"adapter": "geniq", "verify": "quarantine", "path_token": "held-token"},
    }
    base_providers.update(providers or {})
    data: dict[str, Any] = {
        "api": {"tokens": [{"token": t, "scopes": [s]} for s, t in TOKENS.items()]},
        "providers": base_providers,
        "processor": {"idle_interval": 0.05},
        "inbox": {"batch_delay_ms": 1},
    }
    data.update(sections)
    return Settings(**data)


def corpus(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((CORPUS / f"{name}.json").read_text())
    return data


async def eventually(check: Any, timeout: float = 10.0, interval: float = 0.05) -> Any:
    """Await `check()` until it returns something truthy (the processor runs in the background)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(interval)
