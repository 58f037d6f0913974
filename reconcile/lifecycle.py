"""A finding's lifecycle: open -> acknowledged -> resolved, or accepted with a note. Who and
when are recorded with every change; runs reopen resolved findings they find again and leave
accepted ones alone (`db.runs.record`)."""

from __future__ import annotations

from receiver.db.pool import Connection
from receiver.errors import InvalidInput, NotFound
from reconcile.db import findings

STATES = ("open", "acknowledged", "resolved", "accepted")
MAX_NOTE = 2000


async def change(
    conn: Connection, finding_id: int, *, state: str, note: str | None, by: str
) -> findings.Finding:
    """Move the finding to `state` (any other state; accepted needs a note saying why). The
    same state again changes nothing."""
    if state not in STATES:
        raise InvalidInput(f"state must be one of {', '.join(STATES)}")
    note = note.strip() if note else None
    if note and len(note) > MAX_NOTE:
        raise InvalidInput(f"the note is longer than {MAX_NOTE} characters")
    if state == "accepted" and not note:
        raise InvalidInput("accepting a finding needs a note saying why")
    async with conn.transaction():
        current = await findings.lock_state(conn, finding_id)
        if current is None:
            raise NotFound(f"no finding {finding_id}")
        if current != state:
            await findings.set_state(
                conn, finding_id, state=state, note=note, by=by, previous=current
            )
    found = await findings.get(conn, finding_id)
    assert found is not None
    return found
