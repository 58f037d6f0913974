"""Destination countries by calling-code prefix, from phonenumbers' metadata (Google's
libphonenumber): the report's SQL takes the longest prefix that starts a destination."""

from __future__ import annotations

import functools
import re

import phonenumbers
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

# national prefixes this long are tried for the countries that share a calling code
_NATIONAL_DIGITS = 3


@functools.cache
def prefixes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(prefixes, countries): each calling code with its main country (`1` US, `7` RU, `44`
    GB), and, for the countries sharing a code, the code followed by the national prefixes
    that are theirs (`1268` AG, `1204` CA, `77` KZ). Non-geographic codes have no country."""
    table: dict[str, str] = {}
    for code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        main = regions[0]
        if main == "001":
            continue
        table[str(code)] = main
        if len(regions) > 1:
            table.update(_shared(code, regions))
    ordered = sorted(table.items())
    return tuple(p for p, _ in ordered), tuple(c for _, c in ordered)


def _shared(code: int, regions: tuple[str, ...]) -> dict[str, str]:
    """The national prefixes of `_NATIONAL_DIGITS` digits that belong to a country other
    than the code's main one."""
    found: dict[str, str] = {}
    for region in regions[1:]:
        metadata = PhoneMetadata.metadata_for_region(region)
        if metadata is None:
            continue
        if metadata.leading_digits:
            pattern = re.compile(f"(?:{metadata.leading_digits})")
            for n in range(10**_NATIONAL_DIGITS):
                national = f"{n:0{_NATIONAL_DIGITS}d}"
                # a leading-digits pattern may be shorter or longer than the prefix tried
                if pattern.match(national) or pattern.match(national + "0" * 4):
                    found.setdefault(f"{code}{national}", region)
            continue
        example = phonenumbers.example_number(region)
        if example is None:
            continue
        rest = str(example.national_number)[_NATIONAL_DIGITS:]
        for n in range(10**_NATIONAL_DIGITS):
            national = f"{n:0{_NATIONAL_DIGITS}d}"
            number = phonenumbers.PhoneNumber(
                country_code=code, national_number=int(national + rest)
            )
            if phonenumbers.region_code_for_number(number) == region:
                found.setdefault(f"{code}{national}", region)
    return found
