"""The reconciliation's configuration: `[reconcile]`, and what `[providers.KEY]` adds for it
(cost tolerances, stuck thresholds, the invoice column mapping). `dlrecon.settings` composes
these into the full settings; reconcile code takes them as arguments."""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reconcile.durations import Duration

Channel = Literal["sms", "whatsapp", "voice"]
INVOICE_FIELDS = (
    "provider_message_id",
    "client_ref",
    "billed_at",
    "destination",
    "segments",
    "amount",
    "currency",
)


class InvoiceMapping(BaseModel):
    """How one provider's invoice or CDR export is laid out (`[providers.KEY.invoice]`)."""

    model_config = ConfigDict(extra="forbid")

    # our field -> the provider's column header (fields not named keep their own name)
    columns: dict[str, str] = {}
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    decimal_separator: Literal[".", ","] = "."
    # "iso" (ISO 8601), or a strftime-style format: %Y %y %m %d %H %M %S %f %z and literals
    date_format: str = "iso"
    # the time zone of dates without an offset
    timezone: str = "UTC"
    # "negative": the file writes charges as negative amounts
    amount_sign: Literal["positive", "negative"] = "positive"
    # the currency of every line when the file has no currency column
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    encoding: Literal["utf-8", "latin-1", "cp1252"] = "utf-8"

    @field_validator("columns")
    @classmethod
    def _known_fields(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(INVOICE_FIELDS)
        if unknown:
            names = ", ".join(sorted(unknown))
            raise ValueError(f"unknown field(s) {names} (fields: {', '.join(INVOICE_FIELDS)})")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            zoneinfo.ZoneInfo(value)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("date_format")
    @classmethod
    def _format(cls, value: str) -> str:
        from reconcile import dates

        dates.pattern(value)  # raises ValueError naming the bad directive
        return value


class ProviderReconcileSettings(BaseModel):
    """What a `[providers.KEY]` table holds for reconciliation."""

    cost_tolerance_absolute: Decimal | None = Field(default=None, ge=0)
    cost_tolerance_relative: Decimal | None = Field(default=None, ge=0)
    # one duration, or one per channel ({ sms = "30m", voice = "5m" })
    stuck_after: Duration | dict[Channel, Duration] | None = None
    invoice: InvoiceMapping = InvoiceMapping()


class ScheduleSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    every: Duration = Field(description="how often a scheduled run starts")
    window: Duration = Field(description="each run reconciles the last `window` up to its start")


class ReconcileSettings(BaseModel):
    """`[reconcile]`."""

    model_config = ConfigDict(extra="forbid")

    processes: int = Field(default=1, ge=0, le=4)
    schedule: ScheduleSettings | None = None
    poll_interval: float = Field(default=2.0, gt=0)
    stuck_after: Duration = timedelta(hours=1)
    stuck_min_samples: int = Field(default=100, ge=1)
    orphan_grace: Duration = timedelta(hours=1)
    unpriced_grace: Duration = timedelta(hours=24)
    invoice_lag: Duration = timedelta(days=3)
    duplicate_window: Duration = timedelta(minutes=5)
    cost_tolerance_absolute: Decimal = Field(default=Decimal("0.0001"), ge=0)
    cost_tolerance_relative: Decimal = Field(default=Decimal("0.01"), ge=0)
    work_mem: str = Field(default="64MB", pattern=r"^\d+(kB|MB|GB)$")


def run_config(
    settings: ReconcileSettings, providers: Mapping[str, ProviderReconcileSettings]
) -> dict[str, Any]:
    """The configuration a run records and its rules read (JSON: money as strings)."""
    per_provider: dict[str, dict[str, str]] = {}
    for key, provider in sorted(providers.items()):
        tolerances = {
            name: str(value)
            for name in ("cost_tolerance_absolute", "cost_tolerance_relative")
            if (value := getattr(provider, name)) is not None
        }
        if tolerances:
            per_provider[key] = tolerances
    return {
        "defaults": {
            "cost_tolerance_absolute": str(settings.cost_tolerance_absolute),
            "cost_tolerance_relative": str(settings.cost_tolerance_relative),
        },
        "providers": per_provider,
        "stuck": {
            "configured": configured_stuck_after(providers),
            "default_after_seconds": settings.stuck_after.total_seconds(),
            "min_samples": settings.stuck_min_samples,
        },
        "orphan_grace_seconds": settings.orphan_grace.total_seconds(),
        "unpriced_grace_seconds": settings.unpriced_grace.total_seconds(),
        "invoice_lag_seconds": settings.invoice_lag.total_seconds(),
        "duplicate_window_seconds": settings.duplicate_window.total_seconds(),
    }


def configured_stuck_after(
    providers: Mapping[str, ProviderReconcileSettings],
) -> dict[str, dict[str, float]]:
    """`[providers.KEY] stuck_after` as `dlrecon_stuck` takes it: seconds per key and channel
    (`*`: every channel of the key)."""
    configured: dict[str, dict[str, float]] = {}
    for key, provider in sorted(providers.items()):
        if isinstance(provider.stuck_after, timedelta):
            configured[key] = {"*": provider.stuck_after.total_seconds()}
        elif provider.stuck_after:
            configured[key] = {ch: d.total_seconds() for ch, d in provider.stuck_after.items()}
    return configured


class WithReconcile(Protocol):
    """The whole configuration, as far as reconciliation reads it."""

    @property
    def reconcile(self) -> ReconcileSettings: ...

    @property
    def providers(self) -> Mapping[str, ProviderReconcileSettings]: ...


@dataclass(frozen=True, slots=True)
class ReconcileConfig:
    """`[reconcile]` and the provider keys' reconciliation settings, taken from the whole
    configuration once."""

    settings: ReconcileSettings
    providers: Mapping[str, ProviderReconcileSettings]

    @classmethod
    def of(cls, whole: WithReconcile) -> ReconcileConfig:
        return cls(whole.reconcile, dict(whole.providers))

    def run_config(self) -> dict[str, Any]:
        return run_config(self.settings, self.providers)
