"""What arrived for a closed month after it was closed: an adjustment, shown (with its reason)
in the report of the first open month after it, never as a change to the closed month."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal

from receiver.db.pool import Connection
from reconcile.db import reports as store
from reconcile.reports import months


async def shown_in(
    conn: Connection, month: date, closed: Mapping[date, store.Closing], as_of: datetime
) -> list[store.AdjustmentRow]:
    """The adjustments the report of the open month `month` shows, as of `as_of`: for each
    closed month before it (with only closed months in between), what arrived after the
    latest cut-off of the closed months from it up to `month` (what arrived earlier was shown,
    and frozen, in an earlier month's report)."""
    found: list[store.AdjustmentRow] = []
    since: datetime | None = None
    earlier = months.preceding(month)
    while earlier in closed:
        closing = closed[earlier]
        since = closing.cut_off if since is None else max(since, closing.cut_off)
        if since < as_of:
            items = await store.late_items(
                conn,
                months.midnight(earlier),
                months.midnight(months.following(earlier)),
                since,
                as_of,
            )
            found.extend(_adjustment(earlier, item) for item in items)
        earlier = months.preceding(earlier)
    found.sort(key=lambda a: (a.arrived_at, a.month, a.kind, a.message_id or 0))
    return found


def _adjustment(month: date, item: store.LateItem) -> store.AdjustmentRow:
    return store.AdjustmentRow(
        month=month,
        kind=item.kind,
        provider=item.provider,
        currency=item.currency,
        message_id=item.message_id,
        invoice_line_id=item.invoice_line_id,
        field=item.field,
        amount=item.amount,
        count=item.count,
        reason=reason(months.name(month), item),
        arrived_at=item.arrived_at,
    )


def _money(amount: Decimal | None, currency: str | None) -> str:
    return "no amount" if amount is None else f"{amount} {currency or ''}".rstrip()


def reason(month: str, item: store.LateItem) -> str:
    """One line saying what arrived, when, and that it came after the month was closed."""
    when = item.arrived_at.strftime("%Y-%m-%d %H:%M UTC")
    after = f"after {month} was closed"
    if item.kind == "late_message":
        return (
            f"message {item.message_id} ({item.provider}, sent in {month}, value "
            f"{_money(item.amount, item.currency)}) was registered on {when}, {after}"
        )
    if item.kind == "late_event":
        return (
            f"a {item.new_status} report for message {item.message_id} ({item.provider}) "
            f"arrived on {when}, {after} (it was {item.old_status} at the cut-off)"
        )
    if item.kind == "late_price":
        return (
            f"the price {item.provider} reported for message {item.message_id} changed by "
            f"{_money(item.amount, item.currency)} on {when}, {after}"
        )
    target = (
        f"message {item.message_id}" if item.message_id is not None else "no registered message"
    )
    return (
        f"{item.provider} invoice {item.invoice_id} line {item.line_no} "
        f"({_money(item.amount, item.currency)}, {target}) was imported on {when}, {after}"
    )
