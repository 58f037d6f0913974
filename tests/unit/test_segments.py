"""Segment counting: GSM-7 160/153 with the extension table, UCS-2 70/67 with surrogate pairs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconcile import segments
from reconcile.segments import Encoding, Segments

GSM_SINGLE, GSM_DOUBLE = segments.gsm_alphabet()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Segments(Encoding.GSM7, 0, 1)),
        ("a" * 160, Segments(Encoding.GSM7, 160, 1)),
        ("a" * 161, Segments(Encoding.GSM7, 161, 2)),
        ("a" * 306, Segments(Encoding.GSM7, 306, 2)),
        ("a" * 307, Segments(Encoding.GSM7, 307, 3)),
        # an extension character counts two septets
        ("€" * 80, Segments(Encoding.GSM7, 160, 1)),
        ("a" * 159 + "€", Segments(Encoding.GSM7, 161, 2)),
        # ... and is never split: 152 + 2 would straddle the first part's 153 septets
        ("a" * 152 + "€" + "a" * 10, Segments(Encoding.GSM7, 164, 2)),
        ("a" * 152 + "€" + "a" * 151, Segments(Encoding.GSM7, 305, 2)),
        ("a" * 152 + "€" + "a" * 152, Segments(Encoding.GSM7, 306, 3)),
        ("a" * 151 + "€" + "a" * 153, Segments(Encoding.GSM7, 306, 2)),
        ("^{}[]~|\\€", Segments(Encoding.GSM7, 18, 1)),
        # GSM letters beyond ASCII, and the ones that are not GSM
        ("Ça coûte 5€", Segments(Encoding.UCS2, 11, 1)),  # û is not in the GSM alphabet
        ("Ça va? ÄÖÜ ñ é", Segments(Encoding.GSM7, 14, 1)),
        ("ç", Segments(Encoding.UCS2, 1, 1)),  # only the capital Ç is GSM
        ("\x1b", Segments(Encoding.UCS2, 1, 1)),  # ESC is no character of a text
        # one emoji in otherwise GSM text: UCS-2, and the emoji is two code units
        ("a" * 69 + "😀", Segments(Encoding.UCS2, 71, 2)),
        ("a" * 68 + "😀", Segments(Encoding.UCS2, 70, 1)),
        ("a" * 66 + "😀" + "a" * 10, Segments(Encoding.UCS2, 78, 2)),
        ("a" * 100 + "😀", Segments(Encoding.UCS2, 102, 2)),
        ("é" * 70, Segments(Encoding.GSM7, 70, 1)),
        ("ы" * 70, Segments(Encoding.UCS2, 70, 1)),
        ("ы" * 71, Segments(Encoding.UCS2, 71, 2)),
        ("ы" * 134, Segments(Encoding.UCS2, 134, 2)),
        ("ы" * 135, Segments(Encoding.UCS2, 135, 3)),
    ],
)
def test_count(text: str, expected: Segments) -> None:
    assert segments.count(text) == expected


def test_the_alphabet_is_the_gsm_default_table() -> None:
    assert len(GSM_SINGLE) == 127  # 128 code points, ESC excluded
    assert sorted(GSM_DOUBLE) == sorted("\f^{}\\[~]|€")


def _parts_by_walking(sizes: list[int], single: int, per_part: int) -> int:
    if sum(sizes) <= single:
        return 1
    parts = [0]
    for size in sizes:
        if parts[-1] + size > per_part:
            parts.append(0)
        parts[-1] += size
    assert all(p <= per_part for p in parts)
    return len(parts)


@given(st.text(alphabet=st.sampled_from(GSM_SINGLE + GSM_DOUBLE), max_size=500))
def test_gsm_text_parts_never_exceed_153_septets(text: str) -> None:
    result = segments.count(text)
    sizes = [2 if c in GSM_DOUBLE else 1 for c in text]
    assert result.encoding is Encoding.GSM7
    assert result.units == sum(sizes)
    assert result.parts == _parts_by_walking(sizes, 160, 153)


@given(st.text(max_size=300))
def test_any_text_counts_its_code_units(text: str) -> None:
    result = segments.count(text)
    if result.encoding is Encoding.UCS2:
        assert result.units == len(text.encode("utf-16-le")) // 2
        sizes = [2 if ord(c) > 0xFFFF else 1 for c in text]
        assert result.parts == _parts_by_walking(sizes, 70, 67)
    else:
        assert set(text) <= set(GSM_SINGLE + GSM_DOUBLE)
