"""SMPP delivery receipts: the receipt text parser, status codes and id canonicalisation.

Shared by the gateways that relay SMPP receipts over HTTP (Kannel, Jasmin). The text
format is the de-facto one from SMPP 3.4 Appendix B:

    id:<id> sub:<n> dlvrd:<n> submit date:<YYMMDDhhmm[ss]> done date:<YYMMDDhhmm[ss]>
    stat:<STAT> err:<code> text:<first 20 characters>
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from receiver.adapters import codes
from receiver.adapters import fields as fieldlib
from receiver.adapters.base import Options, ParseError
from receiver.model import CodeInfo, Status

# the provider-table options both SMPP gateways' adapters read
OPTION_NAMES = frozenset({"id_format", "id_case", "params", "receipt_utc_offset"})

# Keys may come in any order, in any case, padded or not. `text:` is different: it carries
# the start of the message itself (user content), so it runs to the end of the receipt and
# any `stat:` inside it is ignored -- a message saying "stat:DELIVRD" must not fake delivery.
_KEY = re.compile(
    r"(?<![A-Za-z0-9_])(id|sub|dlvrd|submit[ _]?date|done[ _]?date|stat|err|text)\s*:",
    re.IGNORECASE,
)
_DATE_FORMATS = {10: "%y%m%d%H%M", 12: "%y%m%d%H%M%S"}
_OFFSET = re.compile(r"^([+-])(\d{2}):?(\d{2})$")
_HEX = re.compile(r"^[0-9A-Fa-f]+$")
_DEC = re.compile(r"^[0-9]+$")
# ids longer than this are not numbers a gateway would convert; keep them as text
_MAX_NUMERIC_ID = 64

ID_FORMATS = ("as_is", "decimal", "hex", "hex_to_decimal", "decimal_to_hex")
ID_CASES = ("lower", "upper", "preserve")


@dataclass(frozen=True, slots=True)
class Receipt:
    """The fields of one receipt text, as strings (None when absent or empty)."""

    id: str | None = None
    sub: str | None = None
    dlvrd: str | None = None
    submit_date: str | None = None
    done_date: str | None = None
    stat: str | None = None
    err: str | None = None
    text: str | None = None

    def details(self) -> dict[str, Any]:
        """The receipt fields worth keeping on an event (message text left in the raw inbox)."""
        keep = {
            "receipt_id": self.id,
            "sub": self.sub,
            "dlvrd": self.dlvrd,
            "submit_date": self.submit_date,
            "done_date": self.done_date,
            "err": self.err,
        }
        return {key: value for key, value in keep.items() if value is not None}


def parse_receipt(raw: str) -> Receipt:
    """Parse receipt text; ParseError when it has neither an `id:` nor a `stat:` field."""
    if not isinstance(raw, str):
        raise ParseError("receipt text is not a string")
    body = _clean(raw)
    found: dict[str, str] = {}
    matches = list(_KEY.finditer(body))
    for index, match in enumerate(matches):
        key = re.sub(r"[ _]", "", match.group(1).lower())
        if key == "text":
            found.setdefault("text", body[match.end() :].strip())
            break
        end = matches[index + 1].start() if index + 1 < len(matches) else len(body)
        words = body[match.end() : end].split()
        # first occurrence wins; words after the value are noise some SMSCs add
        found.setdefault(key, words[0] if words else "")
    if not found.get("id") and not found.get("stat"):
        raise ParseError("not an SMPP receipt: no id: or stat: field")
    return Receipt(
        id=found.get("id") or None,
        sub=found.get("sub") or None,
        dlvrd=found.get("dlvrd") or None,
        submit_date=found.get("submitdate") or None,
        done_date=found.get("donedate") or None,
        stat=(found.get("stat") or "").upper() or None,
        err=found.get("err") or None,
        text=found.get("text") or None,
    )


def _clean(value: str) -> str:
    """Strip whitespace and trailing NULs (C strings from the SMSC keep their terminators)."""
    while (cleaned := value.strip().rstrip("\x00")) != value:
        value = cleaned
    return value


def receipt_time(raw: str | None, options: Options) -> datetime | None:
    """A receipt date (YYMMDDhhmm or YYMMDDhhmmss) in the SMSC's zone; None when unusable."""
    if raw is None or not raw.isascii() or not raw.isdigit() or len(raw) not in _DATE_FORMATS:
        return None
    try:
        parsed = datetime.strptime(raw, _DATE_FORMATS[len(raw)])
    except ValueError:
        return None
    return parsed.replace(tzinfo=_receipt_zone(options))


