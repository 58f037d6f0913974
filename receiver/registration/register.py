"""Registering a batch: each item validated, its submit response read by its adapter, the
batch written with its submit events, and the orphan events it claims matched."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from receiver import adapters, phones
from receiver.adapters.base import Adapter, ParseError
from receiver.db import events as event_store
from receiver.db import messages as message_store
from receiver.db.events import EventRow
from receiver.db.pool import Connection, transaction
from receiver.model import Channel, Source, Submission, SubmitOutcome
from receiver.registration import links
from receiver.registration.model import ItemResult, MessageIn, describe_validation_error
from receiver.registration.text import has_lone_surrogate, has_nul
from receiver.settings import Settings


@dataclass(slots=True)
class Prepared:
    """An item that passed validation, with what its adapter read from the submit response."""

    index: int
    message: MessageIn
    adapter: Adapter
    outcome: SubmitOutcome
    ids: tuple[str, ...]
    destination: str | None
    warning: str | None


_LONE_SURROGATE = (
    "contains a lone surrogate (\\ud800-\\udfff, not part of a pair), which cannot be stored"
)


def prepare(index: int, raw: Any, settings: Settings) -> Prepared | ItemResult:
    """Validate one item and let its adapter read the submit response; or its error."""
    if has_nul(raw):
        return ItemResult(index, error="contains a NUL character (\\u0000), which cannot be stored")
    if has_lone_surrogate(raw):
        return ItemResult(index, error=_LONE_SURROGATE)
    try:
        message = MessageIn.model_validate(raw)
    except ValidationError as exc:
        return ItemResult(index, error=describe_validation_error(exc))
    if message.provider not in settings.providers:
        return ItemResult(index, error=f"provider: unknown provider key {message.provider!r}")
    adapter = adapters.get(settings.adapter_name(message.provider))
    options = settings.providers[message.provider].options()
    given = tuple(adapter.canonical_id(i, options) for i in message.provider_message_ids)
    try:
        destination = phones.normalise_destination(message.destination)
    except phones.NotAPhoneNumber as exc:
        return ItemResult(index, error=f"destination: {exc}")
    submission = Submission(
        provider_key=message.provider,
        channel=message.channel,
        client_ref=message.client_ref,
        provider_message_ids=given,
        destination=destination,
        submitted_at=message.submitted_at,
        submit_response=message.submit_response,
        submit_http_status=message.submit_http_status,
        segments=message.segments,
    )
    warning = None
    try:
        outcome = adapter.parse_submit(submission, options)
    except ParseError as exc:
        outcome, warning = SubmitOutcome(), f"submit_response not understood: {exc}"
    ids = tuple(dict.fromkeys(given + outcome.provider_message_ids))
    final = any(e.status.final for e in outcome.events)  # e.g. refused at submit: complete
    if not ids and message.client_ref is None and not final:
        return ItemResult(index, error=UNMATCHABLE)
    return Prepared(index, message, adapter, outcome, ids, destination, warning)


UNMATCHABLE = (
    "neither client_ref nor provider_message_ids (and the submit_response names no id): "
    "no callback could ever be matched to this message; give at least one of them"
)


async def register(
    conn: Connection, settings: Settings, items: Sequence[Any], *, now: datetime | None = None
) -> list[ItemResult]:
    """Register a batch in one transaction; bad items get errors, good ones are kept.
    Idempotent."""
    now = now or datetime.now(UTC)
    results: dict[int, ItemResult] = {}
    prepared: list[Prepared] = []
    for index, raw in enumerate(items):
        outcome = prepare(index, raw, settings)
        if isinstance(outcome, ItemResult):
            results[index] = outcome
        else:
            prepared.append(outcome)
    if prepared:
        async with transaction(conn):
            await _write(conn, prepared, results, now)
    return [results[i] for i in range(len(items))]


async def _write(
    conn: Connection, prepared: list[Prepared], results: dict[int, ItemResult], now: datetime
) -> None:
    """Store the prepared items and their submit events; put each one's outcome in `results`."""
    items_in = [new_message(p) for p in prepared]
    keys = ((m.item_no, m.provider_key, m.client_ref, m.provider_message_ids) for m in items_in)
    registered = await message_store.register(conn, items_in, links.link(keys))
    by_index = {r.item_no: r for r in registered}
    rows = []
    for p in prepared:
        reg = by_index[p.index]
        if reg.message_id is None:
            results[p.index] = ItemResult(p.index, error=conflict_error(reg.conflict_with))
            continue
        results[p.index] = ItemResult(p.index, reg.message_id, not reg.existed, warning=p.warning)
        rows.extend(submit_events(p, reg.message_id, now))
    await event_store.insert(conn, rows)
    message_ids = {r.message_id for r in registered if r.message_id is not None}
    orphans = await event_store.orphans_for(conn, message_ids)
    if orphans:
        message_ids |= await event_store.match(conn, orphans)
    await event_store.refresh_status(conn, message_ids)


def conflict_error(other: int | None) -> str:
    """The error of an item whose provider id belongs to a message with another client ref."""
    return f"provider_message_ids: already registered to message {other} with another client_ref"


def new_message(p: Prepared) -> message_store.NewMessage:
    """What `messages.register` stores for a prepared item."""
    m = p.message
    return message_store.NewMessage(
        item_no=p.index,
        provider_key=m.provider,
        channel=channel_of(m, p.outcome).value,
        client_ref=m.client_ref,
        destination=p.destination,
        submitted_at=m.submitted_at,
        body_text=m.text,
        segments=m.segments or p.outcome.segments,
        value=m.value,
        cost=m.cost if m.cost is not None else _outcome_cost(m, p.outcome),
        currency=m.currency or p.outcome.currency,
        submit_response=m.submit_response,
        submit_http_status=m.submit_http_status,
        provider_message_ids=p.ids,
    )


def _outcome_cost(m: MessageIn, outcome: SubmitOutcome) -> Decimal | None:
    """The provider's estimated cost, only when it is in the message's currency (or that is
    not given): money never takes another amount's currency."""
    if outcome.cost is None or (m.currency and outcome.currency not in (None, m.currency)):
        return None
    return outcome.cost


def channel_of(m: MessageIn, outcome: SubmitOutcome) -> Channel:
    """The registered channel; when the sender gave none, the one the submit response shows."""
    return m.channel if "channel" in m.model_fields_set else outcome.channel or m.channel


def submit_events(p: Prepared, message_id: int, now: datetime) -> list[EventRow]:
    """The submit events of a prepared item registered as `message_id`."""
    rows = []
    told = p.outcome.channel
    for event in p.outcome.events:
        if told is not None and told != channel_of(p.message, p.outcome):
            # the sender's explicit channel wins; the response's is kept as evidence
            details = {**event.details, "channel_in_submit_response": told.value}
            event = dataclasses.replace(event, details=details)
        part = (
            p.ids.index(event.provider_message_id) if event.provider_message_id in p.ids else None
        )
        rows.append(
            EventRow(
                provider_key=p.message.provider,
                source=Source.SUBMIT,
                event=event,
                received_at=p.message.submitted_at or now,
                message_id=message_id,
                part_no=part,
            )
        )
    return rows
