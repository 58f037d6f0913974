"""The finance report's destination countries: the longest calling-code prefix wins, countries
sharing a code are told apart by their national prefixes (phonenumbers' metadata)."""

from __future__ import annotations

import pytest

from reconcile.reports import countries


def country_of(digits: str) -> str | None:
    """As `report_figures` does it in SQL: the longest prefix of the first 7 digits."""
    table = dict(zip(*countries.prefixes(), strict=True))
    head = digits[:7]
    for length in range(len(head), 0, -1):
        if head[:length] in table:
            return table[head[:length]]
    return None


@pytest.mark.parametrize(
    ("number", "country"),
    [
        ("6591234567", "SG"),
        ("5511999990001", "BR"),
        ("233241234567", "GH"),
        ("12125550100", "US"),
        ("14165550100", "CA"),
        ("12042345678", "CA"),
        ("12684601234", "AG"),
        ("18765550100", "JM"),
        ("74951234567", "RU"),
        ("77012345678", "KZ"),
        ("447700900123", "GB"),
        ("201001234567", "EG"),
        ("8001234567", None),  # +800: international freephone, no country
        ("9991234", None),  # an unassigned code
    ],
)
def test_country_by_longest_prefix(number: str, country: str | None) -> None:
    assert country_of(number) == country


def test_prefixes_are_digits_at_most_seven_long() -> None:
    prefixes, names = countries.prefixes()
    assert len(prefixes) == len(set(prefixes)) > 200
    assert all(p.isdigit() and len(p) <= 7 for p in prefixes)
    assert all(len(n) == 2 and n.isupper() for n in names)
