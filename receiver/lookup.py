"""What happened to a message: the message, its derived status and its event timeline."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from receiver import adapters
from receiver.db import events as event_store
from receiver.db import messages as message_store
from receiver.db.pool import Connection
from receiver.settings import Settings


async def message_view(conn: Connection, message_id: int) -> dict[str, Any] | None:
    """The message with its current status, money fields and full timeline."""
    m = await message_store.get(conn, message_id)
    if m is None:
        return None
    timeline = await event_store.timeline(conn, message_id)
    return {
        "id": m["id"],
        "provider": m["provider_key"],
        "channel": m["channel"],
        "client_ref": m["client_ref"],
        "provider_message_ids": list(m["provider_message_ids"]),
        "destination": m["destination"],
        "submitted_at": m["submitted_at"],
        "registered_at": m["registered_at"],
        "segments": m["segments"],
        "status": m["status"],
        "final": m["final"],
        "status_at": m["status_at"],
        "error": {"code": m["error_code"], "class": m["error_class"]}
        if m["error_code"] or m["error_class"]
        else None,
        "conflict": m["conflict"],
        "value": m["value"],
        "cost": m["cost"],
        "currency": m["currency"],
        "provider_cost": m["provider_cost"],
        "provider_currency": m["provider_currency"],
        "submit_http_status": m["submit_http_status"],
        "events": [asdict(e) for e in timeline],
    }


async def find(
    conn: Connection,
    settings: Settings,
    *,
    provider: str | None = None,
    provider_message_id: str | None = None,
    client_ref: str | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
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
    views = [await message_view(conn, i) for i in ids]
    return [v for v in views if v is not None]
