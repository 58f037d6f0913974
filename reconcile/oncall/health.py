"""Provider health: per provider key and window, what it sent and got back, against the key's
own usual figures, and a state — `failing`, `silent`, `slow` or `ok` (worst first) — with
the reasons. The rules are `[oncall.health]` (docs/oncall.md says what each state means)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from receiver.db.pool import Connection
from reconcile.durations import duration_text
from reconcile.oncall import queries
from reconcile.oncall.queries import WindowRow
from reconcile.oncall.settings import HealthRules
from reconcile.oncall.views import (
    HealthAnswer,
    ProviderHealth,
    State,
    UsualFigures,
    WindowFigures,
)


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _seconds(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def figures(row: WindowRow, late_after: float) -> WindowFigures:
    return WindowFigures(
        sent=row.sent,
        finals=row.finals,
        failures=row.failures,
        failure_share=_ratio(row.failures, row.finals),
        failures_by_class=dict(sorted(row.failures_by_class.items())),
        callbacks=row.callbacks,
        callbacks_per_sent=_ratio(row.callbacks, row.sent),
        orphans=row.orphans,
        orphan_rate=_ratio(row.orphans, row.callbacks),
        quarantined=row.quarantined,
        quarantine_rate=_ratio(row.quarantined, row.callbacks),
        verification_failures=row.refused + row.held,
        median_to_final_seconds=_seconds(row.median_final),
        p95_to_final_seconds=_seconds(row.p95_final),
        open_late=row.open_late,
        late_after_seconds=round(late_after, 1),
    )


def late_after(usual: UsualFigures | None, rules: HealthRules) -> float:
    """Seconds after which an open message is late for the key: `slow_factor` times its usual
    95th percentile to final, never less than `slow_floor`."""
    floor = rules.slow_floor.total_seconds()
    if usual is None or usual.p95_to_final_seconds is None:
        return floor
    return max(floor, rules.slow_factor * usual.p95_to_final_seconds)


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def verdict(
    f: WindowFigures, usual: UsualFigures | None, rules: HealthRules, window: str
) -> tuple[State, list[str]]:
    """The state of one key's window and every reason found, worst first."""
    failing: list[str] = []
    silent: list[str] = []
    slow: list[str] = []
    usual_failures = usual.failure_share if usual and usual.failure_share is not None else 0.0
    if (
        f.finals >= rules.min_finals
        and f.failure_share is not None
        and f.failure_share >= usual_failures + rules.failing_margin
    ):
        worst = max(f.failures_by_class.items(), key=lambda kv: kv[1], default=("unknown", 0))
        failing.append(
            f"{f.failure_share:.0%} of {f.finals} final messages failed in the last {window} "
            f"(usual {usual_failures:.0%}; mostly {worst[0]})"
        )
    if (
        f.quarantined >= rules.min_quarantined
        and f.quarantine_rate is not None
        and f.quarantine_rate >= rules.quarantine_rate
    ):
        failing.append(
            f"{f.quarantined} of {f.callbacks} callbacks quarantined in the last {window} "
            "(the adapter could not parse them)"
        )
    received = f.callbacks + f.verification_failures
    if (
        f.verification_failures >= rules.min_verification_failures
        and f.verification_failures >= rules.verification_failure_share * received
    ):
        failing.append(
            f"{f.verification_failures} of {received} callbacks failed verification in the "
            f"last {window} (a changed secret, signature or source address?)"
        )
    if f.sent >= rules.min_sent and f.callbacks_per_sent is not None:
        ratio = f.callbacks_per_sent
        if usual is not None and usual.callbacks_per_sent is not None:
            if (
                usual.callbacks_per_sent >= rules.calls_back_at_least
                and ratio < rules.silent_below * usual.callbacks_per_sent
            ):
                silent.append(
                    f"{f.callbacks} callbacks for {f.sent} messages sent in the last {window} "
                    f"({ratio:.2f} per message; usual {usual.callbacks_per_sent:.2f})"
                )
        elif f.callbacks == 0:
            silent.append(
                f"no callback for {f.sent} messages sent in the last {window} (no usual ratio yet)"
            )
    usual_p95 = usual.p95_to_final_seconds if usual else None
    if (
        usual_p95 is not None
        and f.finals >= rules.min_finals
        and f.p95_to_final_seconds is not None
        and f.p95_to_final_seconds > rules.slow_factor * max(usual_p95, 1.0)
    ):
        slow.append(
            f"95% of messages final within {_fmt(f.p95_to_final_seconds)} in the last {window} "
            f"(usual {_fmt(usual_p95)})"
        )
    if f.sent >= rules.min_sent and f.open_late >= max(1, rules.slow_open_share * f.sent):
        slow.append(
            f"{f.open_late} of {f.sent} messages sent in the last {window} still open after "
            f"{_fmt(f.late_after_seconds)} (usual 95% final within {_fmt(usual_p95)})"
        )
    for state, reasons in (("failing", failing), ("silent", silent), ("slow", slow)):
        if reasons:
            return state, failing + silent + slow  # type: ignore[return-value]
    if f.sent == 0 and f.callbacks == 0:
        return "ok", [f"nothing sent and no callback accepted in the last {window}"]
    usual_ratio = usual.callbacks_per_sent if usual else None
    ratio_text = "-" if f.callbacks_per_sent is None else f"{f.callbacks_per_sent:.2f}"
    usual_text = "-" if usual_ratio is None else f"{usual_ratio:.2f}"
    return "ok", [
        f"{f.sent} sent, {ratio_text} callbacks per message (usual {usual_text}), "
        f"95% final within {_fmt(f.p95_to_final_seconds)} (usual {_fmt(usual_p95)})"
    ]


