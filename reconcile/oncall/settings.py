"""`[oncall]`: how provider health is judged, how often the on-call figures are refreshed for
`/metrics`, and the `/ops` page's session. `dlrecon.settings` composes it into the whole
configuration; on-call code takes it as an argument."""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from reconcile.durations import Duration


class HealthRules(BaseModel):
    """`[oncall.health]`: when a provider key's window is slow, silent or failing."""

    model_config = ConfigDict(extra="forbid")

    min_sent: int = Field(default=20, ge=1)
    min_finals: int = Field(default=10, ge=1)
    silent_below: float = Field(default=0.2, gt=0, lt=1)
    calls_back_at_least: float = Field(default=0.05, ge=0)
    slow_factor: float = Field(default=3.0, gt=1)
    slow_floor: Duration = timedelta(minutes=1)
    slow_open_share: float = Field(default=0.2, gt=0, le=1)
    failing_margin: float = Field(default=0.25, gt=0, lt=1)
    quarantine_rate: float = Field(default=0.05, gt=0, le=1)
    min_quarantined: int = Field(default=5, ge=1)
    verification_failure_share: float = Field(default=0.1, gt=0, le=1)
    min_verification_failures: int = Field(default=5, ge=1)
    usual_days: int = Field(default=7, ge=1, le=60)
    usual_gap: Duration = timedelta(days=1)
    usual_min_sent: int = Field(default=100, ge=1)
    usual_refresh: Duration = timedelta(minutes=10)
    long_window_refresh: Duration = timedelta(minutes=1)


class OncallSettings(BaseModel):
    """`[oncall]`."""

    model_config = ConfigDict(extra="forbid")

    processes: int = Field(default=1, ge=0, le=1)
    refresh_every: Duration = timedelta(seconds=30)
    thresholds_refresh: Duration = timedelta(minutes=5)
    windows: list[Duration] = [timedelta(minutes=15), timedelta(hours=1), timedelta(hours=24)]
    session_hours: float = Field(default=8.0, gt=0, le=24 * 7)
    page_refresh_seconds: int = Field(default=30, ge=5)
    health: HealthRules = HealthRules()
