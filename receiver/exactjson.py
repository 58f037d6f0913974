"""JSON that keeps money exact: decimals as strings out (never floats), `Decimal` in."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from functools import partial
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # money is a string in JSON, never a float
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


dumps = partial(json.dumps, default=_default, ensure_ascii=False)


def loads_exact(text: str | bytes) -> Any:
    """JSON with decimals as `Decimal` (so money sent as numbers stays exact)."""
    return json.loads(text, parse_float=Decimal)
