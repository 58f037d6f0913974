"""The cheap path of imports: plain rows become staging records without pydantic or adapter."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from receiver import adapters, phones
from receiver.model import Channel
from receiver.registration.model import MessageIn
from receiver.registration.text import SURROGATE
from receiver.settings import Settings

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
        and (value.isascii() or SURROGATE.search(value) is None)
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
        if not ids and client_ref is None:
            return None  # refused: the full path words the error
        try:
            destination = phones.normalise_destination(destination)
        except phones.NotAPhoneNumber:
            return None  # refused, as above
        return (
            index,
            provider,
            channel,
            client_ref,
            destination,
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
