"""Hellio Messaging: 202 send responses, `{message, error}` error bodies, signed JSON webhooks."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from receiver.adapters import _submit, codes
from receiver.adapters._poll import (
    Auth,
    PollAdapter,
    PollRequest,
    PollResponse,
    PollTarget,
    first_id,
    secret,
)
from receiver.adapters.base import Adapter, Options, ParseError
from receiver.adapters.fields import body_data, compact, decimal, json_object, scalar, when
from receiver.model import CodeInfo, Event, RawRequest, Status, Submission, SubmitOutcome

SEND_DETAILS = ("reference", "campaign_id", "accepted_recipients", "invalid_recipients")


def _error_info(code: str | None, http: int | None) -> CodeInfo:
    """The row for an error code, else for its HTTP status, else unmapped (rejected)."""
    tables = codes.load("hellio")
    http_key = "5xx" if http is not None and 500 <= http < 600 else str(http)
    info = tables.lookup("error", code) or tables.lookup("http", http_key)
    return info or codes.unmapped(code or http_key, Status.REJECTED)


def _count(value: Any) -> int | None:
    raw = scalar(value)
    return int(raw) if raw is not None and raw.isdecimal() else None


class HellioAdapter(Adapter):
    """Hellio sends (no per-recipient id) and final-state webhooks."""

    name = "hellio"
    option_names = frozenset({"client_ref_field"})
    signature_scheme = "hellio"

    def parse_submit(self, submission: Submission, options: Options) -> SubmitOutcome:
        """Read the 202 `{"data": {…}}` body or the `{message, error}` envelope; odd → unknown."""
        return _submit.guarded(submission, lambda: self._submit(submission))

    def _submit(self, submission: Submission) -> SubmitOutcome:
        http = submission.submit_http_status
        body = json_object(submission.submit_response) or {}
        if (http is not None and http >= 300) or "error" in body:
            code = scalar(body.get("error"))
            info = _error_info(code, http)
            details = {"http_status": http, "message": scalar(body.get("message"))}
            event = Event(
                raw_status=code or str(http),
                status=info.status,
                error_code=code or str(http),
                details=compact(details),
            ).with_code(info)
            return _submit.outcome(submission, event)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ParseError("no data object in the send response")
        raw_status = scalar(data.get("status")) or "queued"
        info = codes.load("hellio").lookup_ci("status", raw_status) or codes.unmapped(raw_status)
        details = {k: v for k in SEND_DETAILS if (v := scalar(data.get(k))) is not None}
        try:
            cost = decimal(data.get("estimated_cost"))
        except ParseError:  # e.g. a float from a lossy JSON decoder: never guess an amount
            cost = None
        currency = scalar(data.get("currency"))
        event = Event(raw_status=raw_status, status=info.status, details=details).with_code(info)
        # no per-recipient id at send time: the webhook's provider_message_id is new to us
        return _submit.outcome(
            submission,
            event,
            segments=_count(data.get("segments")),
            cost=cost if currency else None,
            currency=currency if cost is not None else None,
        )

    def parse_callback(self, request: RawRequest, options: Options) -> list[Event]:
        """One webhook: `{event, mobile_number, provider_message_id, status, timestamp}`."""
        hook = body_data(request)
        if not isinstance(hook, dict):
            raise ParseError("webhook body is not an object")
        raw_id = scalar(hook.get("provider_message_id"))
        client_ref = scalar(hook.get(str(options.get("client_ref_field", "client_ref"))))
        if raw_id is None and client_ref is None:
            raise ParseError("webhook has neither provider_message_id nor a client reference")
        tables = codes.load("hellio")
        raw_status = scalar(hook.get("status"))
        event_name = scalar(hook.get("event"))
        if raw_status is not None:
            info = tables.lookup_ci("status", raw_status) or codes.unmapped(raw_status)
        elif event_name is not None:
            raw_status = event_name
            info = tables.lookup("event", event_name) or codes.unmapped(event_name)
        else:
            raise ParseError("webhook has neither status nor event")
        event = Event(
            raw_status=raw_status,
            status=info.status,
            provider_message_id=self.canonical_id(raw_id, options) if raw_id else None,
            raw_message_id=raw_id,
            client_ref=client_ref,
            provider_time=when(hook.get("timestamp")),
            recipient=scalar(hook.get("mobile_number")),
            details={"event": event_name} if event_name else {},
        )
        return [event.with_code(info)]


ADAPTER = HellioAdapter()


# --- polling: GET /v1/messages/{id} -------------------------------------------------------


class HellioPoll(PollAdapter):
    """Look a message up by its id: the webhook's id if one came, else the send's `reference`.

    Hellio does not publish this response's body. It is read with the webhook's vocabulary
    (`provider_message_id` or `id`, `status`, `timestamp`, `mobile_number`), inside a `data`
    object as the send response has it; a body that does not fit is quarantined (stored raw,
    replayable), never guessed at.
    """

    name = "hellio"
    required = ("api_token",)

    def poll_request(self, target: PollTarget, options: Options) -> PollRequest | None:
        ident = first_id(target) or _send_reference(target.submit_response)
        if ident is None:
            return None
        return PollRequest(
            kind="lookup",
            method="GET",
            path=f"/v1/messages/{quote(ident, safe='')}",
            auth=Auth("bearer", secret(options, "api_token")),
            message_id=target.message_id,
            client_ref=target.client_ref,
        )

    def parse(self, response: PollResponse, options: Options) -> list[Event]:
        doc = json_object(response.json())
        if doc is None:
            raise ParseError("message body is not an object")
        item = doc["data"] if isinstance(doc.get("data"), dict) else doc
        raw_id = scalar(item.get("provider_message_id")) or scalar(item.get("id"))
        raw_status = scalar(item.get("status"))
        if raw_status is None:
            raise ParseError("message has no status")
        client_ref = response.looked_up()
        if raw_id is None and client_ref is None:
            raise ParseError("message has no id")
        info = codes.load("hellio").lookup_ci("status", raw_status) or codes.unmapped(raw_status)
        return [
            Event(
                raw_status=raw_status,
                status=info.status,
                provider_message_id=self.canonical_id(raw_id, options) if raw_id else None,
                raw_message_id=raw_id,
                client_ref=client_ref,
                provider_time=when(item.get("timestamp")),
                recipient=scalar(item.get("mobile_number")),
            ).with_code(info)
        ]

    def canonical_id(self, raw: str, options: Options) -> str:
        return ADAPTER.canonical_id(raw, options)


def _send_reference(submit_response: Any) -> str | None:
    body = json_object(submit_response) or {}
    data = body.get("data")
    return scalar(data.get("reference")) if isinstance(data, dict) else None


POLL = HellioPoll()
