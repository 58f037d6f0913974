"""What the periods API answers (and `dlrecon period` prints)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from receiver.views import View
from reconcile.db import reports as store
from reconcile.reports import months
from reconcile.reports.periods import Period


class ClosingView(View):
    """One closing of a month, and its reopening when there was one."""

    id: int
    month: str
    cut_off: datetime = Field(description="the figures are frozen as of this time")
    closed_at: datetime
    closed_by: str
    run_id: int | None = Field(description="the run whose findings gave the amounts at stake")
    reopened_at: datetime | None
    reopened_by: str | None
    reopen_reason: str | None


class PeriodView(View):
    month: str = Field(description="YYYY-MM")
    state: Literal["open", "closed"]
    closing: ClosingView | None = Field(description="the closing in force (closed months)")
    history: list[ClosingView] = Field(description="every closing of the month, oldest first")


class PeriodList(View):
    periods: list[PeriodView] = Field(description="every month ever closed, oldest first")


class ReopenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=2000, description="why it is reopened")


def closing_view(c: store.Closing) -> ClosingView:
    return ClosingView(
        id=c.id,
        month=months.name(c.month),
        cut_off=c.cut_off,
        closed_at=c.closed_at,
        closed_by=c.closed_by,
        run_id=c.run_id,
        reopened_at=c.reopened_at,
        reopened_by=c.reopened_by,
        reopen_reason=c.reopen_reason,
    )


def period_view(p: Period) -> PeriodView:
    return PeriodView(
        month=p.month,
        state="closed" if p.state == "closed" else "open",
        closing=closing_view(p.closing) if p.closing else None,
        history=[closing_view(c) for c in p.history],
    )
