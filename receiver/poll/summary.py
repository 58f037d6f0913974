"""What polling did: per round, per key, per run (`dlrecon poll --once` prints it)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from receiver.db import polls as poll_store
from receiver.db.pool import Pool, connection


@dataclass(slots=True)
class Summary:
    """What a round (or a run) of polls did."""

    polled: int = 0  # messages asked about (looked up, or covered by a list or drain)
    requests: int = 0  # requests sent, retries included
    responses: int = 0  # responses stored in the inbox
    unpollable: int = 0  # messages nothing names for the provider's API
    failed: Counter[str] = field(default_factory=Counter)  # polls without an answer, by kind
    changed: int = 0  # messages whose status changed (`once` only: after processing)
    priced: int = 0  # messages that got a provider price (`once` only)
    before: dict[int, tuple[str, bool]] = field(default_factory=dict)  # message -> state
    planned: list[dict[str, Any]] = field(default_factory=list)  # dry run: the requests

    def add(self, other: Summary) -> None:
        self.polled += other.polled
        self.requests += other.requests
        self.responses += other.responses
        self.unpollable += other.unpollable
        self.failed.update(other.failed)
        self.before.update(other.before)
        self.planned.extend(other.planned)


async def outcome_of(pool: Pool, summary: Summary) -> Summary:
    """Fill `changed` and `priced` from the polled messages' state now (after processing)."""
    if not summary.before:
        return summary
    async with connection(pool) as conn:
        now = await poll_store.states(conn, list(summary.before))
    for message_id, (status, priced) in summary.before.items():
        after = now.get(message_id)
        if after is None:
            continue
        summary.changed += after[0] != status
        summary.priced += after[1] and not priced
    return summary
