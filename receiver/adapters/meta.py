"""Meta WhatsApp Business Platform (Cloud API): message status webhooks.

One POST carries `entry[].changes[].value.statuses[]`, each a status of one message:
`id` (wamid), `status`, `timestamp` (epoch seconds), `recipient_id`, `biz_opaque_callback_data`
(our reference), `errors[]` {code, title, message, error_data.details}, `pricing`
{billable, category, pricing_model, type} and `conversation` {id, origin.type,
expiration_timestamp}. Meta gives a pricing category, never an amount: cost stays None.
Inbound `messages[]` and other fields (template updates...) yield no events.
The subscription check is a GET with `hub.mode=subscribe`, `hub.verify_token`, `hub.challenge`.

`status_items`, `first_error` and `whatsapp_details` are shared with BSPs that pass Meta's
envelope through (Gupshup v3).
"""

from __future__ import annotations

import hmac
from typing import Any

from receiver.adapters import _submit, codes
from receiver.adapters.base import Ack, Adapter, Options, ParseError
from receiver.adapters.fields import (
    compact,
    json_body,
    mapping,
    optional_list,
    require_object,
    text,
    timestamp,
)
from receiver.model import Channel, CodeInfo, Event, RawRequest, Status, Submission, SubmitOutcome


class MetaAdapter(Adapter):
    """WhatsApp Cloud API status webhooks: one event per `statuses[]` item."""

    name = "meta"
    signature_scheme = "meta"

    def parse_callback(self, request: RawRequest, options: Options) -> list[Event]:
        """Every status in the envelope, in order; inbound messages and other fields give none."""
        doc = json_body(request)
        return [self._event(item, value) for item, value in status_items(doc)]

    def handshake(self, request: RawRequest, options: Options) -> Ack | None:
        """Answer the webhook subscription check with `hub.challenge` if the token matches."""
        if request.method.upper() != "GET":
            return None
        query = request.query_dict()
        if query.get("hub.mode") != "subscribe":
            return None
        expected = _secret(options.get("verify_token"))
        given = query.get("hub.verify_token", "")
        # surrogatepass: a query string may hold lone surrogates that plain encode() rejects
        if not expected or not hmac.compare_digest(
            given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
        ):
            return Ack(403, b"verify token mismatch")
        return Ack(200, query.get("hub.challenge", "").encode())

    def parse_submit(self, submission: Submission, options: Options) -> SubmitOutcome:
        """`{"messages": [{"id": "wamid...", "message_status"}]}` or Graph `{"error": {...}}`."""
        return _submit.read(submission, lambda body: self._submit(body, submission))

    def _submit(self, response: dict[str, Any], submission: Submission) -> SubmitOutcome | None:
        messages = response.get("messages")
        if isinstance(messages, list) and messages and isinstance(messages[0], dict):
            return self._accepted(messages[0], submission)
        if isinstance(response.get("error"), dict):
            return self._refused(response["error"], submission)
        return None

    def _event(self, item: dict[str, Any], value: dict[str, Any]) -> Event:
        raw_id = text(item.get("id"))
        raw_status = text(item.get("status"))
        if raw_id is None or raw_status is None:
            raise ParseError("status without id or status")
        code, error_details = first_error(item)
        return Event(
            raw_status=raw_status,
            status=Status.UNKNOWN,
            provider_message_id=self.canonical_id(raw_id, {}),
            raw_message_id=raw_id,
            client_ref=text(item.get("biz_opaque_callback_data")),
            error_code=code,
            provider_time=timestamp(item.get("timestamp")),
            channel=Channel.WHATSAPP,
            recipient=text(item.get("recipient_id")),
            details={**whatsapp_details(item, value), **error_details},
        ).with_code(outcome("meta", raw_status, code))

    def _accepted(self, message: dict[str, Any], submission: Submission) -> SubmitOutcome | None:
        raw_id = text(message.get("id"))
        if raw_id is None:
            return None
        raw_status = text(message.get("message_status")) or "accepted"
        info = codes.load("meta").lookup_ci("submit_status", raw_status) or codes.unmapped(
            raw_status
        )
        event = Event(
            raw_status=raw_status,
            status=Status.UNKNOWN,
            provider_message_id=self.canonical_id(raw_id, {}),
            raw_message_id=raw_id,
            client_ref=submission.client_ref,
            channel=Channel.WHATSAPP,
            recipient=submission.destination,
        ).with_code(info)
        return SubmitOutcome(
            events=(event,), provider_message_ids=(raw_id,), channel=Channel.WHATSAPP
        )

    def _refused(self, error: dict[str, Any], submission: Submission) -> SubmitOutcome:
        code = text(error.get("code"))
        info = (codes.load("meta").lookup("error", code) if code else None) or codes.unmapped(
            code or "error"
        )
        event = Event(
            raw_status=str(submission.submit_http_status or "error"),
            status=Status.REJECTED,
            client_ref=submission.client_ref,
            error_code=code,
            channel=Channel.WHATSAPP,
            recipient=submission.destination,
            details=compact(
                {
                    "error_message": text(error.get("message")),
                    "error_details": text(mapping(error.get("error_data")).get("details")),
                    "fbtrace_id": text(error.get("fbtrace_id")),
                }
            ),
        ).with_code(codes.refusal(info))
        return SubmitOutcome(events=(event,))


