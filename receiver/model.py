"""The canonical model: statuses, error classes and the events adapters produce."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


class Status(enum.StrEnum):
    """Canonical delivery status (closed set, see docs/design.md). The SQL functions
    `dlrecon_status_rank/final/failure/success` say the same (a test compares them)."""

    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    SENT = "sent"
    UNKNOWN = "unknown"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    EXPIRED = "expired"
    REJECTED = "rejected"

    @property
    def rank(self) -> int:
        return _RANK[self]

    @property
    def final(self) -> bool:
        return self in FINAL_STATUSES

    @property
    def failure(self) -> bool:
        return self in FAILURE_STATUSES

    @property
    def success(self) -> bool:
        return self in SUCCESS_STATUSES


_RANK = {
    Status.SUBMITTED: 0,
    Status.ACCEPTED: 1,
    Status.SENT: 2,
    Status.UNKNOWN: 3,
    Status.DELIVERED: 4,
    Status.FAILED: 4,
    Status.EXPIRED: 4,
    Status.REJECTED: 4,
    Status.READ: 5,
}
FINAL_STATUSES = frozenset(
    {Status.DELIVERED, Status.READ, Status.FAILED, Status.EXPIRED, Status.REJECTED}
)
FAILURE_STATUSES = frozenset({Status.FAILED, Status.EXPIRED, Status.REJECTED})
SUCCESS_STATUSES = frozenset({Status.DELIVERED, Status.READ})


class ErrorClass(enum.StrEnum):
    """Why something failed, in terms an operator can act on."""

    AUTH = "auth"
    ACCOUNT = "account"
    BILLING = "billing"
    VALIDATION = "validation"
    RECIPIENT = "recipient"
    CONTENT = "content"
    ROUTE = "route"
    RATE_LIMIT = "rate_limit"
    DUPLICATE = "duplicate"
    PROVIDER = "provider"
    NETWORK = "network"
    UNKNOWN = "unknown"


class Channel(enum.StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    VOICE = "voice"


class Source(enum.StrEnum):
    """Where an event came from."""

    SUBMIT = "submit"
    CALLBACK = "callback"
    POLL = "poll"


@dataclass(frozen=True, slots=True)
class CodeInfo:
    """One row of a provider code table."""

    code: str
    status: Status
    error_class: ErrorClass | None
    retryable: bool
    description: str
    # False for the stand-in row of a code no table knows (see `codes.unmapped`)
    mapped: bool = True


@dataclass(frozen=True, slots=True)
class Event:
    """One canonical status observation about one message (or one part of it).

    Adapters build these; they never do I/O. `provider_message_id` is the canonical
    form (see `Adapter.canonical_id`), `raw_message_id` the id exactly as received.
    An event must carry a provider message id or a client reference to be matchable.
    """

    raw_status: str
    status: Status
    provider_message_id: str | None = None
    raw_message_id: str | None = None
    client_ref: str | None = None
    error_code: str | None = None
    error_class: ErrorClass | None = None
    retryable: bool | None = None
    description: str | None = None
    provider_time: datetime | None = None
    cost: Decimal | None = None
    currency: str | None = None
    channel: Channel | None = None
    recipient: str | None = None
    # provider specifics worth keeping (network code, pricing category, call duration...)
    details: dict[str, Any] = field(default_factory=dict)
    # other canonical ids of the same message part (Gupshup's WhatsApp id beside its own):
    # once this event is matched, later events carrying only an alias match too
    aliases: tuple[str, ...] = ()
    # a code in this event is one no table maps (counted on /metrics: the tables need a row)
    unmapped: bool = False

    def with_code(self, info: CodeInfo | None) -> Event:
        """Return a copy with status and error fields taken from a code table row."""
        if info is None:
            return self
        from dataclasses import replace

        return replace(
            self,
            status=info.status,
            error_class=info.error_class,
            retryable=info.retryable,
            description=info.description,
            unmapped=self.unmapped or not info.mapped,
        )


@dataclass(frozen=True, slots=True)
class RawRequest:
    """A callback exactly as received (what the inbox stores), given to adapters.

    `query` keeps repeated keys and their order; `raw_query` is the query string as sent.
    """

    method: str
    path: str
    query: tuple[tuple[str, str], ...]
    headers: dict[str, str]  # lower-cased names
    body: bytes
    content_type: str = ""
    remote: str | None = None
    raw_query: str = ""  # the query string exactly as received (signatures cover it)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def query_dict(self) -> dict[str, str]:
        """Query parameters, the last value winning for repeated keys."""
        return dict(self.query)


@dataclass(frozen=True, slots=True)
class Submission:
    """What the sending system registered, given to `Adapter.parse_submit`."""

    provider_key: str
    channel: Channel
    client_ref: str | None
    provider_message_ids: tuple[str, ...]
    destination: str | None
    submitted_at: datetime | None
    submit_response: Any  # decoded JSON, or a string
    submit_http_status: int | None
    segments: int | None = None


@dataclass(frozen=True, slots=True)
class SubmitOutcome:
    """What a provider's submit response says about one registered message.

    `provider_message_ids` are ids found in the response (canonical form), added to
    the ones the sending system gave. `events` become the message's first events.
    `channel` is the channel the response shows (Twilio `to: whatsapp:+1…`), None when it
    shows none: the message takes it when the sending system registered no channel.
    """

    events: tuple[Event, ...] = ()
    provider_message_ids: tuple[str, ...] = ()
    segments: int | None = None
    cost: Decimal | None = None
    currency: str | None = None
    channel: Channel | None = None


def dedupe_key(
    event: Event, source: Source, message_id: int | None = None, part_no: int | None = None
) -> str:
    """Invariant 5: provider id (or client ref) + raw status + provider time + error code
    (+ the reported price and currency, for callbacks and polls).

    Never the message id alone, which would drop every later status. Submit events are
    written for a known message, so their key is that message (and part): two messages
    without ids or reference must not share one.
    """
    when = event.provider_time.isoformat() if event.provider_time else ""
    tail = f"{event.raw_status}|{when}|{event.error_code or ''}"
    if source is not Source.SUBMIT and event.cost is not None:
        # a poll that adds a price to a known status says something new; the same status
        # with the same price (or none) from a callback and a poll is one event
        tail += f"|price:{amount_key(event.cost)} {event.currency or ''}"
    if source is Source.SUBMIT and message_id is not None:
        return f"submit|msg:{message_id}|part:{'' if part_no is None else part_no}|{tail}"
    ident = (
        f"id:{event.provider_message_id}"
        if event.provider_message_id
        else f"ref:{event.client_ref or ''}"
    )
    prefix = "submit|" if source is Source.SUBMIT else ""
    return f"{prefix}{ident}|{tail}"


def amount_key(amount: Decimal) -> str:
    """An amount as dedupe keys write it: plain notation, no trailing zeros (`0.0333`, `100`),
    the same text as Postgres' `trim_scale(amount)::text` (migration 0006 relies on it)."""
    text = format(amount, "f")  # never rounded (normalize() would round to 28 digits)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text
