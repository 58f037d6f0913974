"""Date formats of imported files as regular expressions that SQL applies, set-based.

A format is "iso" (ISO 8601: `2026-06-01`, `2026-06-01T10:00:00Z`, `2026-06-01 10:00:00.5+02:00`)
or strftime-style (`%d/%m/%Y %H:%M`). `pattern` turns it into a POSIX regular expression
with one group per component and says which group holds which, so that the staging SQL can
check every line's date strictly (a wrong format or an impossible date refuses that line) and
build the timestamp, without a round trip per line.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# the order of the group numbers handed to SQL (`date_groups`)
COMPONENTS = ("year", "month", "day", "hour", "minute", "second", "fraction", "offset", "year2")

_ISO = (
    r"^(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,6}))?)?)?"
    r" *(Z|z|[+-]\d{2}(?::?\d{2})?)?$"
)
_DIRECTIVES = {
    "Y": ("year", r"(\d{4})"),
    "y": ("year2", r"(\d{2})"),
    "m": ("month", r"(\d{1,2})"),
    "d": ("day", r"(\d{1,2})"),
    "H": ("hour", r"(\d{1,2})"),
    "M": ("minute", r"(\d{2})"),
    "S": ("second", r"(\d{2})"),
    "f": ("fraction", r"(\d{1,6})"),
    "z": ("offset", r"(Z|z|[+-]\d{2}:?\d{2})"),
}


@dataclass(frozen=True, slots=True)
class DatePattern:
    regex: str
    groups: tuple[int, ...]  # per COMPONENTS: the group number, 0 when absent


@functools.lru_cache(maxsize=64)
def pattern(fmt: str) -> DatePattern:
    """The regular expression of a date format; ValueError names a directive it cannot read."""
    if fmt == "iso":
        return DatePattern(_ISO, (1, 2, 3, 4, 5, 6, 7, 8, 0))
    groups = dict.fromkeys(COMPONENTS, 0)
    out = ["^"]
    i, group = 0, 0
    while i < len(fmt):
        char = fmt[i]
        if char != "%":
            out.append(re.escape(char) if not char.isalnum() else char)
            i += 1
            continue
        if i + 1 == len(fmt):
            raise ValueError(f"date format {fmt!r} ends with a lone %")
        directive = fmt[i + 1]
        i += 2
        if directive == "%":
            out.append("%")
            continue
        if directive not in _DIRECTIVES:
            known = " ".join(f"%{d}" for d in _DIRECTIVES)
            raise ValueError(f"date format {fmt!r}: %{directive} is not supported ({known})")
        name, regex = _DIRECTIVES[directive]
        if groups[name]:
            raise ValueError(f"date format {fmt!r} has %{directive} twice")
        group += 1
        groups[name] = group
        out.append(regex)
    if not (groups["year"] or groups["year2"]) or not groups["month"] or not groups["day"]:
        raise ValueError(f"date format {fmt!r} needs a year (%Y or %y), %m and %d")
    out.append("$")
    return DatePattern("".join(out), tuple(groups[c] for c in COMPONENTS))
