"""Stuck messages: those `dlrecon_stuck` (migration 0005, the one definition shared with the
reconciliation rule `stuck` and the poller) finds now, counted per provider key, channel,
status and age bucket, with the threshold of each pair and why it was used."""

from __future__ import annotations

import asyncio
import base64
import binascii
import time
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from receiver.db import queries
from receiver.db.pool import Connection
from receiver.errors import InvalidInput
from reconcile.durations import duration_text
from reconcile.oncall.views import (
    AgeCount,
    ProviderAgeCount,
    StuckAnswer,
    StuckCount,
    StuckGroup,
    StuckMessage,
)
from reconcile.settings import WithReconcile, configured_stuck_after

AGES = (
    ("lt_15m", "< 15 min"),
    ("15m_1h", "15 min to 1 h"),
    ("1h_6h", "1 to 6 h"),
    ("6h_24h", "6 to 24 h"),
    ("gt_24h", "> 24 h"),
)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """The arguments of `dlrecon_stuck`, from the configuration."""

    configured: dict[str, dict[str, float]]
    default_after: timedelta
    min_samples: int


def thresholds(settings: WithReconcile) -> Thresholds:
    """The stuck thresholds as reconciliation's rule `stuck` takes them: `[providers.KEY]
    stuck_after` (one duration, or one per channel) and `[reconcile] stuck_after` /
    `stuck_min_samples`."""
    return Thresholds(
        configured=configured_stuck_after(settings.providers),
        default_after=settings.reconcile.stuck_after,
        min_samples=settings.reconcile.stuck_min_samples,
    )


@dataclass(frozen=True, slots=True)
class Learned:
    seconds: float
    source: str
    samples: int | None


@dataclass
class ThresholdCache:
    """The thresholds `dlrecon_stuck` would learn now, kept for `refresh` (learning reads a
    week of messages per pair; they change slowly). Passed back to it as explicit thresholds,
    and the answer still says where each came from and when it was learned. `refresh=0`:
    learned on every request. One per process."""

    refresh: timedelta
    _at: float = 0.0
    _computed: datetime | None = None
    _pairs: dict[tuple[str, str], Learned] | None = None
    _lock: asyncio.Lock | None = None

    async def get(
        self, conn: Connection, t: Thresholds, now: datetime
    ) -> tuple[dict[tuple[str, str], Learned], datetime]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if (
                self._pairs is None
                or self._computed is None
                or self.age() >= self.refresh.total_seconds()
            ):
                self._pairs = await _learn(conn, t, now)
                self._computed = now
                self._at = time.monotonic()
            return self._pairs, self._computed

    def age(self) -> float:
        """Seconds since they were learned (infinite before the first time)."""
        return time.monotonic() - self._at if self._pairs is not None else float("inf")

    async def renew(self, conn: Connection, t: Thresholds, now: datetime) -> None:
        """Learn them again now (the warmer does, before they are due)."""
        pairs = await _learn(conn, t, now)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            self._pairs, self._computed, self._at = pairs, now, time.monotonic()


async def _learn(conn: Connection, t: Thresholds, now: datetime) -> dict[tuple[str, str], Learned]:
    records = await conn.fetch(
        queries.get("stuck_thresholds"), now, t.configured, t.default_after, t.min_samples
    )
    return {
        (r["provider_key"], r["channel"]): Learned(
            r["seconds"], r["threshold_source"], r["samples"]
        )
        for r in records
        if r["threshold_source"] != "configured"
    }


def why(source: str, samples: int | None, t: Thresholds) -> str:
    if source == "configured":
        return "configured (stuck_after)"
    if source == "learned":
        return f"learned: 99th percentile of time to final of {samples} messages over 7 days"
    return (
        f"default ({duration_text(t.default_after)}): only {samples or 0} final messages in "
        f"7 days, fewer than the {t.min_samples} needed to learn one"
    )


def _cursor(text: str | None) -> tuple[datetime, int] | None:
    if not text:
        return None
    try:
        at, _, message_id = base64.urlsafe_b64decode(text.encode()).decode().partition("|")
        return datetime.fromisoformat(at), int(message_id)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("invalid cursor") from None


