"""What dlrecon must show for a simulated message: status per part, rolled up (docs/design.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from receiver.model import FAILURE_STATUSES, Status


def part_status(statuses: Iterable[str], floor: str = Status.SUBMITTED) -> str:
    """The highest-ranked status; on equal rank the later one (later provider time) wins."""
    best = Status(floor)
    for raw in statuses:
        status = Status(raw)
        if status.rank >= best.rank:
            best = status
    return best.value


def rollup(parts: Sequence[str]) -> str:
    """Failed if any part failed; delivered (read) only if every part is; else the least part."""
    if not parts:
        return Status.SUBMITTED.value
    statuses = [Status(p) for p in parts]
    failures = [s for s in statuses if s in FAILURE_STATUSES]
    if failures:
        return failures[-1].value
    if all(s is Status.READ for s in statuses):
        return Status.READ.value
    if all(s in (Status.DELIVERED, Status.READ) for s in statuses):
        return Status.DELIVERED.value
    return min(statuses, key=lambda s: s.rank).value


def message_status(submit: str, parts: Sequence[Sequence[str]]) -> str:
    """The status of a message from its submit outcome and the statuses delivered per part."""
    return rollup([part_status([submit, *part]) for part in parts] or [submit])


def is_final(status: str) -> bool:
    """Whether dlrecon marks this status final."""
    return Status(status).final
