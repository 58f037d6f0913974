"""How many SMS segments a text needs: GSM 03.38 (with its extension table) or UCS-2.

The GSM alphabet comes from the `gsm0338` codec: a character it encodes in one septet counts
one, one it encodes with the escape (the extension table: ``^ { } [ ] ~ | \\ €`` and form feed)
counts two. A text of GSM characters only goes in one part of 160 septets, or in parts of 153
when it is longer (the concatenation header takes the rest); an escaped character is never
split across two parts. Any other text is UCS-2: 70 UTF-16 code units in one part, 67 per
part when longer, an astral character (an emoji) taking a surrogate pair that is never split.
An empty text still takes one part. `dlrecon_sms_segments` (sql/migrations/0005_reconcile.sql)
counts the same way in SQL for the reconciliation rules; tests compare the two.
"""

from __future__ import annotations

import codecs
import enum
import functools
from collections.abc import Iterable
from dataclasses import dataclass

import gsm0338  # noqa: F401  (registers the "gsm03.38" codec)

GSM_SINGLE = 160
GSM_PER_PART = 153
UCS2_SINGLE = 70
UCS2_PER_PART = 67
# the codec maps ESC itself to a septet; it is not a character a text can carry
_ESCAPE = "\x1b"


class Encoding(enum.StrEnum):
    GSM7 = "gsm7"
    UCS2 = "ucs2"


@dataclass(frozen=True, slots=True)
class Segments:
    """A text's encoding, its size in septets (GSM-7) or code units (UCS-2), and its parts."""

    encoding: Encoding
    units: int
    parts: int


@functools.cache
def _codec() -> codecs.CodecInfo:
    return codecs.lookup("gsm03.38")


@functools.lru_cache(maxsize=4096)
def gsm_septets(char: str) -> int | None:
    """Septets the GSM default alphabet takes for this character (1, 2 with the escape), or
    None when the alphabet has no such character."""
    if char == _ESCAPE:
        return None
    try:
        encoded, _ = _codec().encode(char)
    except UnicodeEncodeError:
        return None
    return len(encoded)


def _ucs2_units(char: str) -> int:
    return 2 if ord(char) > 0xFFFF else 1


def _parts(units: Iterable[int], total: int, single: int, per_part: int) -> int:
    if total <= single:
        return 1
    parts, used = 1, 0
    for size in units:
        if used + size > per_part:  # this character would straddle the boundary
            parts += 1
            used = 0
        used += size
    return parts


def count(text: str) -> Segments:
    """The encoding, size and number of parts of `text` (see the module docstring)."""
    septets = [gsm_septets(c) for c in text]
    if all(s is not None for s in septets):
        sizes = [s for s in septets if s is not None]
        total = sum(sizes)
        return Segments(Encoding.GSM7, total, _parts(sizes, total, GSM_SINGLE, GSM_PER_PART))
    units = [_ucs2_units(c) for c in text]
    total = sum(units)
    return Segments(Encoding.UCS2, total, _parts(units, total, UCS2_SINGLE, UCS2_PER_PART))


def gsm_alphabet() -> tuple[str, str]:
    """(the characters of one septet, those of two) in the GSM default alphabet, over the Basic
    Multilingual Plane: what the SQL function's character classes must hold."""
    single, double = [], []
    for point in range(0x10000):
        if 0xD800 <= point <= 0xDFFF:
            continue
        size = gsm_septets(chr(point))
        if size == 1:
            single.append(chr(point))
        elif size == 2:
            double.append(chr(point))
    return "".join(single), "".join(double)
