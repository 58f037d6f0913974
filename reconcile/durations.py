"""Durations as the configuration, the API and the CLI write them: `90s`, `15m`, `1h30m`, `7d`,
or a number of seconds."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BeforeValidator

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_LONGEST = 3650 * 86400.0


def parse_duration(value: Any) -> Any:
    """`"90s"`, `"15m"`, `"1h30m"`, `"7d"` or a number of seconds, as a timedelta."""
    if isinstance(value, timedelta) or value is None:
        return value
    seconds: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        parts = _DURATION.findall(text)
        if text and "".join(n + u for n, u in parts) == text:
            seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    if seconds is None:
        raise ValueError(f"not a duration: {value!r} (write e.g. 90s, 15m, 1h30m, 7d)")
    if not 0 <= seconds <= _LONGEST:
        raise ValueError(f"a duration from 0 to 3650 days, not {value!r}")
    return timedelta(seconds=seconds)


def duration_text(value: timedelta) -> str:
    """A duration as the configuration writes it: `15m`, `1h`, `24h`, `90s`, `1h30m`."""
    seconds = int(value.total_seconds())
    if seconds == 0:
        return "0s"
    out = ""
    for unit, size in (("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]
