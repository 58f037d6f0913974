"""The finance report document: what `finance.compute` returns, the JSON format as it is, and
the only input of the CSV, XLSX and HTML renderings (so the formats cannot disagree).

Amounts are exact decimals, strings in JSON ("12.3400"), always next to their currency; counts
are ints; shares are floats in [0, 1], or None when their denominator is 0. Dates are ISO;
`window.to` is exclusive. `FinanceReport.to_json()` is the JSON document (field aliases:
`from`, `to`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from receiver.views import Money

# what a group can be keyed by; currency is always part of the key (amounts of different
# currencies are never added)
Dimension = Literal["provider", "channel", "country", "currency"]
DIMENSIONS: tuple[Dimension, ...] = ("provider", "channel", "country", "currency")

# which cost a margin used: invoiced, else provider-reported, else rate card x segments;
# "mixed" when the messages of a group did not all have the same best known cost
MarginBasis = Literal["invoiced", "reported", "expected", "mixed"]

AdjustmentKind = Literal["late_message", "late_event", "late_price", "late_invoice_line"]


class Part(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, serialize_by_alias=True)


class Window(Part):
    """[from, to): `to` is exclusive."""

    start: date = Field(alias="from")
    end: date = Field(alias="to")


class RunRef(Part):
    """The reconciliation run whose findings give the amounts at stake."""

    id: int
    window_from: datetime
    window_to: datetime
    as_of: datetime
    finished_at: datetime | None


class PeriodRef(Part):
    """A month of the window: open, or closed (its figures frozen as of its cut-off)."""

    month: str = Field(description="YYYY-MM")
    state: Literal["open", "closed"]
    closed_at: datetime | None = None
    closed_by: str | None = None
    cut_off: datetime | None = None


class Messages(Part):
    """Messages of the group by their status at the cut-off; pending = not final."""

    total: int
    delivered: int
    read: int
    failed: int
    expired: int
    rejected: int
    pending: int


class AtStake(Part):
    rule: str
    findings: int
    amount: Money | None = Field(description="in the group's currency; None when unknown")


class Completeness(Part):
    """Shares in [0, 1]; None when the denominator is 0."""

    final: float | None = Field(description="messages final at the cut-off / messages")
    priced: float | None = Field(description="messages with a provider-reported cost / messages")
    invoiced: float | None = Field(description="messages with an invoice line / messages")
    matched: float | None = Field(description="invoice lines matched to a message / lines")


class Ledger(Part):
    """registered = delivered + read + failed + expired + rejected + pending, and
    invoiced = matched + unmatched (lines and amounts), each side counted separately."""

    balances: bool
    detail: str


class Figures(Part):
    """The figures of one group (or of one currency's total)."""

    key: dict[str, str | None] = Field(
        description="exactly the group_by fields (totals: only currency)"
    )
    messages: Messages
    segments: int
    value: Money = Field(description="what our customers were charged")
    expected_cost: Money = Field(description="rate card price x segments, where a card applies")
    reported_cost: Money = Field(description="the cost the provider reported in its events")
    invoiced: Money = Field(description="the invoice lines of the group")
    margin: Money | None = Field(description="value - best known cost, over messages with a cost")
    cost: Money | None = Field(
        description="the best known cost the margin used, summed over the messages with a cost"
        " (each message's invoiced, else reported, else expected cost: margin_basis)"
    )
    margin_basis: MarginBasis | None
    at_stake: list[AtStake]
    completeness: Completeness
    ledger: Ledger


class Day(Part):
    day: date
    currency: str | None
    messages: int
    value: Money
    margin: Money | None


class RuleTotal(Part):
    rule: str
    currency: str | None
    findings: int
    amount: Money | None


class Adjustment(Part):
    """Something that arrived for a closed month after it was closed: shown in the report of
    the next open month, never as a change to the closed one."""

    month: str = Field(description="the closed month it belongs to (YYYY-MM)")
    kind: AdjustmentKind
    provider: str | None
    currency: str | None
    message_id: int | None
    invoice_line_id: int | None
    field: str = Field(description="the figure it changes: delivered, reported_cost, invoiced...")
    amount: Money | None = Field(description="the change of an amount, in its currency")
    count: int = Field(description="the change of a count (messages by status), else 0")
    reason: str


class FinanceReport(Part):
    report: Literal["finance"] = "finance"
    window: Window
    as_of: datetime
    group_by: list[Dimension]
    run: RunRef | None
    periods: list[PeriodRef]
    groups: list[Figures]
    totals: list[Figures] = Field(description="one per currency, key = {currency}")
    daily: list[Day]
    findings: list[RuleTotal]
    adjustments: list[Adjustment]
    frozen: list[str] = Field(description="months served from a closed period's snapshot")

    def to_json(self) -> dict[str, Any]:
        """The JSON document (amounts as strings, dates as ISO text)."""
        return self.model_dump(mode="json", by_alias=True)
