"""Gupshup: WhatsApp message events (v2 and Meta-style v3) and Enterprise SMS real-time DLRs.

WhatsApp v2: `{"type": "message-event", "payload": {"id", "gsId", "type", "destination",
"payload": {...}}}`. `enqueued` and sync `failed` carry the Gupshup id in `payload.id`
(`enqueued` also the WhatsApp id in `payload.payload.whatsappMessageId`); later events carry
the WhatsApp id in `payload.id` and the Gupshup id in `payload.gsId` (absent after a week).
Every event is keyed on the Gupshup id so all events of one message share it; the WhatsApp
id goes to `details["whatsapp_message_id"]`. v3 is Meta's envelope with `gs_id` per status.

Enterprise SMS: GET `externalId, deliveredTS, status, cause, phoneNo, errCode, noOfFrags, mask`
(the template puts a space in "& noOfFrags"), or POST, a JSON array of up to 20
`{externalId, eventType, eventTs, destAddr, srcAddr, cause, errCode, channel, noOfFrags}`.
Gupshup publishes no signature: protect the URL with `path_token` and `allow_ips`.
"""

from __future__ import annotations

import re
from typing import Any

from receiver.adapters import _submit, codes, meta
from receiver.adapters.base import Adapter, Options, ParseError
from receiver.adapters.fields import (
    compact,
    form_fields,
    is_json,
    json_body,
    mapping,
    require_object,
    text,
    timestamp,
)
from receiver.model import Channel, CodeInfo, Event, RawRequest, Status, Submission, SubmitOutcome

# v2 callback types that are not about an outbound message's delivery
_NOT_STATUS = frozenset(
    {
        "message",
        "user-event",
        "billing-event",
        "system-event",
        "template-event",
        "account-event",
        "platform-event",
    }
)
# events whose payload.id is the Gupshup id (later ones carry it as gsId)
_GUPSHUP_ID_EVENTS = frozenset({"enqueued", "failed"})
_UUID = re.compile(r"^[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}$")


