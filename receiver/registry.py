"""Registering sent messages: validation, the provider's submit response, matching orphans."""

from __future__ import annotations

import functools
import re
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


def has_lone_surrogate(value: Any) -> bool:
    """Whether a lone surrogate (a JSON escape such as "\\ud800" that pairs with nothing) is
    anywhere in a decoded JSON value (keys too): no UTF-8 text holds one, so Postgres would
    refuse the whole batch. Iterative, as `has_nul`."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and _SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            for key, inner in item.items():
                key = str(key)
                if not key.isascii() and _SURROGATE.search(key):
                    return True
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def normalise_destination(raw: str | None) -> str | None:
    """E.164 when the number parses (`+` prefix), else the digits as given."""
    if raw is None:
        return None
    if _already_e164(raw):
        return raw
    return _normalise_with_library(raw)


@functools.lru_cache(maxsize=65536)
def _normalise_with_library(raw: str) -> str:
    if raw.startswith("+"):
        try:
            number = phonenumbers.parse(raw, None)
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
        except phonenumbers.NumberParseException:
            pass
    digits = "".join(ch for ch in raw if ch.isdigit() or ch == "+")
    return digits or raw


_PLUS_DIGITS = re.compile(r"\+[1-9][0-9]{2,}")


def _already_e164(raw: str) -> bool:
    """Whether `_normalise_with_library(raw)` is certainly `raw` itself, without parsing.

    For `+` and three or more ASCII digits, phonenumbers either fails (then the digits, `raw`,
    are kept) or formats `+`, the country code it took from the front (the first one to three
    digits that are one) and the rest, which comes back digit for digit (leading zeros too)
    unless the country's national prefix is stripped from it. So `raw` is kept whenever that
    country has no national prefix pattern or the pattern does not match the rest.
    Anything else goes to the library. (tests/unit/test_import_rows.py compares the two.)
    """
    if not _PLUS_DIGITS.fullmatch(raw):
        return False
    for size in (1, 2, 3):
        country_code = int(raw[1 : 1 + size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            safe, prefix = _national_prefix(country_code)
            return safe and (prefix is None or prefix.match(raw[1 + size :]) is None)
    return False


@functools.cache
def _national_prefix(country_code: int) -> tuple[bool, re.Pattern[str] | None]:
    """(whether the country code has metadata, its national prefix pattern if it has one)."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return False, None
    pattern = metadata.national_prefix_for_parsing
    return True, re.compile(pattern) if pattern else None


def describe_validation_error(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        key = ".".join(str(p) for p in error["loc"])
        parts.append(f"{key}: {error['msg']}" if key else error["msg"])
    return "; ".join(parts)


# ---- plain rows: the cheap path of imports ---------------------------------------------------
# A row without submit response or submit HTTP status gets its adapter's default outcome (one
# "registered" event per provider id; tests/unit/test_import_rows.py checks every adapter).
# When every value is also of a simple form, checking it here gives what MessageIn would give
# (the same test compares them), and the row needs neither pydantic nor the adapter: it becomes
# a staging record directly. Anything else returns None and takes the full path (`prepare`),
# which also words the errors.

_MESSAGE_FIELDS = frozenset(MessageIn.model_fields)
_CHANNELS = frozenset(c.value for c in Channel)
_SEGMENTS = re.compile(r"[1-9][0-9]{0,2}")
_MONEY = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,8})?")
_CURRENCY = re.compile(r"[A-Z]{3}")
_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,6})?"
    r"(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])?"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_NOT_PLAIN = object()


def _plain_text(value: Any, max_length: int) -> Any:
    """A string MessageIn keeps as it is ("" is None), else `_NOT_PLAIN`."""
    if value is None or value == "":
        return None
    if type(value) is not str or len(value) > max_length or not _plain_string(value):
        return _NOT_PLAIN
    return value


def _plain_string(value: str) -> bool:
    """No NUL, no lone surrogate (from JSON escapes; pydantic refuses them), nothing to strip
    (str.strip removes a superset of what pydantic strips)."""
    return (
        "\x00" not in value
        and (value.isascii() or _SURROGATE.search(value) is None)
        and value == value.strip()
    )


def _plain_money(value: Any) -> Any:
    if value is None or value == "":
        return None
    if type(value) is str and _MONEY.fullmatch(value):
        return Decimal(value)
    if type(value) is int and 0 <= value < 10**12:
        return Decimal(value)
    return _NOT_PLAIN


