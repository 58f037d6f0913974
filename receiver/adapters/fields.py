"""Small parsing helpers shared by adapters (all raise ParseError on bad input)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from receiver.adapters.base import ParseError
from receiver.model import RawRequest


def json_body(request: RawRequest) -> Any:
    """The body decoded as JSON."""
    try:
        # numbers as Decimal so prices stay exact; NaN/Infinity are not JSON money
        return json.loads(
            request.body.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constants
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError and integers too long to convert
        raise ParseError(f"body is not valid JSON: {type(exc).__name__}: {exc}"[:300]) from None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def form_body(request: RawRequest) -> dict[str, str]:
    """The body decoded as `application/x-www-form-urlencoded` (last value wins)."""
    try:
        text = request.body.decode("utf-8")
        return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(f"body is not a valid form: {exc}") from None


def params(request: RawRequest) -> dict[str, Any]:
    """Fields from wherever the provider put them: JSON body, form body, or query string.

    JSON when the content type says so or the body starts with `{`; a form when the
    body is non-empty; the query string otherwise. Query fields fill in what the body lacks.
    """
    body = request.body.strip()
    fields: dict[str, Any] = {}
    if body:
        if "json" in request.content_type or body[:1] in (b"{", b"["):
            decoded = json_body(request)
            if not isinstance(decoded, dict):
                raise ParseError("JSON body is not an object")
            fields = decoded
        else:
            fields = form_body(request)
    for key, value in request.query:
        fields.setdefault(key, value)
    return fields


def text(value: Any) -> str | None:
    """A field as a stripped string, None when absent, empty or not a single value."""
    if value is None:
        return None
    if isinstance(value, dict | list | bool):
        return None  # a nested or boolean value is no id, status or code

    result = str(value).strip()
    return result or None


def decimal(value: Any) -> Decimal | None:
    """A money or rate value; accepts comma decimals (`"0,050"`). Never float."""
    if isinstance(value, dict | list | bool):
        raise ParseError(f"not an amount: {type(value).__name__}")
    raw = text(value)
    if raw is None:
        return None
    if isinstance(value, float):
        raise ParseError(f"refusing float for money: {value!r}")
    try:
        result = Decimal(raw.replace(",", "."))
    except InvalidOperation:
        raise ParseError(f"not a decimal: {raw[:40]!r}") from None
    if not result.is_finite():
        raise ParseError(f"not a finite amount: {raw[:40]!r}")
    return result


def timestamp(value: Any) -> datetime | None:
    """ISO 8601 / RFC 3339 (with `Z`), `YYYY-MM-DD HH:MM:SS` (UTC), or epoch seconds/ms."""
    raw = text(value)
    if raw is None:
        return None
    if raw.isascii() and raw.isdigit() and len(raw) >= 9:
        number = int(raw)
        if number > 10**11:
            number //= 1000
        try:
            return datetime.fromtimestamp(number, UTC)
        except (OverflowError, ValueError, OSError):
            raise ParseError(f"timestamp out of range: {raw[:40]!r}") from None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ParseError(f"not a timestamp: {raw!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
