"""Destination numbers: E.164 with phonenumbers, and a proven fast path for numbers already in
that form (imports normalise millions of them)."""

from __future__ import annotations

import functools
import re

import phonenumbers


class NotAPhoneNumber(ValueError):
    """The destination is not a phone number phonenumbers can read in international form."""


def normalise_destination(raw: str | None) -> str | None:
    """The number in E.164 (`+6591234567`), from international forms phonenumbers reads
    (`+65 9123 4567`, `tel:+65…`, or the digits alone: `6591234567`); `NotAPhoneNumber` when it
    is not one (letters, too short or too long for its country, no country code). Blank is
    no destination (None)."""
    if raw is None or not raw.strip():
        return None
    if _already_e164(raw):
        return raw
    return _normalise_with_library(raw)


# what may separate the digits of a number written without "+" (they are dropped)
_SEPARATORS = re.compile(r"[\s().-]")


@functools.lru_cache(maxsize=65536)
def _normalise_with_library(raw: str) -> str:
    text = raw.strip()
    if "+" not in text:
        digits = _SEPARATORS.sub("", text)
        if not digits.isascii() or not digits.isdigit():
            raise NotAPhoneNumber(f"not a phone number: {_shown(raw)}")
        text = f"+{digits}"  # the digits alone: an international number without its "+"
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise NotAPhoneNumber(f"not a phone number: {_shown(raw)}") from None
    if not phonenumbers.is_possible_number(number):
        raise NotAPhoneNumber(
            f"not a possible phone number (wrong length for its country code): {_shown(raw)}"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _shown(raw: str) -> str:
    """The bad value as an error shows it: short, and never a whole number (errors are logged)."""
    return repr(raw if len(raw) < 6 or not any(c.isdigit() for c in raw) else raw[:4] + "…")


_PLUS_DIGITS = re.compile(r"\+[1-9][0-9]{2,}")


def _already_e164(raw: str) -> bool:
    """Whether `_normalise_with_library(raw)` is certainly `raw` itself, without parsing.

    For `+` and three or more ASCII digits, phonenumbers either fails or formats `+`, the
    country code it took from the front (the first one to three digits that are one) and the
    rest, which comes back digit for digit (leading zeros too) unless the country's national
    prefix is stripped from it. So `raw` is kept whenever that country has no national prefix
    pattern or the pattern does not match the rest, and the number is possible: whether it is
    depends only on the country code and the length of the rest (phonenumbers'
    `is_possible_number` tests lengths). Anything else goes to the library.
    (tests/unit/test_import_rows.py compares the two.)
    """
    if not _PLUS_DIGITS.fullmatch(raw):
        return False
    for size in (1, 2, 3):
        country_code = int(raw[1 : 1 + size])
        if country_code in phonenumbers.COUNTRY_CODE_TO_REGION_CODE:
            rest = raw[1 + size :]
            safe, prefix = _national_prefix(country_code)
            kept = safe and (prefix is None or prefix.match(rest) is None)
            return kept and _possible_length(country_code, len(rest))
    return False


@functools.lru_cache(maxsize=4096)
def _possible_length(country_code: int, length: int) -> bool:
    """Whether a national number of `length` digits is possible under `country_code`."""
    if length == 0:
        return False
    number = phonenumbers.PhoneNumber(country_code=country_code, national_number=int("1" * length))
    return bool(phonenumbers.is_possible_number(number))


@functools.cache
def _national_prefix(country_code: int) -> tuple[bool, re.Pattern[str] | None]:
    """(whether the country code has metadata, its national prefix pattern if it has one)."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = phonenumbers.PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return False, None
    pattern = metadata.national_prefix_for_parsing
    return True, re.compile(pattern) if pattern else None