def _plain_segments(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is str and _SEGMENTS.fullmatch(value):
        value = int(value)
    if type(value) is int and 1 <= value <= 255:
        return value
    return _NOT_PLAIN


def _plain_time(value: Any) -> Any:
    if value is None:
        return None
    if type(value) is not str or not _TIME.fullmatch(value):
        return _NOT_PLAIN
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return _NOT_PLAIN
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


class PlainRows:
    """Staging records (`imports.COLUMNS`) for plain rows, None for the others."""

    def __init__(self, settings: Settings) -> None:
        self._providers = {
            key: (adapters.get(settings.adapter_name(key)), settings.providers[key].options())
            for key in settings.providers
            if key and key == key.strip() and "\x00" not in key
        }

    def record(self, index: int, raw: Any, now: datetime) -> tuple[Any, ...] | None:
        if type(raw) is not dict or not _MESSAGE_FIELDS.issuperset(raw):
            return None
        get = raw.get
        provider = get("provider")
        channel = get("channel", "sms")
        if (
            type(provider) is not str
            or provider not in self._providers
            or type(channel) is not str
            or channel not in _CHANNELS
            or get("submit_response") is not None
            or get("submit_http_status") is not None
        ):
            return None
        client_ref = _plain_text(get("client_ref"), 256)
        destination = _plain_text(get("destination"), 64)
        text = _plain_text(get("text"), 65536)
        submitted_at = _plain_time(get("submitted_at"))
        segments = _plain_segments(get("segments"))
        value = _plain_money(get("value"))
        cost = _plain_money(get("cost"))
        currency = get("currency")
        raw_ids = get("provider_message_ids", [])
        if (
            _NOT_PLAIN in (client_ref, destination, text, submitted_at, segments, value, cost)
            or not (currency is None or (type(currency) is str and _CURRENCY.fullmatch(currency)))
            or (currency is None and (value is not None or cost is not None))
            or type(raw_ids) is not list
            or len(raw_ids) > 255
        ):
            return None
        for pid in raw_ids:
            if type(pid) is not str or not pid or not _plain_string(pid):
                return None
        adapter, options = self._providers[provider]
        ids = list(dict.fromkeys(adapter.canonical_id(pid, options) for pid in raw_ids))
        return (
            index,
            provider,
            channel,
            client_ref,
            normalise_destination(destination),
            submitted_at,
            text,
            segments,
            value,
            cost,
            currency,
            None,  # submit_response
            None,  # submit_http_status
            ids,
            None,  # same_as: see `imports.with_links`
            None,  # clash_with
            None,  # same_as_parts
            True,  # plain
            submitted_at or now,  # status_at: the time of its submit events
        )


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
    return Prepared(index, message, adapter, outcome, ids, destination, warning)


async def register(
    conn: Connection, settings: Settings, items: Sequence[Any], *, now: datetime | None = None
) -> list[ItemResult]:
    """Register a batch; bad items get errors, good ones are kept. Idempotent."""
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
        async with conn.transaction():
            registered = await message_store.register(conn, [new_message(p) for p in prepared])
            by_index = {r.item_no: r for r in registered}
            rows = []
            for p in prepared:
                reg = by_index[p.index]
                if reg.message_id is None:
                    results[p.index] = ItemResult(p.index, error=conflict_error(reg.conflict_with))
                    continue
                results[p.index] = ItemResult(
                    p.index, reg.message_id, not reg.existed, warning=p.warning
                )
                rows.extend(submit_events(p, reg.message_id, now))
            await event_store.insert(conn, rows)
            message_ids = {r.message_id for r in registered if r.message_id is not None}
            orphans = await event_store.orphans_for(conn, message_ids)
            if orphans:
                message_ids |= await event_store.match(conn, orphans)
            await event_store.refresh_status(conn, message_ids)
    return [results[i] for i in range(len(items))]


def conflict_error(other: int | None) -> str:
    """The error of an item whose provider id belongs to a message with another client ref."""
    return f"provider_message_ids: already registered to message {other} with another client_ref"


def new_message(p: Prepared) -> message_store.NewMessage:
    """What `messages.register` stores for a prepared item."""
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


def submit_events(p: Prepared, message_id: int, now: datetime) -> list[EventRow]:
    """The submit events of a prepared item registered as `message_id`."""
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