@dataclass
class UsualCache:
    """The usual figures of every key, computed at most every `rules.usual_refresh` (they
    cover days, and change slowly); one per process. `refresh=0` computes them every time."""

    rules: HealthRules
    _at: float = 0.0
    _figures: dict[str, UsualFigures] | None = None
    _lock: asyncio.Lock | None = None

    async def get(self, conn: Connection, now: datetime) -> dict[str, UsualFigures]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._figures is None or self.age() >= self.rules.usual_refresh.total_seconds():
                self._figures = await usual_figures(conn, now, self.rules)
                self._at = time.monotonic()
            return self._figures

    def age(self) -> float:
        """Seconds since the figures were computed (infinite before the first time)."""
        return time.monotonic() - self._at if self._figures is not None else float("inf")

    async def renew(self, conn: Connection, now: datetime) -> None:
        """Compute them again now (the warmer does, before they are due, so that no request
        waits for a week of messages to be read)."""
        figures = await usual_figures(conn, now, self.rules)
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            self._figures, self._at = figures, time.monotonic()


async def usual_figures(
    conn: Connection, now: datetime, rules: HealthRules
) -> dict[str, UsualFigures]:
    """Per key: its messages sent over the `usual_days` days that end `usual_gap` before now
    (so that what is going wrong today does not become the usual), when at least
    `usual_min_sent`."""
    end = now - rules.usual_gap
    start = end - timedelta(days=rules.usual_days)
    rows = await queries.provider_window(conn, start=start, end=end, keys=[], late_after={})
    return {
        r.provider_key: UsualFigures(
            start=start,
            end=end,
            sent=r.sent,
            callbacks_per_sent=_ratio(r.callbacks, r.sent),
            failure_share=_ratio(r.failures, r.finals),
            median_to_final_seconds=_seconds(r.median_final),
            p95_to_final_seconds=_seconds(r.p95_final),
            computed_at=now,
        )
        for r in rows
        if r.sent >= rules.usual_min_sent
    }


@dataclass
class LongWindows:
    """Figures of the windows longer than `LONG` kept for `rules.long_window_refresh` (a
    24-hour window reads a day of messages; a minute changes it by under 0.1%). Each answer
    says when its figures were computed (`figures_at`). One per process."""

    rules: HealthRules
    _kept: dict[tuple[timedelta, tuple[str, ...]], tuple[float, datetime, list[WindowRow]]] = field(
        default_factory=dict
    )

    def get(
        self, window: timedelta, keys: Sequence[str]
    ) -> tuple[datetime, list[WindowRow]] | None:
        if window <= LONG:
            return None
        found = self._kept.get((window, tuple(keys)))
        if found is None:
            return None
        at, computed, rows = found
        if time.monotonic() - at > self.rules.long_window_refresh.total_seconds():
            return None
        return computed, rows

    def put(
        self, window: timedelta, keys: Sequence[str], computed: datetime, rows: list[WindowRow]
    ) -> None:
        if window > LONG:
            self._kept[(window, tuple(keys))] = (time.monotonic(), computed, rows)


# windows longer than this may be answered from `LongWindows`
LONG = timedelta(hours=1)


async def health(
    conn: Connection,
    *,
    now: datetime,
    windows: Sequence[timedelta],
    keys: Sequence[str],
    rules: HealthRules,
    usual: dict[str, UsualFigures],
    long_windows: LongWindows | None = None,
) -> HealthAnswer:
    """Every key (the configured ones, and any that sent in a window) over each window."""
    late = {key: late_after(u, rules) for key, u in usual.items()}
    listed: list[ProviderHealth] = []
    for window in windows:
        name = duration_text(window)
        all_keys = sorted(set(keys) | set(usual))
        late_all = {k: late.get(k, late_after(None, rules)) for k in all_keys}
        kept = long_windows.get(window, all_keys) if long_windows else None
        if kept is not None:
            figures_at, rows = kept
        else:
            figures_at = now
            rows = await queries.provider_window(
                conn, start=now - window, end=now, keys=all_keys, late_after=late_all
            )
            if long_windows is not None:
                long_windows.put(window, all_keys, now, rows)
        for row in rows:
            f = figures(row, late_all.get(row.provider_key, late_after(None, rules)))
            u = usual.get(row.provider_key)
            state, reasons = verdict(f, u, rules, name)
            listed.append(
                ProviderHealth(
                    provider=row.provider_key,
                    window=name,
                    state=state,
                    reason=reasons[0],
                    reasons=reasons,
                    figures=f,
                    figures_at=figures_at,
                    usual=u,
                )
            )
    listed.sort(key=lambda p: (p.provider, [duration_text(w) for w in windows].index(p.window)))
    return HealthAnswer(as_of=now, windows=[duration_text(w) for w in windows], providers=listed)
