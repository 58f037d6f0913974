"""Stored poll responses (inbox rows of source `poll`) back to their adapter's `parse`."""

from __future__ import annotations

from receiver.adapters._poll import PollResponse, poll_adapter
from receiver.adapters.base import ParseError
from receiver.db.inbox import InboxRow
from receiver.model import Event
from receiver.settings import Settings


def response(row: InboxRow) -> PollResponse:
    """The response as the adapter parses it: the request made, status, headers, body."""
    return PollResponse(
        request=row.poll_request or {},
        status=row.response_status or 200,
        headers={k.lower(): v for k, v in row.headers.items()},
        body=row.body,
    )


def parse(row: InboxRow, settings: Settings) -> list[Event]:
    """The events of one stored poll response; ParseError means quarantine."""
    name = settings.adapter_name(row.provider_key)
    adapter = poll_adapter(name)
    if adapter is None:
        raise ParseError(f"adapter {name!r} does not parse poll responses")
    return adapter.parse(response(row), settings.providers[row.provider_key].options())