async def stuck(
    conn: Connection,
    t: Thresholds,
    *,
    now: datetime,
    older_than: timedelta | None = None,
    provider: str | None = None,
    channel: str | None = None,
    status: str | None = None,
    limit: int = 100,
    cursor: str | None = None,
    cache: ThresholdCache | None = None,
) -> StuckAnswer:
    """What is stuck at `now`, as the API and `dlrecon stuck` answer it. With `cache` (for
    `now` only), thresholds learned a little earlier are used (`threshold_learned_at`)."""
    after = _cursor(cursor)
    configured = t.configured
    kept: dict[tuple[str, str], Learned] = {}
    learned_at = now
    if cache is not None:
        kept, learned_at = await cache.get(conn, t, now)
        configured = {k: dict(v) for k, v in t.configured.items()}
        for (key, channel), given in kept.items():
            configured.setdefault(key, {})[channel] = given.seconds
    record = await conn.fetchrow(
        queries.get("stuck"),
        now,
        configured,
        t.default_after,
        t.min_samples,
        older_than,
        provider,
        channel,
        status,
        after[0] if after else None,
        after[1] if after else None,
        limit,
    )
    assert record is not None
    summary: list[dict[str, Any]] = record["summary"]
    page: list[dict[str, Any]] = record["page"]
    for row in (*summary, *page):  # where a threshold given back from the cache came from
        cached = kept.get((row["provider_key"], row["channel"]))
        if cached is not None:
            row["threshold_source"], row["samples"] = cached.source, cached.samples
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    by_provider: Counter[str] = Counter()
    by_channel: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    by_age: Counter[str] = Counter()
    by_provider_age: Counter[tuple[str, str]] = Counter()
    for row in summary:
        pair = (row["provider_key"], row["channel"])
        oldest = datetime.fromisoformat(row["oldest"])
        g = groups.setdefault(pair, {**row, "count": 0, "oldest": oldest})
        g["count"] += row["n"]
        g["oldest"] = min(g["oldest"], oldest)
        by_provider[row["provider_key"]] += row["n"]
        by_channel[row["channel"]] += row["n"]
        by_status[row["status"]] += row["n"]
        by_age[row["age"]] += row["n"]
        by_provider_age[(row["provider_key"], row["age"])] += row["n"]
    messages = [
        StuckMessage(
            message_id=p["message_id"],
            provider=p["provider_key"],
            channel=p["channel"],
            status=p["status"],
            since=datetime.fromisoformat(p["since"]),
            stuck_at=datetime.fromisoformat(p["stuck_at"]),
            threshold_seconds=p["threshold_seconds"],
            threshold_source=p["threshold_source"],
        )
        for p in page
    ]
    last = messages[-1] if len(messages) == limit else None
    return StuckAnswer(
        as_of=now,
        total=sum(by_provider.values()),
        groups=[
            StuckGroup(
                provider=k,
                channel=ch,
                count=g["count"],
                threshold_seconds=g["threshold_seconds"],
                threshold=duration_text(timedelta(seconds=g["threshold_seconds"])),
                threshold_source=g["threshold_source"],
                samples=g["samples"],
                why=why(g["threshold_source"], g["samples"], t),
                threshold_learned_at=(
                    None if g["threshold_source"] == "configured" else learned_at
                ),
                oldest=g["oldest"],
            )
            for (k, ch), g in sorted(groups.items())
        ],
        by_provider=[StuckCount(key=k, count=n) for k, n in sorted(by_provider.items())],
        by_channel=[StuckCount(key=k, count=n) for k, n in sorted(by_channel.items())],
        by_status=[StuckCount(key=k, count=n) for k, n in sorted(by_status.items())],
        by_age=[AgeCount(age=a, label=label, count=by_age[a]) for a, label in AGES],
        by_provider_age=[
            ProviderAgeCount(provider=k, age=a, count=n)
            for (k, a), n in sorted(by_provider_age.items())
        ],
        messages=messages,
        next_cursor=(
            base64.urlsafe_b64encode(
                f"{last.stuck_at.isoformat()}|{last.message_id}".encode()
            ).decode()
            if last
            else None
        ),
    )
