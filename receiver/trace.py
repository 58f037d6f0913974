"""The message trace: a message, its derived status, its event timeline, the stored requests
its events came from, and what other wings know about it (`MessageView`)."""

from __future__ import annotations

import base64
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from receiver import adapters
from receiver.db import events as event_store
from receiver.db import inbox as inbox_store
from receiver.db import messages as message_store
from receiver.db import polls as poll_store
from receiver.db.inbox import StoredRow
from receiver.db.pool import Connection
from receiver.settings import Settings
from receiver.views import (
    ErrorView,
    EventView,
    MessageView,
    PollScheduleView,
    PollView,
    StoredRequestView,
)


@dataclass(frozen=True, slots=True)
class TraceSection:
    """Something another wing records about a message (the findings that name it...), shown
    in its trace under `name`: `load(conn, message_id)` gives JSON-ready items. The
    composition root collects every wing's sections; the receiver only calls them."""

    name: str
    load: Callable[[Connection, int], Awaitable[list[dict[str, Any]]]]


def stored_request(row: StoredRow) -> StoredRequestView:
    """A stored row as the API shows it: the body as text when it is UTF-8, else base64."""
    try:
        text: str | None = row.body.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    return StoredRequestView(
        id=row.id,
        provider=row.provider_key,
        source=row.source,
        method=row.method,
        path=row.path,
        query=row.query,
        headers=row.headers,
        body=text,
        body_base64=None if text is not None else base64.b64encode(row.body).decode(),
        body_bytes=len(row.body),
        remote_addr=row.remote_addr,
        verification=row.verification,
        verification_reason=row.verification_reason,
        received_at=row.received_at,
        state=row.state,
        state_reason=row.state_reason,
        processed_at=row.processed_at,
        event_count=row.event_count,
        response_status=row.response_status,
    )


async def message_view(
    conn: Connection, message_id: int, sections: Sequence[TraceSection] = ()
) -> MessageView | None:
    """The message with its current status, money fields, full timeline, the requests its
    events came from, and the other wings' sections."""
    m = await message_store.get(conn, message_id)
    if m is None:
        return None
    timeline = await event_store.timeline(conn, message_id)
    schedule = await poll_store.schedule_of(conn, message_id)
    requests = await inbox_store.of_message(conn, message_id)
    extra = {section.name: await section.load(conn, message_id) for section in sections}
    error = (
        ErrorView(code=m["error_code"], class_=m["error_class"])
        if m["error_code"] or m["error_class"]
        else None
    )
    return MessageView(
        id=m["id"],
        provider=m["provider_key"],
        channel=m["channel"],
        client_ref=m["client_ref"],
        provider_message_ids=list(m["provider_message_ids"]),
        destination=m["destination"],
        submitted_at=m["submitted_at"],
        registered_at=m["registered_at"],
        segments=m["segments"],
        status=m["status"],
        final=m["final"],
        status_at=m["status_at"],
        error=error,
        conflict=m["conflict"],
        value=m["value"],
        cost=m["cost"],
        currency=m["currency"],
        provider_cost=m["provider_cost"],
        provider_currency=m["provider_currency"],
        submit_http_status=m["submit_http_status"],
        events=[EventView.model_validate(e, from_attributes=True) for e in timeline],
        polls=[PollView.model_validate(p) for p in await poll_store.for_message(conn, message_id)],
        poll_schedule=PollScheduleView.model_validate(schedule) if schedule else None,
        requests=[stored_request(r) for r in requests],
        sections=extra,
    )


async def find(
    conn: Connection,
    settings: Settings,
    *,
    provider: str | None = None,
    provider_message_id: str | None = None,
    client_ref: str | None = None,
    limit: int = 100,
    sections: Sequence[TraceSection] = (),
) -> list[MessageView]:
    """Messages by provider id (canonicalised by the key's adapter) or client reference."""
    if provider_message_id and provider in settings.providers:
        adapter = adapters.get(settings.adapter_name(provider))
        provider_message_id = adapter.canonical_id(
            provider_message_id, settings.providers[provider].options()
        )
    ids = await message_store.find_ids(
        conn,
        provider_key=provider,
        provider_message_id=provider_message_id,
        client_ref=client_ref,
        limit=limit,
    )
    views = [await message_view(conn, i, sections) for i in ids]
    return [v for v in views if v is not None]
