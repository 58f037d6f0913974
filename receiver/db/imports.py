"""Imported messages, a chunk at a time: staged, registered, their submit events written,
orphans matched and statuses refreshed with set-based statements (see `importer`)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from receiver.db import events as event_store
from receiver.db import messages as message_store
from receiver.db import queries
from receiver.db.events import EventRow
from receiver.db.pool import Connection

# `message_staging` columns of an import record: `messages.STAGING_COLUMNS`, then whether the
# row is plain (its submit event is the default one, made in SQL) and that event's time
COLUMNS = (*message_store.STAGING_COLUMNS, "plain", "status_at")


@dataclass(slots=True)
class ChunkResult:
    created: int = 0
    existing: int = 0
    conflicts: list[tuple[int, int]] = field(default_factory=list)  # (item, conflicting message)


def link_keys(
    records: Iterable[tuple[Any, ...]],
) -> Iterator[tuple[int, str, str | None, Sequence[str]]]:
    """(item number, provider key, client ref, provider ids) of each record, what
    `registration.links.link` works out the links from."""
    return ((r[0], r[1], r[3], r[_IDS]) for r in records)


def with_links(
    records: list[tuple[Any, ...]], links: Mapping[int, message_store.Link]
) -> list[tuple[Any, ...]]:
    """The records of one chunk (file order, no links yet) with their in-batch links (the item
    number is the line number)."""
    if not links:
        return records
    return [
        (*r[:_SAME_AS], *links[r[0]], *r[_SAME_AS + len(message_store.NO_LINK) :])
        if r[0] in links
        else r
        for r in records
    ]


def copy_data(records: Iterable[tuple[Any, ...]]) -> bytes:
    """Staging records (`COLUMNS`) in COPY's text format, made where it costs the event loop
    nothing. Values are written as Python prints them (Decimal, int, bool, datetime with its
    offset), which Postgres reads back as the same values; NULL is \\N."""
    lines = (
        "\t".join(
            map(
                _copy_field,
                (
                    *r[:_IDS],
                    _text_array(r[_IDS]),
                    *r[_IDS + 1 : _PARTS],
                    _int_array(r[_PARTS]),
                    *r[_PARTS + 1 :],
                ),
            )
        )
        for r in records
    )
    return "".join(f"{line}\n" for line in lines).encode()


_IDS = COLUMNS.index("provider_message_ids")
_SAME_AS = COLUMNS.index("same_as")
_PARTS = COLUMNS.index("same_as_parts")
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"})


def _copy_field(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    return str(value)


def _int_array(values: Sequence[int] | None) -> str | None:
    """An int[] literal (or NULL)."""
    return None if values is None else "{" + ",".join(map(str, values)) + "}"


def _text_array(values: Sequence[str]) -> str:
    """A text[] literal."""
    quoted = (v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
    return "{" + ",".join(f'"{v}"' for v in quoted) + "}"


async def stage(conn: Connection, data: bytes) -> dict[int, int]:
    """Register the chunk (`copy_data`); return the message of each row that is not plain
    (item → message id). Must run inside a transaction."""
    await message_store.stage(conn, data, COLUMNS)
    found = await conn.fetch(queries.get("staged_prepared_messages"))
    return {r["item_no"]: r["message_id"] for r in found}


async def finish(conn: Connection, events: Sequence[tuple[int, int, EventRow]]) -> ChunkResult:
    """Write the chunk's submit events (those of plain rows made here; `events` are the others,
    as (item, position, event)), match the orphans its messages claim and refresh the status of
    every message that needs it. Must run in the transaction of `stage`."""
    await _insert_events(conn, events)
    message_ids = {r["message_id"] for r in await conn.fetch(queries.get("staged_to_refresh"))}
    orphans = [r["id"] for r in await conn.fetch(queries.get("staged_orphans"))]
    if orphans:
        message_ids |= await event_store.match(conn, orphans)
    await event_store.refresh_status(conn, message_ids)
    counts = await conn.fetchrow(queries.get("staged_counts"))
    assert counts is not None
    conflicts = await conn.fetch(queries.get("staged_conflicts"))
    return ChunkResult(
        counts["created"],
        counts["existing"],
        [(r["item_no"], r["conflict_with"]) for r in conflicts],
    )


async def _insert_events(conn: Connection, rows: Sequence[tuple[int, int, EventRow]]) -> None:
    await conn.execute(
        queries.get("insert_import_events"),
        [item for item, _, _ in rows],
        [seq for _, seq, _ in rows],
        [r.provider_key for _, _, r in rows],
        *event_store.event_arrays([r for _, _, r in rows]),
    )
