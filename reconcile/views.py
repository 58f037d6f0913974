"""What the reconciliation API answers (and the CLI renders): runs, their findings, findings
with their lifecycle. Money is exact (a string in JSON) and always with its currency."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from receiver.views import Money, View
from reconcile.db import findings as finding_store
from reconcile.db import runs

State = Literal["open", "acknowledged", "resolved", "accepted"]


class RunRequest(BaseModel):
    """A run over [from, to) as of a cut-off (default: now)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    window_from: datetime = Field(alias="from", description="start of the window (inclusive)")
    window_to: datetime = Field(alias="to", description="end of the window (exclusive)")
    as_of: datetime | None = Field(
        default=None, description="nothing received or imported after it is seen (default: now)"
    )


class RunAccepted(View):
    id: int
    state: str
    href: str = Field(description="where to follow the run")


class AmountView(View):
    currency: str
    amount: Money


class RuleView(View):
    rule: str
    findings: int
    duration_ms: int
    amounts: list[AmountView] = Field(description="amount at stake per currency")


class LedgerView(View):
    """registered = delivered + read + failed + expired + rejected + pending (messages);
    invoiced = matched + unmatched (invoice lines), per provider key and currency."""

    provider: str
    currency: str | None
    registered: int
    delivered: int
    read: int
    failed: int
    expired: int
    rejected: int
    pending: int
    registered_value: Money
    invoiced_lines: int
    invoiced_amount: Money
    matched_lines: int
    matched_amount: Money
    unmatched_lines: int
    unmatched_amount: Money
    balanced: bool


class RunView(View):
    id: int
    state: Literal["queued", "running", "succeeded", "failed"]
    window_from: datetime = Field(alias="from")
    window_to: datetime = Field(alias="to")
    as_of: datetime
    trigger: str
    requested_by: str | None
    requested_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    error: str | None
    findings: int
    rules: list[RuleView]
    ledger: list[LedgerView]
    balanced: bool = Field(description="every ledger row balances")
    config: dict[str, Any] = Field(description="the configuration the run used")


class RunFindingView(View):
    id: int
    rule: str
    subject: str
    provider: str | None
    message_id: int | None
    invoice_line_id: int | None
    event_id: int | None
    amount: Money | None
    currency: str | None
    explanation: str
    evidence: dict[str, Any]
    state: State = Field(description="the finding's state now")
    reopened: bool = Field(description="this run found it again after it was resolved")


class RunFindings(View):
    findings: list[RunFindingView]
    next: str | None = Field(description="give as `after` for the next page; null: no more")


class ChangeView(View):
    at: datetime
    by: str
    from_state: State | None
    to_state: State
    note: str | None
    run_id: int | None


class FindingView(View):
    id: int
    rule: str
    subject: str
    provider: str | None
    message_id: int | None
    invoice_line_id: int | None
    event_id: int | None
    state: State
    note: str | None
    state_by: str | None
    state_at: datetime | None
    first_seen_run: int
    last_seen_run: int
    first_seen_at: datetime
    last_seen_at: datetime
    runs: int = Field(description="how many runs saw it")
    amount: Money | None
    currency: str | None
    explanation: str
    evidence: dict[str, Any]


class FindingDetail(FindingView):
    changes: list[ChangeView]
    seen_by_runs: list[int]


class FindingList(View):
    findings: list[FindingView]
    next: int | None = Field(description="give as `after` for the next page; null: no more")


class FindingChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: State
    note: str | None = Field(default=None, max_length=2000)


def run_view(
    run: runs.Run,
    counts: list[runs.RuleCount],
    amounts: list[runs.RuleAmount],
    ledger: list[runs.LedgerRow],
) -> RunView:
    by_rule: dict[str, list[AmountView]] = {}
    for a in amounts:
        by_rule.setdefault(a.rule, []).append(AmountView(currency=a.currency, amount=a.amount))
    rows = []
    for r in ledger:
        fields = vars_of(r)
        fields["provider"] = fields.pop("provider_key")
        rows.append(LedgerView(**fields))
    return RunView(
        id=run.id,
        state=run.state,
        window_from=run.window_from,
        window_to=run.window_to,
        as_of=run.as_of,
        trigger=run.trigger,
        requested_by=run.requested_by,
        requested_at=run.requested_at,
        started_at=run.started_at,
        finished_at=run.finished_at,
        duration_seconds=run.duration_seconds,
        error=run.error,
        findings=sum(c.findings for c in counts),
        rules=[
            RuleView(
                rule=c.rule,
                findings=c.findings,
                duration_ms=c.duration_ms,
                amounts=by_rule.get(c.rule, []),
            )
            for c in counts
        ],
        ledger=rows,
        balanced=all(r.balanced for r in ledger),
        config=run.config,
    )


def vars_of(row: object) -> dict[str, Any]:
    return {name: getattr(row, name) for name in row.__slots__}  # type: ignore[attr-defined]


def run_finding_view(f: runs.RunFinding) -> RunFindingView:
    data = vars_of(f)
    data["provider"] = data.pop("provider_key")
    return RunFindingView(**data)


def finding_view(f: finding_store.Finding) -> FindingView:
    data = vars_of(f)
    data["provider"] = data.pop("provider_key")
    return FindingView(**data)


def finding_detail(
    f: finding_store.Finding, changes: list[finding_store.Change], seen_by: list[int]
) -> FindingDetail:
    data = finding_view(f).model_dump()
    return FindingDetail(
        **data, changes=[ChangeView(**vars_of(c)) for c in changes], seen_by_runs=seen_by
    )
