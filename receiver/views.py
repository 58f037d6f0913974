"""The models the HTTP API answers with (and the CLI renders): one definition each, from which
the OpenAPI document is generated."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from receiver.model import Source, Status

# exact decimal, a string in JSON ("0.0350"), never a float
Money = Annotated[
    Decimal,
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "examples": ["0.0350"]}),
]


class View(BaseModel):
    """An answer model: what it holds is what is sent."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    def to_json(self) -> dict[str, Any]:
        """Plain values for `bodies.dumps` (money stays Decimal, times stay datetime)."""
        return self.model_dump(by_alias=True)


class ErrorView(View):
    code: str | None
    class_: str | None = Field(alias="class")


class EventView(View):
    """One event of a message's timeline."""

    id: int
    source: Source
    inbox_id: int | None
    provider_message_id: str | None
    raw_message_id: str | None
    client_ref: str | None
    raw_status: str
    status: Status
    error_code: str | None
    error_class: str | None
    retryable: bool | None
    description: str | None
    provider_time: datetime | None
    received_at: datetime
    cost: Money | None
    currency: str | None
    part_no: int | None
    details: dict[str, Any]


class PollView(View):
    """One request the poller made about a message (a look-up, or a list or drain page whose
    response reported on it), without credentials."""

    id: int
    kind: str = Field(description="lookup, list or drain")
    requested_at: datetime
    duration_ms: int | None
    outcome: str = Field(description="ok, not_found, rate_limited, server_error, timeout, ...")
    http_status: int | None
    error: str | None
    inbox_id: int | None = Field(description="the stored response (a 2xx answer)")
    request: dict[str, Any] = Field(description="method, path, query, body; no credentials")


class PollScheduleView(View):
    """When the message is polled next, or why it is not any more."""

    attempts: int = Field(description="polls the provider answered")
    failures: int = Field(description="polls in a row without an answer")
    next_poll_at: datetime
    last_polled_at: datetime | None
    last_outcome: str | None
    done_at: datetime | None
    done_reason: str | None = Field(description="priced, final, horizon or unpollable")


class StoredRequestView(View):
    """A stored request as it arrived (credentials redacted before it was stored) and what
    became of it."""

    id: int
    provider: str = Field(description="provider key")
    source: str = Field(
        description="callback, or poll (then method, path and query are the request made, "
        "headers and body the provider's answer)"
    )
    method: str
    path: str
    query: str
    headers: dict[str, str] = Field(description="header names lower-cased; secrets redacted")
    body: str | None = Field(description="the body as text (UTF-8), null when it is not text")
    body_base64: str | None = Field(description="the body in base64 when it is not UTF-8 text")
    body_bytes: int = Field(ge=0)
    remote_addr: str | None
    verification: str = Field(description="verified, unverified (verify = off) or failed")
    verification_reason: str | None
    received_at: datetime
    state: str = Field(description="pending, processed, quarantined or held")
    state_reason: str | None
    processed_at: datetime | None = Field(
        description="when it was quarantined, or when its events were stored (null when "
        "pending, held, or processed into events that were all stored before)"
    )
    event_count: int | None = Field(
        description="the events stored from it (0 when quarantined, and for a repeat of "
        "events stored before); null when pending or held"
    )
    response_status: int | None = Field(description="a poll's: the HTTP status answered")


class MessageView(View):
    """A message with its derived status, money fields and full event timeline."""

    id: int
    provider: str = Field(description="provider key from the configuration")
    channel: str
    client_ref: str | None
    provider_message_ids: list[str]
    destination: str | None
    submitted_at: datetime | None
    registered_at: datetime
    segments: int | None
    status: Status
    final: bool
    status_at: datetime | None
    error: ErrorView | None
    conflict: bool = Field(description="contradictory final statuses were reported")
    value: Money | None = Field(description="what our customer was charged")
    cost: Money | None = Field(description="the expected provider cost given at registration")
    currency: str | None
    provider_cost: Money | None = Field(description="the cost the provider reported")
    provider_currency: str | None
    submit_http_status: int | None
    events: list[EventView]
    polls: list[PollView] = Field(default=[], description="requests the poller made about it")
    poll_schedule: PollScheduleView | None = None
    requests: list[StoredRequestView] = Field(
        default=[], description="the stored requests (callbacks) its events came from"
    )
    sections: dict[str, list[dict[str, Any]]] = Field(
        default={},
        description="what other parts of dlrecon record about the message, by name "
        "(e.g. findings: the reconciliation findings that name it)",
    )


class MessageList(View):
    messages: list[MessageView]


class ItemOutcome(View):
    """The outcome of one registered item: its message, or why it was refused."""

    index: int = Field(ge=0, description="position of the item in the request (0-based)")
    message_id: int | None = None
    created: bool | None = Field(default=None, description="false: registered before")
    error: str | None = None
    warning: str | None = None


class Registered(View):
    """Per-item results of a registration; good items are kept even when others fail."""

    created: int = Field(ge=0)
    existing: int = Field(ge=0)
    errors: int = Field(ge=0)
    results: list[ItemOutcome]

    def to_json(self) -> dict[str, Any]:
        # an item's absent fields are left out, not sent as null
        return self.model_dump(by_alias=True, exclude_none=True)
