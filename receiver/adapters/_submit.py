"""Submit responses: reading the registered response and building the outcome's events."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from receiver.adapters import codes
from receiver.adapters.base import ParseError, default_submit_outcome
from receiver.adapters.fields import json_object
from receiver.model import Event, Submission, SubmitOutcome


def read(
    submission: Submission, parse: Callable[[dict[str, Any]], SubmitOutcome | None]
) -> SubmitOutcome:
    """`parse` applied to the response object; the HTTP-status default when it is not its shape."""
    response = json_object(submission.submit_response)
    try:
        outcome = parse(response) if response is not None else None
    except ParseError:
        outcome = None  # not the provider's shape: the HTTP status still says accepted or refused
    return outcome if outcome is not None else default_submit_outcome(submission)


def guarded(submission: Submission, parse: Callable[[], SubmitOutcome]) -> SubmitOutcome:
    """`parse()`, or the unknown outcome of a response it cannot read (a ParseError)."""
    try:
        return parse()
    except ParseError as exc:
        return unrecognised(submission, str(exc))


def outcome(
    submission: Submission,
    template: Event,
    raw_ids: Sequence[str] = (),
    canonical: Callable[[str], str] = str.strip,
    *,
    segments: int | None = None,
    cost: Decimal | None = None,
    currency: str | None = None,
) -> SubmitOutcome:
    """One event like `template` per id in the response, else per registered id, else one."""
    ids = tuple(canonical(raw) for raw in raw_ids)
    pairs: list[tuple[str | None, str | None]] = list(zip(ids, raw_ids, strict=True))
    if not pairs:
        pairs = [(pid, pid) for pid in submission.provider_message_ids] or [(None, None)]
    events = tuple(
        replace(
            template,
            provider_message_id=pid,
            raw_message_id=raw,
            client_ref=submission.client_ref,
            channel=submission.channel,
        )
        for pid, raw in pairs
    )
    return SubmitOutcome(events, ids, segments=segments, cost=cost, currency=currency)


def unrecognised(submission: Submission, reason: str) -> SubmitOutcome:
    """The outcome of a submit response an adapter cannot read: kept, status unknown."""
    if submission.submit_response is None and submission.submit_http_status is None:
        return default_submit_outcome(submission)
    http = submission.submit_http_status
    raw = f"http {http}" if http is not None else "unrecognised"
    info = codes.unmapped(raw)
    event = Event(
        raw_status=raw,
        status=info.status,
        error_class=info.error_class,
        retryable=False,
        description=f"unrecognised submit response: {reason}",
    )
    return outcome(submission, event)