def status_items(doc: Any) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """Every `statuses[]` item of a webhook envelope, paired with the `value` holding it."""
    if not isinstance(doc, dict) or not isinstance(doc.get("entry"), list):
        raise ParseError("not a WhatsApp webhook: no entry[]")
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    for entry in doc["entry"]:
        for change in optional_list(require_object(entry, "entry").get("changes"), "changes"):
            value = require_object(require_object(change, "change").get("value", {}), "value")
            for item in optional_list(value.get("statuses"), "statuses"):
                found.append((require_object(item, "status"), value))
    return found


def first_error(item: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """(code of the first error, details listing every error) of one status item."""
    errors = optional_list(item.get("errors"), "errors")
    listed = [
        compact(
            {
                "code": text(error.get("code")),
                "title": text(error.get("title")),
                "message": text(error.get("message")),
                "details": text(mapping(error.get("error_data")).get("details")),
            }
        )
        for error in (require_object(e, "error") for e in errors)
    ]
    code = listed[0].get("code") if listed else None
    return code, ({"errors": listed} if listed else {})


def whatsapp_details(item: dict[str, Any], value: dict[str, Any]) -> dict[str, Any]:
    """Pricing category, conversation and business number of one status (JSON-safe)."""
    pricing = mapping(item.get("pricing"))
    conversation = mapping(item.get("conversation"))
    metadata = mapping(value.get("metadata"))
    billable = pricing.get("billable")
    details = {
        "pricing_billable": billable if isinstance(billable, bool) else text(billable),
        "pricing_category": text(pricing.get("category")),
        "pricing_model": text(pricing.get("pricing_model")),
        "pricing_type": text(pricing.get("type")),
        "conversation_id": text(conversation.get("id")),
        "conversation_origin": text(mapping(conversation.get("origin")).get("type")),
        "conversation_expiration": text(conversation.get("expiration_timestamp")),
        "recipient_type": text(item.get("recipient_type")),
        "phone_number_id": text(metadata.get("phone_number_id")),
        "display_phone_number": text(metadata.get("display_phone_number")),
    }
    return compact(details)


def outcome(provider: str, raw_status: str, code: str | None) -> CodeInfo:
    """The status row of `provider`, with the error row (own table, then Meta's) if any."""
    tables = codes.load(provider)
    status = tables.lookup_ci("status", raw_status) or codes.unmapped(raw_status)
    if code is None:
        return status
    error = (
        tables.lookup("error", code) or codes.load("meta").lookup("error", code)
    ) or codes.unmapped(code)
    # an error refines a failure (failed + 131047 is a refusal), never turns `read` into one
    return codes.combine(status, error)


def _secret(value: Any) -> str | None:
    """The configured verify token: a pydantic SecretStr or a plain string."""
    getter = getattr(value, "get_secret_value", None)
    raw = getter() if callable(getter) else value
    return raw if isinstance(raw, str) and raw else None


ADAPTER = MetaAdapter()
