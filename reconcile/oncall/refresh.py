"""The refresher: computes the on-call figures (provider health, the inbox's quarantined and
held rows, stuck messages) every `[oncall] refresh_every` and sets the gauges `/metrics`
shows. It runs in the on-call role process (`serve` starts one), or inside each HTTP worker
when `[oncall] processes = 0`; `/metrics` itself never runs these queries."""

from __future__ import annotations

import asyncio
import contextlib
import time
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from receiver.db import inbox as inbox_store
from receiver.db import pool as db_pool
from receiver.db.pool import Pool, connection, describe
from receiver.errors import DatabaseUnavailable
from receiver.metrics import Metrics
from receiver.roles import Role
from reconcile.db import findings as finding_store
from reconcile.oncall import health as health_module
from reconcile.oncall import queries
from reconcile.oncall import stuck as stuck_module
from reconcile.oncall.health import UsualCache
from reconcile.oncall.metrics import STATES, OncallMetrics
from reconcile.oncall.settings import OncallSettings
from reconcile.settings import WithReconcile

log = structlog.get_logger(__name__)


class Configured(WithReconcile, Protocol):
    """What the refresher reads of the whole configuration."""

    @property
    def oncall(self) -> OncallSettings: ...


class Refresher:
    """Sets the on-call gauges from SQL, again and again (`start` / `stop`), or once."""

    def __init__(
        self, pool: Pool, settings: Configured, metrics: OncallMetrics, receiver: Metrics
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._metrics = metrics
        self._receiver = receiver
        self._usual = UsualCache(settings.oncall.health)
        self._long = health_module.LongWindows(settings.oncall.health)
        self._thresholds = stuck_module.ThresholdCache(settings.oncall.thresholds_refresh)
        self._task: asyncio.Task[None] | None = None
        # label sets set before: those not seen again are set to 0, never left stale
        self._seen: dict[str, set[tuple[str, ...]]] = {}

    async def refresh(self) -> None:
        """Compute every figure once and set the gauges."""
        oncall = self._settings.oncall
        now = datetime.now(UTC)
        async with connection(self._pool) as conn:
            usual = await self._usual.get(conn, now)
            answer = await health_module.health(
                conn,
                now=now,
                windows=oncall.windows,
                keys=list(self._settings.providers),
                rules=oncall.health,
                usual=usual,
                long_windows=self._long,
            )
            attention = await inbox_store.attention_counts(conn)
            orphans = await queries.orphans_now(conn)
            lag = await inbox_store.lag_seconds(conn)
            stuck_now = await stuck_module.stuck(
                conn,
                stuck_module.thresholds(self._settings),
                now=now,
                limit=1,
                cache=self._thresholds,
            )
            open_findings = await finding_store.open_by_rule(conn)
            last_run, run_findings = await finding_store.last_finished_run(conn)
        m = self._metrics
        self._set_all("open_findings", {(rule,): n for rule, n in open_findings.items()})
        self._set_all("run_findings", {(rule,): n for rule, n in run_findings.items()})
        if last_run is not None:
            m.run_seconds.set(last_run.seconds or 0)
            m.run_finished.set(last_run.finished)
            m.run_failed.set(int(last_run.state == "failed"))
        # the age of the oldest unprocessed callback, measured here too: the processor sets it
        # as well, but a processor that is stuck or gone does not
        self._receiver.processor_lag.set(lag)
        self._receiver.database_up.set(1)
        for p in answer.providers:
            for state in STATES:
                m.provider_state.labels(p.provider, p.window, state).set(int(p.state == state))
            f = p.figures
            m.callbacks_per_sent.labels(p.provider, p.window).set(f.callbacks_per_sent or 0)
            m.sent.labels(p.provider, p.window).set(f.sent)
            m.verification_failures.labels(p.provider, p.window).set(f.verification_failures)
            m.quarantine_rate.labels(p.provider, p.window).set(f.quarantine_rate or 0)
            m.orphan_rate.labels(p.provider, p.window).set(f.orphan_rate or 0)
            m.p95_to_final.labels(p.provider, p.window).set(f.p95_to_final_seconds or 0)
        for key, u in usual.items():
            m.usual_callbacks_per_sent.labels(key).set(u.callbacks_per_sent or 0)
        counts = {(k, s): n for k, s, n in attention}
        keys = set(self._settings.providers) | {k for k, _ in counts} | set(orphans)
        self._set_all("orphans", {(k,): orphans.get(k, 0) for k in keys})
        self._set_all(
            "inbox_attention",
            {(k, s): counts.get((k, s), 0) for k in keys for s in ("quarantined", "held")},
        )
        by_key_age: dict[tuple[str, ...], float] = {
            (k, age): 0 for k in keys for age, _ in stuck_module.AGES
        }
        for c in stuck_now.by_provider_age:
            by_key_age[(c.provider, c.age)] = c.count
        self._set_all("stuck", by_key_age)
        m.refreshed.set(time.time())
        m.refresh_failed.set(0)

    def _set_all(self, name: str, values: dict[tuple[str, ...], float]) -> None:
        """Set a labelled gauge for these label sets, and to 0 those set before but absent."""
        gauge = getattr(self._metrics, name)
        for labels in self._seen.get(name, set()) - set(values):
            gauge.labels(*labels).set(0)
        for labels, value in values.items():
            gauge.labels(*labels).set(value)
        self._seen[name] = set(self._seen.get(name, set())) | set(values)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="oncall-refresher")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        every = self._settings.oncall.refresh_every.total_seconds()
        while True:
            try:
                await self.refresh()
            except DatabaseUnavailable as exc:
                self._metrics.refresh_failed.set(1)
                self._receiver.database_up.set(0)
                log.warning("oncall_refresh_database_unavailable", error=describe(exc))
            except Exception:
                self._metrics.refresh_failed.set(1)
                log.exception("oncall_refresh_failed")
            await asyncio.sleep(every)


