"""Twilio Programmable Messaging: status callbacks, Message resources (poll) and submit responses.

Status callback (form post): `MessageSid` (legacy `SmsSid`), `MessageStatus` (legacy `SmsStatus`),
`ErrorCode`, `To`, `From`, `AccountSid`, `MessagingServiceSid`, `RawDlrDoneDate` (carrier
`YYMMDDhhmm`, zone not given), `ChannelPrefix` / `ChannelStatusMessage` (WhatsApp, RCS).
Callbacks carry no price: the Message resource (`GET .../Messages/{Sid}.json`, also the
submit response) has `price` (negative: a charge) and `price_unit`, filled in later.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
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
from receiver.adapters.fields import (
    compact,
    decimal,
    form_fields,
    is_json,
    json_body,
    small_int,
    text,
    timestamp,
)
from receiver.model import Channel, CodeInfo, Event, RawRequest, Status, Submission, SubmitOutcome

# inbound messages also reach a status URL when it doubles as the SMS URL: not delivery reports
_INBOUND = frozenset({"receiving", "received"})
# `whatsapp:+1555...`; other prefixes (rcs:, messenger:) have no canonical channel yet
_CHANNELS = {"whatsapp": Channel.WHATSAPP}


class TwilioAdapter(Adapter):
    """Twilio messaging status callbacks (form) and Message resources (JSON)."""

    name = "twilio"
    signature_scheme = "twilio"

    def parse_callback(self, request: RawRequest, options: Options) -> list[Event]:
        """One event per status callback; one per Message resource in a polled JSON body."""
        if is_json(request):
            return self._resources(json_body(request))
        return self._callback(form_fields(request))

    def parse_submit(self, submission: Submission, options: Options) -> SubmitOutcome:
        """The Message resource returned by `POST .../Messages.json`, or Twilio's error body."""
        return _submit.read(submission, lambda body: self._submit(body, submission))

    def _submit(self, response: dict[str, Any], submission: Submission) -> SubmitOutcome | None:
        channel = None
        if "sid" in response:
            event = self._resource(response)
            channel = event.channel  # from `to`/`from`, before the registration fills it
        elif "code" in response:
            event = _submit_error(response, submission.submit_http_status)
        else:
            return None
        event = _with_submission(event, submission)
        ids = (event.provider_message_id,) if event.provider_message_id else ()
        return SubmitOutcome(
            events=(event,),
            provider_message_ids=ids,
            segments=small_int(response.get("num_segments")),
            cost=event.cost,
            currency=event.currency,
            channel=channel,
        )

    def _callback(self, fields: dict[str, Any]) -> list[Event]:
        if "CallSid" in fields and "MessageSid" not in fields:
            raise ParseError("Twilio voice call callbacks are not supported by this adapter")
        raw_id = text(fields.get("MessageSid")) or text(fields.get("SmsSid"))
        raw_status = text(fields.get("MessageStatus")) or text(fields.get("SmsStatus"))
        if raw_id is None:
            raise ParseError("no MessageSid")
        if raw_status is None:
            raise ParseError("no MessageStatus")
        if raw_status.lower() in _INBOUND:
            return []
        channel, recipient, prefix = _channel(
            fields.get("To"), fields.get("From"), fields.get("ChannelPrefix")
        )
        done_date = text(fields.get("RawDlrDoneDate"))
        error_code = _error_code(fields.get("ErrorCode"))
        details = {
            "account_sid": text(fields.get("AccountSid")),
            "messaging_service_sid": text(fields.get("MessagingServiceSid")),
            "from": text(fields.get("From")),
            "channel_prefix": prefix,
            "channel_status_message": text(fields.get("ChannelStatusMessage")),
            "error_message": text(fields.get("ErrorMessage")),
            "raw_dlr_done_date": done_date,
        }
        return [
            Event(
                raw_status=raw_status,
                status=Status.UNKNOWN,
                provider_message_id=self.canonical_id(raw_id, {}),
                raw_message_id=raw_id,
                error_code=error_code,
                provider_time=_done_date(done_date),
                channel=channel,
                recipient=recipient,
                details=compact(details),
            ).with_code(_outcome(raw_status, error_code))
        ]

    def _resources(self, doc: Any) -> list[Event]:
        if isinstance(doc, dict) and isinstance(doc.get("messages"), list):
            items: list[Any] = doc["messages"]  # a page of the Messages list
        elif isinstance(doc, dict):
            items = [doc]
        else:
            raise ParseError("JSON body is not a Message resource")
        events: list[Event] = []
        for item in items:
            if not isinstance(item, dict):
                raise ParseError("Message resource is not an object")
            if text(item.get("status")) in _INBOUND:
                continue
            events.append(self._resource(item))
        return events

    def _resource(self, item: dict[str, Any]) -> Event:
        """One Message resource (REST JSON, snake_case fields)."""
        if "sid" not in item and "code" in item:
            raise ParseError(f"Twilio error response, not a message: {text(item.get('code'))}")
        raw_id = text(item.get("sid"))
        raw_status = text(item.get("status"))
        if raw_id is None or raw_status is None:
            raise ParseError("Message resource without sid or status")
        price = decimal(item.get("price"))
        currency = text(item.get("price_unit"))
        if currency is None:
            price = None  # money without a currency is no cost; the raw price stays in details
        channel, recipient, prefix = _channel(item.get("to"), item.get("from"), None)
        error_code = _error_code(item.get("error_code"))
        details = {
            "account_sid": text(item.get("account_sid")),
            "messaging_service_sid": text(item.get("messaging_service_sid")),
            "from": text(item.get("from")),
            "channel_prefix": prefix,
            "direction": text(item.get("direction")),
            "segments": small_int(item.get("num_segments")),
            "error_message": text(item.get("error_message")),
            "price": text(item.get("price")),
        }
        return Event(
            raw_status=raw_status,
            status=Status.UNKNOWN,
            provider_message_id=self.canonical_id(raw_id, {}),
            raw_message_id=raw_id,
            error_code=error_code,
            provider_time=_rfc2822(item.get("date_updated"))
            or _rfc2822(item.get("date_sent"))
            or _rfc2822(item.get("date_created")),
            # Twilio reports what it charged as a negative price
            cost=abs(price) if price is not None else None,
            currency=currency if price is not None else None,
            channel=channel,
            recipient=recipient,
            details=compact(details),
        ).with_code(_outcome(raw_status, error_code))


