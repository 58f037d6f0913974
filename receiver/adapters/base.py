"""The adapter contract: pure functions from a raw request or submit response to events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from receiver.model import (
    Event,
    RawRequest,
    Status,
    Submission,
    SubmitOutcome,
)

Options = Mapping[str, Any]
"""The provider key's adapter options from the configuration (`[providers.KEY]`)."""


class ParseError(Exception):
    """The adapter could not make sense of the request; it is quarantined with this reason."""


@dataclass(frozen=True, slots=True)
class Ack:
    """What to answer the provider once its request is stored."""

    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain"


class Adapter:
    """Base class for provider adapters. Subclasses set `name` and override what differs.

    Every method is pure: no I/O, no clock, no globals. Raise `ParseError` for input
    that cannot be understood; any other exception is a bug in the adapter.
    """

    name: ClassVar[str] = ""
    # the extra keys of a `[providers.KEY]` table this adapter reads; any other extra key is
    # refused when the configuration loads, so a typo never silently disables a check
    option_names: ClassVar[frozenset[str]] = frozenset()
    # verification scheme used when the key sets `signing_secrets` without `scheme`
    # (a name from `receiver.signatures.SCHEMES`), None when the provider cannot sign
    signature_scheme: ClassVar[str | None] = None

    def check_options(self, options: Options) -> str | None:
        """What is wrong with this key's adapter options, or None: checked when the
        configuration loads, so a bad table stops the start instead of quarantining every
        callback."""
        return None

    def parse_callback(self, request: RawRequest, options: Options) -> list[Event]:
        """Turn one stored callback into canonical events (zero or more)."""
        raise ParseError(f"adapter {self.name!r} does not accept callbacks")

    def parse_submit(self, submission: Submission, options: Options) -> SubmitOutcome:
        """Read the provider's submit response registered with a message."""
        return default_submit_outcome(submission)

    def canonical_id(self, raw: str, options: Options) -> str:
        """The form of a provider message id used for matching (case, padding...)."""
        return raw.strip()

    def acknowledge(self, request: RawRequest, options: Options) -> Ack:
        """The answer the provider expects once its callback is stored."""
        return Ack()

    def handshake(self, request: RawRequest, options: Options) -> Ack | None:
        """Answer a subscription handshake (not a delivery report), or None."""
        return None


def default_submit_outcome(submission: Submission) -> SubmitOutcome:
    """Without provider knowledge: 2xx means accepted, 4xx/5xx rejected, nothing known submitted."""
    http = submission.submit_http_status
    if http is None and submission.submit_response is None:
        status, raw = Status.SUBMITTED, "registered"
    elif http is None or 200 <= http < 300:
        status, raw = Status.ACCEPTED, str(http or "accepted")
    else:
        status, raw = Status.REJECTED, str(http)
    ids = submission.provider_message_ids or (None,)
    events = tuple(
        Event(
            raw_status=raw,
            status=status,
            provider_message_id=pid,
            raw_message_id=pid,
            client_ref=submission.client_ref,
            channel=submission.channel,
        )
        for pid in ids
    )
    return SubmitOutcome(events=events)
