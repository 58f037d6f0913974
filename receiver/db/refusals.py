"""Refused callbacks (verification failed), counted per provider key and minute."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from receiver.db import queries
from receiver.db.pool import Connection


async def add(conn: Connection, counts: Mapping[tuple[str, datetime], int]) -> None:
    """Add these counts (by key and minute) to the stored ones."""
    if not counts:
        return
    keys = list(counts)
    await conn.execute(
        queries.get("add_callback_refusals"),
        [k for k, _ in keys],
        [m for _, m in keys],
        [counts[k] for k in keys],
    )
