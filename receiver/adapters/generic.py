"""Generic adapter: fields and statuses from configuration.

A provider with no adapter of its own is onboarded with `adapter = "generic"` and options:
`id_field`, `status_field` (defaults `id`, `status`), `client_ref_field`, `time_field`,
`error_code_field`, `price_field`, `currency_field` (or a fixed `currency`), `recipient_field`,
`items_field` (path to a list of reports in a batch body), `channel`, `status_map`
(raw status -> canonical status name, or a table with `status`, `error_class`, `retryable`,
`description`) and `error_codes` (error code -> the same kind of row; `status` defaults to
`failed`), so that a provider's failures get their class instead of `unknown`. Paths are
dotted (`data.status`, `results.0.id`) or plain form/query names.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from receiver.adapters import codes
from receiver.adapters.base import Adapter, Options, ParseError
from receiver.adapters.fields import body_data, decimal, scalar, when
from receiver.model import Channel, CodeInfo, ErrorClass, Event, RawRequest, Status


def get_path(data: Any, path: str) -> Any:
    """The value at a dotted path (`data.status`, `results.0.id`), or None; literal keys win."""
    if isinstance(data, Mapping) and path in data:
        return data[path]
    current = data
    for part in path.split("."):
        if isinstance(current, Mapping):
            current = current.get(part)
        elif isinstance(current, list) and part.isdecimal() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
    return current


def _status_info(raw: str, options: Options) -> CodeInfo:
    """The `status_map` entry for a raw status (exact, then case-insensitive), else unmapped."""
    entry = _entry(options, "status_map", raw)
    if entry is None:
        return codes.unmapped(raw)
    try:
        return code_row(raw, entry, default_status=None)
    except ValueError:
        # a configuration mistake: quarantined, replayable once the status_map is fixed
        raise ParseError(f"status_map entry for {raw!r} is not a valid mapping") from None


def _error_info(code: str, status: CodeInfo, options: Options) -> CodeInfo:
    """The status refined by the `error_codes` row of `code`. Without a row the status row
    stands (a failure's code is then counted as unmapped, when a table is configured)."""
    entry = _entry(options, "error_codes", code)
    if entry is None:
        if status.status.failure and options.get("error_codes"):
            return dataclasses.replace(status, mapped=False)
        return status
    try:
        return codes.combine(status, code_row(code, entry, default_status=Status.FAILED))
    except ValueError:
        raise ParseError(f"error_codes entry for {code!r} is not a valid mapping") from None


def _entry(options: Options, option: str, key: str) -> Any:
    mapping = options.get(option) or {}
    if not isinstance(mapping, Mapping):
        raise ParseError(f"option {option} must be a table")
    entry = mapping.get(key)
    if entry is None:
        entry = next((v for k, v in mapping.items() if str(k).casefold() == key.casefold()), None)
    return entry


def code_row(code: str, entry: Any, default_status: Status | None) -> CodeInfo:
    """One configured row: a canonical status name, or a table with `status`, `error_class`,
    `retryable` and `description`; ValueError saying what is wrong."""
    if isinstance(entry, str):
        entry = {"status": entry}
    if not isinstance(entry, Mapping):
        raise ValueError("must be a status name or a table")
    unknown = set(entry) - {"status", "error_class", "retryable", "description"}
    if unknown:
        raise ValueError(f"unknown key(s) {', '.join(sorted(map(str, unknown)))}")
    raw_status = entry.get("status", default_status)
    if raw_status is None:
        raise ValueError("has no status")
    try:
        status = Status(raw_status)
    except ValueError:
        raise ValueError(f"status {raw_status!r} is not one of {', '.join(Status)}") from None
    error_class = entry.get("error_class") or (ErrorClass.UNKNOWN if status.failure else None)
    try:
        error_class = ErrorClass(error_class) if error_class else None
    except ValueError:
        classes = ", ".join(ErrorClass)
        raise ValueError(f"error_class {error_class!r} is not one of {classes}") from None
    retryable = entry.get("retryable", False)
    if not isinstance(retryable, bool):
        raise ValueError("retryable must be true or false")
    return CodeInfo(
        code=code,
        status=status,
        error_class=error_class,
        retryable=retryable,
        description=str(entry.get("description", code)),
    )


def check_tables(options: Options) -> str | None:
    """What is wrong with the configured `status_map`, `error_codes` or `channel`, or None."""
    for option, default in (("status_map", None), ("error_codes", Status.FAILED)):
        mapping = options.get(option)
        if mapping is None:
            continue
        if not isinstance(mapping, Mapping):
            return f"{option} must be a table"
        for key, entry in mapping.items():
            try:
                code_row(str(key), entry, default)
            except ValueError as exc:
                return f"{option}.{key}: {exc}"
    channel = options.get("channel")
    if channel is not None and channel not in {c.value for c in Channel}:
        return f"channel {channel!r} is not one of {', '.join(Channel)}"
    return None


def _field(item: Any, options: Options, option: str, default: str | None = None) -> Any:
    path = options.get(option, default)
    return get_path(item, str(path)) if path else None


def items(body: Any, options: Options) -> list[Any]:
    """The reports in a body: the list at `items_field`, a top-level list, or the body itself."""
    items = _field(body, options, "items_field") if options.get("items_field") else body
    if isinstance(items, dict):
        return [items]
    if isinstance(items, list):
        return items
    raise ParseError("body is not an object or a list of objects")


OPTION_NAMES = frozenset(
    {
        "id_field",
        "status_field",
        "time_field",
        "error_code_field",
        "price_field",
        "currency_field",
        "currency",
        "client_ref_field",
        "recipient_field",
        "items_field",
        "channel",
        "status_map",
        "error_codes",
    }
)


class GenericAdapter(Adapter):
    """Reads any JSON, form or query callback through configured field paths."""

    name = "generic"
    option_names = OPTION_NAMES

    def check_options(self, options: Options) -> str | None:
        return check_tables(options)

    def parse_callback(self, request: RawRequest, options: Options) -> list[Event]:
        """One event per report in the body (a batch when `items_field` or a list is given)."""
        body = body_data(request)
        return [self.report(item, options) for item in items(body, options)]

    def report(self, item: Any, options: Options) -> Event:
        """One report object as an event, through the configured fields."""
        if not isinstance(item, dict):
            raise ParseError("report is not an object")
        raw_id = scalar(_field(item, options, "id_field", "id"))
        client_ref = scalar(_field(item, options, "client_ref_field"))
        if raw_id is None and client_ref is None:
            raise ParseError("report has neither a message id nor a client reference")
        raw_status = scalar(_field(item, options, "status_field", "status"))
        if raw_status is None:
            raise ParseError("report has no status")
        info = _status_info(raw_status, options)
        error_code = scalar(_field(item, options, "error_code_field"))
        if error_code is not None:
            info = _error_info(error_code, info, options)
        amount = decimal(_field(item, options, "price_field"))
        currency = scalar(_field(item, options, "currency_field")) or options.get("currency")
        details: dict[str, Any] = {}
        if amount is not None and not currency:
            # money is never stored without a currency: keep the figure for people to see
            details["price_without_currency"] = str(amount)
            amount = None
        try:
            channel = Channel(options["channel"]) if options.get("channel") else None
        except ValueError:
            raise ParseError(f"option channel {options['channel']!r} is not a channel") from None
        event = Event(
            raw_status=raw_status,
            status=info.status,
            provider_message_id=self.canonical_id(raw_id, options) if raw_id else None,
            raw_message_id=raw_id,
            client_ref=client_ref,
            error_code=error_code,
            provider_time=when(_field(item, options, "time_field")),
            cost=amount,
            currency=str(currency) if amount is not None else None,
            channel=channel,
            recipient=scalar(_field(item, options, "recipient_field")),
            details=details,
        )
        return event.with_code(info)


ADAPTER = GenericAdapter()
