"""The answers of the on-call API (and what `dlrecon health`, `dlrecon stuck` and `/ops` show):
one model each, from which the OpenAPI document is generated."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from receiver.views import StoredRequestView, View

State = Literal["ok", "slow", "silent", "failing"]


class WindowFigures(View):
    """What a provider key sent and got back over one window."""

    sent: int = Field(description="messages submitted in the window")
    finals: int = Field(description="of those, final now")
    failures: int = Field(description="of those, failed, expired or rejected")
    failure_share: float | None = Field(description="failures / finals")
    failures_by_class: dict[str, int] = Field(description="failures by error class")
    callbacks: int = Field(description="callbacks received in the window (not refused)")
    callbacks_per_sent: float | None = Field(description="callbacks / sent")
    orphans: int = Field(description="events received in the window still unmatched")
    orphan_rate: float | None = Field(description="orphans / callbacks")
    quarantined: int = Field(description="callbacks received in the window and quarantined")
    quarantine_rate: float | None = Field(description="quarantined / callbacks")
    verification_failures: int = Field(
        description="callbacks refused (401) or held (verify = quarantine) in the window"
    )
    median_to_final_seconds: float | None
    p95_to_final_seconds: float | None
    open_late: int = Field(description="sent in the window, still open past `late_after_seconds`")
    late_after_seconds: float


class UsualFigures(View):
    """The key's own usual figures: its messages sent over the usual period."""

    start: datetime
    end: datetime
    sent: int
    callbacks_per_sent: float | None
    failure_share: float | None
    median_to_final_seconds: float | None
    p95_to_final_seconds: float | None
    computed_at: datetime


class ProviderHealth(View):
    """One provider key over one window: its figures, its usual ones, and a state."""

    provider: str
    window: str = Field(examples=["15m"])
    state: State
    reason: str = Field(description="why the key has this state (the first reason of it)")
    reasons: list[str] = Field(description="every condition found, worst first")
    figures: WindowFigures
    figures_at: datetime = Field(
        description="when the figures were computed: now, or up to [oncall.health] "
        "long_window_refresh ago for a window longer than 1 hour"
    )
    usual: UsualFigures | None = Field(
        description="null while the key has too few messages in the usual period"
    )


class HealthAnswer(View):
    as_of: datetime
    windows: list[str]
    providers: list[ProviderHealth]


class InboxCount(View):
    provider: str
    state: Literal["quarantined", "held"]
    count: int


class InboxList(View):
    """Quarantined and held callbacks, newest first."""

    counts: list[InboxCount] = Field(description="every quarantined and held row, per key")
    requests: list[StoredRequestView]
    next_cursor: str | None = Field(description="give as `cursor` for the next page")


ThresholdSource = Literal["configured", "learned", "default"]


class StuckGroup(View):
    """Stuck messages of one provider key and channel, with the threshold used and why."""

    provider: str
    channel: str
    count: int
    threshold_seconds: float
    threshold: str = Field(examples=["45m"])
    threshold_source: ThresholdSource
    samples: int | None = Field(description="finals the threshold was learned from (or too few)")
    why: str = Field(description="the threshold's source in words")
    threshold_learned_at: datetime | None = Field(
        description="when a learned (or default) threshold was worked out"
    )
    oldest: datetime = Field(description="open since (the oldest of the group)")


class StuckCount(View):
    key: str
    count: int


class AgeCount(View):
    age: Literal["lt_15m", "15m_1h", "1h_6h", "6h_24h", "gt_24h"]
    label: str
    count: int


class ProviderAgeCount(View):
    provider: str
    age: Literal["lt_15m", "15m_1h", "1h_6h", "6h_24h", "gt_24h"]
    count: int


class StuckMessage(View):
    message_id: int
    provider: str
    channel: str
    status: str = Field(description="its status (not final)")
    since: datetime = Field(description="submitted (registered, when no submit time was given)")
    stuck_at: datetime = Field(description="since + threshold")
    threshold_seconds: float
    threshold_source: ThresholdSource


class StuckAnswer(View):
    """Messages not final past their threshold (the shared definition, `dlrecon_stuck`)."""

    as_of: datetime
    total: int
    groups: list[StuckGroup]
    by_provider: list[StuckCount]
    by_channel: list[StuckCount]
    by_status: list[StuckCount]
    by_age: list[AgeCount]
    by_provider_age: list[ProviderAgeCount]
    messages: list[StuckMessage] = Field(description="newest problems first")
    next_cursor: str | None
