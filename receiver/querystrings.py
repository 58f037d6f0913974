"""Query strings and form bodies read as `urllib.parse.parse_qsl(text, keep_blank_values=True)`
reads them, pair for pair, at about half its cost: every callback's query (GenIQ sends eight
parameters in it) and Twilio's form body are read on the request path, and `parse_qsl` calls
`unquote` twice a pair even when there is nothing to decode (tests/unit/test_querystrings.py
compares the two on any text)."""

from __future__ import annotations

from urllib.parse import unquote


def pairs(text: str) -> list[tuple[str, str]]:
    """`parse_qsl(text, keep_blank_values=True)`: pairs split on '&' (empty ones skipped), a
    name without '=' given an empty value, '+' read as a space and %-escapes decoded (UTF-8,
    undecodable bytes replaced)."""
    found: list[tuple[str, str]] = []
    if not text:
        return found
    for piece in text.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        if "%" not in piece and "+" not in piece:
            found.append((name, value))
        else:
            found.append((unquote(name.replace("+", " ")), unquote(value.replace("+", " "))))
    return found
