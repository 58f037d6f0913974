"""Text the database cannot store: NUL characters and lone surrogates, anywhere in a decoded
JSON value (Postgres holds neither in text or jsonb), refused per item up front."""

from __future__ import annotations

import re
from typing import Any

SURROGATE = re.compile("[\ud800-\udfff]")


def has_nul(value: Any) -> bool:
    """Whether a NUL character is anywhere in a decoded JSON value (keys too).

    Postgres stores no NUL in text or jsonb: such input is refused up front, not a 500.
    Iterative, so deeply nested values cannot exhaust the stack.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in str(key):
                    return True
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
    return False


def has_lone_surrogate(value: Any) -> bool:
    """Whether a lone surrogate (a JSON escape such as "\\ud800" that pairs with nothing) is
    anywhere in a decoded JSON value (keys too): no UTF-8 text holds one, so Postgres would
    refuse the whole batch. Iterative, as `has_nul`."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if not item.isascii() and SURROGATE.search(item):
                return True
        elif isinstance(item, dict):
            for key, inner in item.items():
                key = str(key)
                if not key.isascii() and SURROGATE.search(key):
                    return True
                stack.append(inner)
        elif isinstance(item, list):
            stack.extend(item)
    return False