def _receipt_zone(options: Options) -> timezone:
    """The SMSC's UTC offset from option `receipt_utc_offset` ("+03:00"); UTC by default."""
    value = options.get("receipt_utc_offset")
    if value in (None, "", "Z", "UTC"):
        return UTC
    match = _OFFSET.match(str(value))
    if not match:
        raise ParseError(f"option receipt_utc_offset must look like +03:00, got {value!r}")
    sign = -1 if match.group(1) == "-" else 1
    return timezone(sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))


def stat_info(stat: str) -> CodeInfo:
    """The code table row of a receipt `stat:` value (unmapped rows kept raw)."""
    return codes.load("smpp").lookup_ci("stat", stat) or codes.unmapped(stat)


def command_status_info(name: str) -> CodeInfo:
    """The row of an SMPP command status (`ESME_R...`); unknown non-OK ones are rejections."""
    found = codes.load("smpp").lookup_ci("command_status", name)
    return found or codes.unmapped(name, Status.REJECTED)


def error_code(err: str | None) -> str | None:
    """The receipt `err:` value when it reports an error (`000`, `0` mean none)."""
    if err is None or err.strip("0") == "":
        return None
    return err


# ---- ids -------------------------------------------------------------------------------
# Gateways mangle SMSC ids between the submit response and the receipt: case, leading
# zeros, and hex vs decimal (SMPP 3.3 hex vs 3.4 decimal). `id_format` says how the two
# relate; submit-side ids (what the sending system registered) and receipt-side ids are
# both mapped to one canonical form so they match.


def canonical_submit_id(raw: str, options: Options) -> str:
    """Canonical form of an id as the sending system registered it."""
    fmt = id_format(options)
    cleaned = _clean(raw)
    if fmt in ("decimal", "hex_to_decimal") and _DEC.match(cleaned):
        return cleaned.lstrip("0") or "0"
    if fmt in ("hex", "decimal_to_hex") and _HEX.match(cleaned):
        return cleaned.lstrip("0").lower() or "0"
    return _fold_case(cleaned, options)


def canonical_receipt_id(raw: str, options: Options) -> str:
    """Canonical form of an id as a receipt carries it (converted to the submit encoding)."""
    fmt = id_format(options)
    cleaned = _clean(raw)
    if len(cleaned) <= _MAX_NUMERIC_ID:
        if fmt == "hex_to_decimal" and _HEX.match(cleaned):
            return str(int(cleaned, 16))
        if fmt == "decimal_to_hex" and _DEC.match(cleaned):
            return format(int(cleaned), "x")
    return canonical_submit_id(cleaned, options)


def id_format(options: Options) -> str:
    """Option `id_format` (default `as_is`), checked."""
    value = options.get("id_format", "as_is")
    if value not in ID_FORMATS:
        raise ParseError(f"option id_format must be one of {', '.join(ID_FORMATS)}, got {value!r}")
    return str(value)


def _fold_case(value: str, options: Options) -> str:
    """Apply option `id_case` (default `lower`: SMSC ids are hex, decimal or UUIDs)."""
    case = options.get("id_case", "lower")
    if case not in ID_CASES:
        raise ParseError(f"option id_case must be one of {', '.join(ID_CASES)}, got {case!r}")
    if case == "lower":
        return value.lower()
    if case == "upper":
        return value.upper()
    return value


# ---- helpers shared by the gateway adapters ------------------------------------------------


def param_names(options: Options, defaults: dict[str, str]) -> dict[str, str]:
    """Parameter names, with option `params` renaming some of them ({"ref": "myId"})."""
    renames = options.get("params") or {}
    if not isinstance(renames, dict):
        raise ParseError("option params must be a table of name = parameter")
    unknown = sorted(set(renames) - set(defaults))
    if unknown:
        raise ParseError(f"option params has unknown names: {', '.join(map(str, unknown))}")
    return {**defaults, **{key: str(value) for key, value in renames.items()}}


def epoch_time(value: Any) -> datetime | None:
    """A unix timestamp field, None when absent or not a plausible time (kept raw elsewhere)."""
    try:
        return fieldlib.timestamp(value)
    except ParseError:
        return None