class GupshupAdapter(Adapter):
    """Gupshup WhatsApp message events and Enterprise SMS DLRs, told apart by shape."""

    name = "gupshup"
    signature_scheme = None

    def parse_callback(self, request: RawRequest, options: Options) -> list[Event]:
        """WhatsApp events (one per status) or SMS DLRs (one per report in a batch)."""
        if is_json(request):
            return self._json(json_body(request), options)
        # the published GET template has "& noOfFrags" and a line break: names arrive padded
        return [self._sms(_stripped(form_fields(request)), options)]

    def canonical_id(self, raw: str, options: Options) -> str:
        """Gupshup ids are UUIDs (case-insensitive); WhatsApp and SMS ids are kept as sent."""
        raw = raw.strip()
        return raw.lower() if _UUID.match(raw) else raw

    def parse_submit(self, submission: Submission, options: Options) -> SubmitOutcome:
        """WhatsApp send: `{"status": "submitted", "messageId"}` or `{"status": "error"}`."""
        return _submit.read(submission, lambda body: self._submit(body, submission, options))

    def _submit(
        self, response: dict[str, Any], submission: Submission, options: Options
    ) -> SubmitOutcome | None:
        raw_status = text(response.get("status"))
        if raw_status is None:
            return None
        raw_id = text(response.get("messageId"))
        info = codes.load("gupshup").lookup_ci("submit_status", raw_status) or codes.unmapped(
            raw_status
        )
        event = Event(
            raw_status=raw_status,
            status=Status.UNKNOWN,
            provider_message_id=self.canonical_id(raw_id, options) if raw_id else None,
            raw_message_id=raw_id,
            client_ref=submission.client_ref,
            channel=submission.channel,
            recipient=submission.destination,
            details=compact({"message": text(response.get("message"))}),
        ).with_code(info)
        ids = (event.provider_message_id,) if event.provider_message_id else ()
        return SubmitOutcome(events=(event,), provider_message_ids=ids)

    def _json(self, doc: Any, options: Options) -> list[Event]:
        if isinstance(doc, list):
            return [self._sms(require_object(item, "SMS event"), options) for item in doc]
        if not isinstance(doc, dict):
            raise ParseError("JSON body is neither an object nor an array")
        if isinstance(doc.get("response"), list):  # the SMS batch as the docs print it
            return self._json(doc["response"], options)
        if "entry" in doc:
            return [self._v3(item, value, doc, options) for item, value in meta.status_items(doc)]
        kind = text(doc.get("type"))
        if kind == "message-event":
            return [self._v2(doc, options)]
        if kind in _NOT_STATUS:
            return []
        if "externalId" in doc:
            return [self._sms(doc, options)]
        raise ParseError(f"unknown Gupshup callback (type {kind!r})")

    def _v2(self, doc: dict[str, Any], options: Options) -> Event:
        payload = require_object(doc.get("payload"), "payload")
        inner = mapping(payload.get("payload"))
        raw_status = text(payload.get("type"))
        own_id, gs_id = text(payload.get("id")), text(payload.get("gsId"))
        if raw_status is None or (own_id is None and gs_id is None):
            raise ParseError("message-event without payload.type or payload.id")
        missing = None
        raw_id: str | None
        if gs_id is not None:
            raw_id, whatsapp_id = gs_id, own_id
        elif raw_status.lower() in _GUPSHUP_ID_EVENTS:
            raw_id, whatsapp_id = own_id, text(inner.get("whatsappMessageId"))
        else:  # a report more than a week after sending: only the WhatsApp id is left
            raw_id, whatsapp_id, missing = own_id, own_id, True
        code = text(inner.get("code"))
        conversation, pricing = mapping(inner.get("conversation")), mapping(inner.get("pricing"))
        details = {
            "whatsapp_message_id": whatsapp_id,
            "gupshup_id_missing": missing,
            "app": text(doc.get("app")),
            "message_type": text(inner.get("type")),
            "reason": text(inner.get("reason")),
            "conversation_id": text(conversation.get("id")),
            "conversation_type": text(conversation.get("type")),
            "conversation_expires_at": text(conversation.get("expiresAt")),
            "pricing_policy": text(pricing.get("policy")),
            "pricing_category": text(pricing.get("category")),
        }
        return Event(
            raw_status=raw_status,
            status=Status.UNKNOWN,
            provider_message_id=self.canonical_id(raw_id, options) if raw_id else None,
            raw_message_id=raw_id,
            aliases=self._aliases(raw_id, whatsapp_id, options),
            error_code=code,
            # Meta's time of the status when given, else when Gupshup sent the callback
            provider_time=timestamp(inner.get("ts")) or timestamp(doc.get("timestamp")),
            channel=Channel.WHATSAPP,
            recipient=text(payload.get("destination")),
            details=compact(details),
        ).with_code(meta.outcome("gupshup", raw_status, code))

    def _aliases(
        self, raw_id: str | None, whatsapp_id: str | None, options: Options
    ) -> tuple[str, ...]:
        """The WhatsApp id, when the event is keyed on the Gupshup id: a later report that
        carries only the WhatsApp id still finds the message through it."""
        if raw_id is None or whatsapp_id is None or whatsapp_id == raw_id:
            return ()
        return (self.canonical_id(whatsapp_id, options),)

    def _v3(
        self, item: dict[str, Any], value: dict[str, Any], doc: dict[str, Any], options: Options
    ) -> Event:
        raw_status = text(item.get("status"))
        gs_id, whatsapp_id = text(item.get("gs_id")), text(item.get("id"))
        raw_id = gs_id or whatsapp_id
        if raw_status is None or raw_id is None:
            raise ParseError("v3 status without status or id")
        code, error_details = meta.first_error(item)
        details = {
            **meta.whatsapp_details(item, value),
            **error_details,
            "whatsapp_message_id": whatsapp_id if gs_id else None,
            "gupshup_id_missing": True if gs_id is None else None,
            "gs_app_id": text(doc.get("gs_app_id")),
        }
        return Event(
            raw_status=raw_status,
            status=Status.UNKNOWN,
            provider_message_id=self.canonical_id(raw_id, options),
            raw_message_id=raw_id,
            aliases=self._aliases(raw_id, whatsapp_id, options),
            client_ref=text(item.get("biz_opaque_callback_data")),
            error_code=code,
            provider_time=timestamp(item.get("timestamp")),
            channel=Channel.WHATSAPP,
            recipient=text(item.get("recipient_id")),
            details=compact(details),
        ).with_code(meta.outcome("gupshup", raw_status, code))

    def _sms(self, fields: dict[str, Any], options: Options) -> Event:
        raw_id = text(fields.get("externalId"))
        raw_status = text(fields.get("status")) or text(fields.get("eventType"))
        if raw_id is None or raw_status is None:
            raise ParseError("SMS DLR without externalId or status/eventType")
        cause = text(fields.get("cause"))
        code = _err_code(fields.get("errCode"))
        if code is None and cause is not None and cause.upper() != "SUCCESS":
            code = cause  # no errCode: the cause name is the reason
        details = {
            "cause": cause,
            "segments": text(fields.get("noOfFrags")),
            "sender": text(fields.get("mask")) or text(fields.get("srcAddr")),
            "channel": text(fields.get("channel")),
        }
        return Event(
            raw_status=raw_status,
            status=Status.UNKNOWN,
            provider_message_id=self.canonical_id(raw_id, options),
            raw_message_id=raw_id,
            error_code=code,
            provider_time=timestamp(fields.get("deliveredTS")) or timestamp(fields.get("eventTs")),
            channel=Channel.SMS,
            recipient=text(fields.get("phoneNo")) or text(fields.get("destAddr")),
            details=compact(details),
        ).with_code(_sms_outcome(raw_status, code))


def _sms_outcome(raw_status: str, code: str | None) -> CodeInfo:
    """SMS status row, with the reason from `errCode` (or the cause name when it is missing)."""
    tables = codes.load("gupshup")
    status = tables.lookup_ci("sms_status", raw_status) or codes.unmapped(raw_status)
    if code is None:
        return status
    error = (
        tables.lookup("sms_error", code) or tables.lookup_ci("sms_cause", code)
    ) or codes.unmapped(code)
    return codes.combine(status, error)


def _err_code(value: Any) -> str | None:
    """errCode as the documented 3 digits (`3` -> `003`); `000` means no error."""
    code = text(value)
    if code is not None and code.isascii() and code.isdigit() and len(code) < 3:
        code = code.zfill(3)
    return None if code is None or code.strip("0") == "" else code


def _stripped(fields: dict[str, Any]) -> dict[str, Any]:
    return {key.strip(): value for key, value in fields.items()}


ADAPTER = GupshupAdapter()
