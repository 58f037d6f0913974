"""One shape for a stored request: the live request as adapters and verifiers see it, the inbox
row it is stored as (credentials redacted, made storable), and the request rebuilt from the row.

The processor parses the rebuilt request, never the live one, so parsing a callback when it
arrives and replaying it months later give the same events (tests/unit/test_stored_requests.py).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from receiver import querystrings
from receiver.db.inbox import InboxRow, NewInboxRow
from receiver.model import RawRequest
from receiver.verification import PATH_TOKEN_PARAM

REDACTED = "[redacted]"
# stored as "[redacted]": credentials, not evidence
REDACTED_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})
_TOKEN_PREFIX = f"{PATH_TOKEN_PARAM}="
_TOKEN_REDACTED = f"{PATH_TOKEN_PARAM}={REDACTED}"


def request(
    *,
    method: str,
    path: str,
    raw_query: str,
    headers: Iterable[tuple[str, str]],
    body: bytes,
    remote: str | None,
) -> RawRequest:
    """The request adapters and verifiers see: header names lower-cased (a repeated header keeps
    its last value), the query parsed from the raw query string (repeated keys and blank values
    kept), the media type of `Content-Type` lower-cased ("" when there is none)."""
    lowered = {name.lower(): value for name, value in headers}
    return RawRequest(
        method=method,
        path=path,
        query=tuple(querystrings.pairs(raw_query)),
        headers=lowered,
        body=body,
        content_type=lowered.get("content-type", "").split(";")[0].strip().lower(),
        remote=remote,
        raw_query=raw_query,
    )


def to_row(
    live: RawRequest,
    *,
    provider_key: str,
    verification: str,
    verification_reason: str | None,
    state: str,
    received_at: datetime,
    redact_path_token: bool,
) -> NewInboxRow:
    """The inbox row of a live request: credentials redacted, every value storable."""
    return NewInboxRow(
        provider_key=provider_key,
        method=live.method,
        path=live.path,
        query=_stored_query(live.raw_query, redact_path_token),
        headers=_stored_headers(live.headers),
        body=live.body,
        remote_addr=live.remote,
        verification=verification,
        verification_reason=verification_reason,
        received_at=received_at,
        state=state,
    )


def from_row(row: InboxRow) -> RawRequest:
    """The request a stored row was made from (as `request` builds it), redactions kept."""
    return request(
        method=row.method,
        path=row.path,
        raw_query=row.query,
        headers=row.headers.items(),
        body=row.body,
        remote=row.remote_addr,
    )


def _stored_query(raw_query: str, redact_token: bool) -> str:
    """The query string as received; only a path token's value is replaced (when the key uses
    one: it is a credential, not evidence)."""
    if not redact_token or _TOKEN_PREFIX not in raw_query:
        return raw_query
    # each `token=` parameter, first or after an '&', up to the next '&' (a split and a join:
    # a third of what the same replacement by regular expression costs)
    return "&".join(
        _TOKEN_REDACTED if piece.startswith(_TOKEN_PREFIX) else piece
        for piece in raw_query.split("&")
    )


def _storable(text: str) -> str:
    """Text a jsonb column can hold. Header bytes that were not UTF-8 reach us as lone
    surrogates; they become `\\xNN` escapes (and NUL `\\x00`). Valid text is unchanged."""
    if text.isascii():  # the usual case, and the cheap one
        return text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        escaped = all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)
        raw = text.encode("utf-8", "surrogateescape" if escaped else "surrogatepass")
        text = raw.decode("utf-8", "backslashreplace")
    return text.replace("\x00", "\\x00")


def _stored_headers(headers: dict[str, str]) -> dict[str, str]:
    """`headers` has lower-cased names already. One header the database cannot store must not
    fail the whole batch it is written with, so each is made storable."""
    return {
        _storable(name): REDACTED if name in REDACTED_HEADERS else _storable(value)
        for name, value in headers.items()
    }
