"""Small parsing helpers shared by adapters (all raise ParseError on bad input)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl

from receiver.adapters.base import ParseError
from receiver.model import RawRequest

# --- request bodies ---


def json_value(raw: bytes | str) -> Any:
    """JSON with numbers kept exact (`Decimal`); NaN, Infinity and any failure are ParseErrors."""
    try:
        return json.loads(raw, parse_float=Decimal, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        # ValueError covers JSONDecodeError, bad UTF-8 and integers too long to convert
        raise ParseError(f"body is not valid JSON: {type(exc).__name__}: {exc}"[:300]) from None


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


def json_body(request: RawRequest) -> Any:
    """The body decoded as JSON (UTF-8, or UTF-16/32 told by its first bytes)."""
    return json_value(request.body.strip())


def json_object(response: Any) -> dict[str, Any] | None:
    """A registered submit response as a JSON object (decoding a JSON string), else None."""
    if isinstance(response, str | bytes):
        try:
            response = json_value(response)
        except ParseError:
            return None
    return response if isinstance(response, dict) else None


def is_json(request: RawRequest) -> bool:
    """Whether the body is JSON: the content type says so, or it starts with `{` or `[`."""
    body = request.body.strip()
    return bool(body) and ("json" in request.content_type or body[:1] in (b"{", b"["))


def form_body(request: RawRequest) -> dict[str, str]:
    """The body decoded as `application/x-www-form-urlencoded` (last value wins)."""
    try:
        text = request.body.decode("utf-8")
        return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ParseError(f"body is not a valid form: {exc}") from None


def form_fields(request: RawRequest) -> dict[str, Any]:
    """The form body (none when empty), with query fields filling in what it lacks."""
    fields: dict[str, Any] = form_body(request) if request.body.strip() else {}
    return with_query(fields, request)


def with_query(fields: dict[str, Any], request: RawRequest) -> dict[str, Any]:
    """`fields`, with the query's fields added where it lacks them (first value wins)."""
    for key, value in request.query:
        fields.setdefault(key, value)
    return fields


def body_data(request: RawRequest) -> Any:
    """The callback's data: any JSON value, else the form; query fields fill in an object."""
    if not is_json(request):
        return form_fields(request)
    data = json_body(request)
    return with_query(data, request) if isinstance(data, dict) else data


def params(request: RawRequest) -> dict[str, Any]:
    """Fields from wherever the provider put them: JSON body, form body, or query string.

    JSON when the content type says so or the body starts with `{` or `[`; a form when the
    body is non-empty; the query string otherwise. Query fields fill in what the body lacks.
    """
    fields = body_data(request)
    if not isinstance(fields, dict):
        raise ParseError("JSON body is not an object")
    return fields


# --- JSON structure ---


def mapping(value: Any) -> dict[str, Any]:
    """An optional nested object: the value when it is an object, else empty."""
    return value if isinstance(value, dict) else {}


def require_object(value: Any, what: str) -> dict[str, Any]:
    """A value that must be an object; ParseError naming `what` otherwise."""
    if not isinstance(value, dict):
        raise ParseError(f"{what} is not an object")
    return value


def optional_list(value: Any, what: str) -> list[Any]:
    """A value that must be a list when present; empty when absent."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise ParseError(f"{what} is not a list")
    return value


def compact(details: dict[str, Any]) -> dict[str, Any]:
    """Event details without the entries that are None."""
    return {key: value for key, value in details.items() if value is not None}


# --- values ---


def text(value: Any) -> str | None:
    """A field as a stripped string, None when absent, empty or not a single value."""
    if value is None:
        return None
    if isinstance(value, dict | list | bool):
        return None  # a nested or boolean value is no id, status or code

    result = str(value).strip()
    return result or None


def scalar(value: Any) -> str | None:
    """A string or number field as stripped text; ParseError for objects, lists and booleans."""
    if isinstance(value, bool | dict | list):
        raise ParseError(f"expected a string or number, got {type(value).__name__}")
    return text(value)


def small_int(value: Any) -> int | None:
    """A count such as a segment number (ASCII digits, under 10 of them), else None."""
    raw = text(value)
    return int(raw) if raw and len(raw) < 10 and raw.isascii() and raw.isdigit() else None


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
        try:
            # int() refuses over 4300 digits (ValueError); fromtimestamp overflows later
            number = int(raw)
            return datetime.fromtimestamp(number // 1000 if number > 10**11 else number, UTC)
        except (OverflowError, ValueError, OSError):
            raise ParseError(f"timestamp out of range: {raw[:40]!r}") from None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ParseError(f"not a timestamp: {raw!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# an unencoded "+" in a query string arrives as a space: "2017-01-03T14:31:28 08:00"
_SPACED_OFFSET = re.compile(r"([T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?) (\d{2}:?\d{2})$")


def when(value: Any) -> datetime | None:
    """Like `timestamp`, strict about the type and tolerant of a `+` offset decoded to a space."""
    raw = scalar(value)
    if raw is None:
        return None
    return timestamp(_SPACED_OFFSET.sub(r"\1+\2", raw))