def _outcome(raw_status: str, error_code: str | None) -> CodeInfo:
    """The status row, with class, retryability and description from the error row if any."""
    tables = codes.load("twilio")
    status = tables.lookup_ci("status", raw_status) or codes.unmapped(raw_status)
    if error_code is None:
        return status
    error = tables.lookup("error", error_code) or codes.unmapped(error_code)
    # an error refines a failure (failed + 21610 is a refusal), never turns `sent` into one
    return codes.combine(status, error)


def _submit_error(body: dict[str, Any], http: int | None) -> Event:
    """Twilio's error body (`{"code", "message", "more_info", "status"}`): a refused submit."""
    code = _error_code(body.get("code"))
    if code is None:
        raise ParseError("error body without code")
    error = codes.load("twilio").lookup("error", code) or codes.unmapped(code)
    return Event(
        raw_status=text(body.get("status")) or str(http or "error"),
        status=Status.REJECTED,
        error_code=code,
        details=compact({"message": text(body.get("message"))}),
    ).with_code(codes.refusal(error))


def _with_submission(event: Event, submission: Submission) -> Event:
    """Fill what the submit response does not say from the registered message."""
    return replace(
        event,
        client_ref=event.client_ref or submission.client_ref,
        channel=event.channel or submission.channel,
        recipient=event.recipient or submission.destination,
    )


def _channel(to: Any, sender: Any, prefix: Any) -> tuple[Channel | None, str | None, str | None]:
    """(channel, recipient without its `whatsapp:` prefix, the prefix) from To/From."""
    to_scheme, recipient = _split(text(to))
    from_scheme, _ = _split(text(sender))
    scheme = (text(prefix) or to_scheme or from_scheme or "").lower() or None
    if scheme is not None:
        return _CHANNELS.get(scheme), recipient, scheme
    return (Channel.SMS if recipient or text(sender) else None), recipient, None


def _split(address: str | None) -> tuple[str | None, str | None]:
    """`whatsapp:+1555` -> (`whatsapp`, `+1555`); `+1555` -> (None, `+1555`)."""
    if address is None:
        return None, None
    scheme, sep, rest = address.partition(":")
    if sep and scheme.isalpha():
        return scheme.lower(), rest.strip() or None
    return None, address


def _error_code(value: Any) -> str | None:
    """ErrorCode as text; absent, empty and 0 mean no error."""
    code = text(value)
    return None if code in (None, "0") else code


def _done_date(value: str | None) -> datetime | None:
    """RawDlrDoneDate `YYMMDDhhmm`, read as UTC (Twilio: the carrier's zone is not given)."""
    if value is None or len(value) != 10 or not value.isascii() or not value.isdigit():
        return None  # a carrier pass-through: kept raw in details rather than failing the report
    try:
        return datetime.strptime(value, "%y%m%d%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None


def _rfc2822(value: Any) -> datetime | None:
    """Twilio REST dates (`Fri, 24 May 2019 17:18:28 +0000`), ISO 8601 accepted too."""
    raw = text(value)
    if raw is None:
        return None
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError, OverflowError):
        return timestamp(raw)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


ADAPTER = TwilioAdapter()


# --- polling: GET /2010-04-01/Accounts/{AccountSid}/Messages/{MessageSid}.json -------------


class TwilioPoll(PollAdapter):
    """Fetch the Message resource: status, error_code, price (negative) + price_unit, segments."""

    name = "twilio"
    gives_price = True  # `price` is filled in seconds to minutes after the final status
    required = ("account_sid", "auth_token")

    def poll_request(self, target: PollTarget, options: Options) -> PollRequest | None:
        sid = first_id(target)
        account = text(options.get("account_sid"))
        if sid is None:
            return None
        if account is None:
            raise ParseError("option account_sid is not configured")
        return PollRequest(
            kind="lookup",
            method="GET",
            path=f"/2010-04-01/Accounts/{_segment(account)}/Messages/{_segment(sid)}.json",
            auth=Auth("basic", secret(options, "auth_token"), user=account),
            message_id=target.message_id,
            client_ref=target.client_ref,
        )

    def parse(self, response: PollResponse, options: Options) -> list[Event]:
        """The resource as an event with no provider time: status callbacks carry none, so a
        poll and a callback saying the same thing (status, error, price) are one event."""
        doc = response.json()
        if not isinstance(doc, dict):
            raise ParseError("Message resource is not an object")
        if text(doc.get("status")) in _INBOUND:
            return []
        event = ADAPTER._resource(doc)
        details = {
            **event.details,
            "date_updated": text(doc.get("date_updated")),
            "date_sent": text(doc.get("date_sent")),
        }
        return [replace(event, provider_time=None, details=compact(details))]


def _segment(value: str) -> str:
    return quote(value, safe="")


POLL = TwilioPoll()
