"""`receiver.querystrings.pairs` reads any text as `parse_qsl(keep_blank_values=True)` does."""

from __future__ import annotations

from urllib.parse import parse_qsl

from hypothesis import given
from hypothesis import strategies as st

from receiver.querystrings import pairs

# the characters that matter to the parse, mixed with any others
_PIECES = st.sampled_from(
    ["&", "=", "+", "%", "%2B", "%3D", "%26", "%E2%82%AC", "%ZZ", "%C3", "a", " "]
)
_TEXT = st.lists(st.one_of(_PIECES, st.text(max_size=3)), max_size=30).map("".join)


@given(_TEXT)
def test_pairs_are_parse_qsl_keeping_blank_values(text: str) -> None:
    assert pairs(text) == parse_qsl(text, keep_blank_values=True)


def test_known_cases() -> None:
    for text in [
        "",
        "&",
        "a",
        "a=",
        "=b",
        "a=1&&b=2",
        "a=1=2",
        "x=%2B1+2",
        "k=%E2%82%AC&k=v",
        "t=%",
    ]:
        assert pairs(text) == parse_qsl(text, keep_blank_values=True), text
