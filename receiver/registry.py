"""Registering sent messages: validation, the provider's submit response, matching orphans."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from receiver import adapters
from receiver.adapters.base import Adapter, ParseError
from receiver.db import events as event_store
from receiver.db import messages as message_store
from receiver.db.events import EventRow
from receiver.db.pool import Connection
from receiver.model import Channel, Source, Submission, SubmitOutcome
from receiver.settings import Settings


class MessageIn(BaseModel):
    """One registered message, as the sending system describes it."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    provider: str = Field(min_length=1)
    channel: Channel = Channel.SMS
    client_ref: str | None = Field(default=None, max_length=256)
    provider_message_ids: list[str] = Field(default_factory=list, max_length=255)
    destination: str | None = Field(default=None, max_length=64)
    submitted_at: datetime | None = None
    text: str | None = Field(default=None, max_length=65536)
    segments: int | None = Field(default=None, ge=1, le=255)
    value: Decimal | None = Field(default=None, ge=0, max_digits=20, decimal_places=8)
    cost: Decimal | None = Field(default=None, ge=0, max_digits=20, decimal_places=8)
    currency: str | None = Field(default=None, pattern=r"^[A-Z]{3}$")
    submit_response: Any = None
    submit_http_status: int | None = Field(default=None, ge=100, le=599)

    @field_validator("client_ref", "destination", "text", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("value", "cost", mode="before")
    @classmethod
    def _no_float_money(cls, value: Any) -> Any:
        if isinstance(value, float):
            raise ValueError("money must be a string or an exact decimal, not a float")
        return None if value == "" else value

    @field_validator("provider_message_ids")
    @classmethod
    def _ids(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value if v and v.strip()]
        return list(dict.fromkeys(cleaned))

    @field_validator("submitted_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value

    @model_validator(mode="after")
    def _currency_with_money(self) -> MessageIn:
        if (self.value is not None or self.cost is not None) and self.currency is None:
            raise ValueError("currency is required with value or cost")
        return self


@dataclass(frozen=True, slots=True)
class ItemResult:
    """The outcome of one registered item: a message id, or an error."""

    index: int
    message_id: int | None = None
    created: bool = False
    error: str | None = None
    warning: str | None = None


def has_nul(value: Any) -> bool:
    """Whether a NUL character is anywhere in a decoded JSON value (keys too).

    Postgres stores no NUL in text or jsonb: such input is refused up front, not a 500.
    Iterative, so deeply nested values cannot exhaust the stack.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in str(key):
                    return True
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
    return False


@functools.lru_cache(maxsize=65536)
def normalise_destination(raw: str | None) -> str | None:
    """E.164 when the number parses (`+` prefix), else the digits as given."""
    if raw is None:
        return None
    if raw.startswith("+"):
        try:
            number = phonenumbers.parse(raw, None)
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            pass
    digits = "".join(ch for ch in raw if ch.isdigit() or ch == "+")
    return digits or raw


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"])
        parts.append(f"{key}: {error['msg']}" if key else error["msg"])
    return "; ".join(parts)


@dataclass(slots=True)
class _Prepared:
    index: int
    message: MessageIn
    adapter: Adapter
    outcome: SubmitOutcome
    ids: tuple[str, ...]
    destination: str | None
    warning: str | None


def _prepare(index: int, raw: Any, settings: Settings) -> _Prepared | ItemResult:
    if has_nul(raw):
        return ItemResult(index, error="contains a NUL character (\\u0000), which cannot be stored")
    try:
        message = MessageIn.model_validate(raw)
    except ValidationError as exc:
        return ItemResult(index, error=describe_validation_error(exc))
    if message.provider not in settings.providers:
        return ItemResult(index, error=f"provider: unknown provider key {message.provider!r}")
    adapter = adapters.get(settings.adapter_name(message.provider))
    options = settings.providers[message.provider].options()
    given = tuple(adapter.canonical_id(i, options) for i in message.provider_message_ids)
    destination = normalise_destination(message.destination)
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
    return _Prepared(index, message, adapter, outcome, ids, destination, warning)


async def register(
    conn: Connection, settings: Settings, items: Sequence[Any], *, now: datetime | None = None
) -> list[ItemResult]:
    """Register a batch; bad items get errors, good ones are kept. Idempotent."""
    now = now or datetime.now(UTC)
    results: dict[int, ItemResult] = {}
    prepared: list[_Prepared] = []
    for index, raw in enumerate(items):
        outcome = _prepare(index, raw, settings)
        if isinstance(outcome, ItemResult):
            results[index] = outcome
        else:
            prepared.append(outcome)
    if prepared:
        async with conn.transaction():
            registered = await message_store.register(conn, [_new_message(p) for p in prepared])
            by_index = {r.item_no: r for r in registered}
            rows = []
            for p in prepared:
                reg = by_index[p.index]
                if reg.message_id is None:
                    results[p.index] = ItemResult(
                        p.index,
                        error=f"provider_message_ids: already registered to message "
                        f"{reg.conflict_with} with another client_ref",
                    )
                    continue
                results[p.index] = ItemResult(
                    p.index, reg.message_id, not reg.existed, warning=p.warning
                )
                rows.extend(_submit_events(p, reg.message_id, now))
            await event_store.insert(conn, rows)
            message_ids = {r.message_id for r in registered if r.message_id is not None}
            orphans = await event_store.orphans_for(conn, message_ids)
            if orphans:
                message_ids |= await event_store.match(conn, orphans)
            await event_store.refresh_status(conn, message_ids)
    return [results[i] for i in range(len(items))]


def _new_message(p: _Prepared) -> message_store.NewMessage:
    m = p.message
    return message_store.NewMessage(
        item_no=p.index,
        provider_key=m.provider,
        channel=m.channel.value,
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


def _submit_events(p: _Prepared, message_id: int, now: datetime) -> list[EventRow]:
    rows = []
    for event in p.outcome.events:
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