async def run(settings: Any, url: str, stop: asyncio.Event) -> None:
    """The on-call role process: the refresher until `stop` is set."""
    pool = await db_pool.create_when_available(
        url,
        min_size=1,
        max_size=1,
        timeout=settings.database.connect_timeout,
        stop=stop,
        role="oncall",
    )
    if pool is None:
        return
    receiver_metrics = Metrics()
    refresher = Refresher(
        pool, settings, OncallMetrics(receiver_metrics.registry), receiver_metrics
    )
    refresher.start()
    await stop.wait()
    await refresher.stop()
    with contextlib.suppress(Exception):
        async with asyncio.timeout(5):
            await pool.close()


def _processes(settings: Any) -> int:
    processes: int = settings.oncall.processes
    return processes


ROLE = Role("oncall", run, _processes)


class Warmer:
    """Keeps a process's kept figures (usual figures, learned stuck thresholds) fresh in the
    background, renewing each when it is 80% of its refresh old, so that requests find them
    ready. Does nothing for a refresh of 0 (computed on every request then)."""

    def __init__(
        self,
        pool: Pool,
        settings: Configured,
        usual: UsualCache,
        thresholds: stuck_module.ThresholdCache,
    ) -> None:
        self._pool = pool
        self._settings = settings
        self._usual = usual
        self._thresholds = thresholds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        oncall = self._settings.oncall
        if oncall.health.usual_refresh.total_seconds() or oncall.thresholds_refresh.total_seconds():
            self._task = asyncio.create_task(self._run(), name="oncall-warmer")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        oncall = self._settings.oncall
        usual_every = oncall.health.usual_refresh.total_seconds()
        thresholds_every = oncall.thresholds_refresh.total_seconds()
        pause = 0.2 * min(x for x in (usual_every, thresholds_every) if x > 0)
        while True:
            try:
                async with connection(self._pool) as conn:
                    now = datetime.now(UTC)
                    if usual_every and self._usual.age() >= 0.8 * usual_every:
                        await self._usual.renew(conn, now)
                    if thresholds_every and self._thresholds.age() >= 0.8 * thresholds_every:
                        await self._thresholds.renew(
                            conn, stuck_module.thresholds(self._settings), now
                        )
            except DatabaseUnavailable as exc:
                log.warning("oncall_warmer_database_unavailable", error=describe(exc))
            except Exception:
                log.exception("oncall_warmer_failed")
            await asyncio.sleep(pause)
