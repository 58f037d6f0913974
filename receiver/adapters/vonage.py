"""Vonage (Nexmo): SMS API delivery receipts and Messages API status webhooks.

SMS API receipt (GET query, POST form or POST JSON, per the account's webhook setting):
`messageId` (one receipt per SMS part, each part its own id), `status`, `err-code`, `price`
(per part, no currency field: option `currency`, default EUR), `network-code`, `scts`
(carrier time `YYMMDDhhmm`, zone not given), `message-timestamp` (UTC), `client-ref`, `msisdn`.
Messages API status (POST JSON): `message_uuid`, `status`, `timestamp`, `error`
{type, title, detail} (v0.1: {code, reason}), `usage` {price, currency}, `client_ref`, `channel`.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

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
    mapping,
    params,
    require_object,
    text,
    timestamp,
)
from receiver.model import Channel, CodeInfo, Event, RawRequest, Status, Submission, SubmitOutcome

DEFAULT_CURRENCY = "EUR"  # SMS API prices are in the account currency, EUR unless set otherwise
_CHANNELS = {"sms": Channel.SMS, "mms": Channel.SMS, "whatsapp": Channel.WHATSAPP}


class VonageAdapter(Adapter):
    """Vonage SMS API receipts and Messages API statuses, told apart by their id field."""

    name = "vonage"
    option_names = frozenset({"currency"})
    signature_scheme = "vonage"

    def parse_callback(self, request: RawRequest, options: Options) -> list[Event]:
        """One event per request (Vonage sends one receipt per SMS part, each its own request)."""
        fields = params(request)
        if "message_uuid" in fields:
            return self._messages_status(fields, options)
        if "messageId" in fields:
            return self._sms_receipt(fields, options)
        raise ParseError("neither messageId (SMS API receipt) nor message_uuid (Messages API)")

    def canonical_id(self, raw: str, options: Options) -> str:
        """Vonage ids are hex (SMS) or UUIDs (Messages) and come back in either case."""
        return raw.strip().upper()

    def parse_submit(self, submission: Submission, options: Options) -> SubmitOutcome:
        """SMS API `{"messages": [...]}` (one per part) or Messages API `{"message_uuid"}`."""
        return _submit.read(submission, lambda body: self._submit(body, submission, options))

    def _submit(
        self, response: dict[str, Any], submission: Submission, options: Options
    ) -> SubmitOutcome | None:
        if isinstance(response.get("messages"), list):
            return self._sms_submit(response["messages"], submission, options)
        uuid = text(response.get("message_uuid"))
        if uuid is not None:
            return self._messages_submit(uuid, submission)
        if "title" in response:  # RFC 7807 problem body from the Messages API
            return SubmitOutcome(events=(self._messages_refused(response, submission),))
        return None

    def _sms_receipt(self, fields: dict[str, Any], options: Options) -> list[Event]:
        raw_id = text(fields.get("messageId"))
        raw_status = text(fields.get("status"))
        if raw_status is None and "text" in fields:
            return []  # an inbound SMS sent to the receipt URL, not a receipt
        if raw_id is None or raw_status is None:
            raise ParseError("receipt without messageId or status")
        err = text(fields.get("err-code"))
        error_code = None if err in (None, "0") else err
        cost = decimal(fields.get("price"))
        currency = text(options.get("currency")) or DEFAULT_CURRENCY  # receipts carry none
        details = {
            "network_code": text(fields.get("network-code")),
            "scts": text(fields.get("scts")),
            "sender": text(fields.get("to")),
            "api_key": text(fields.get("api-key")),
        }
        event = Event(
            raw_status=raw_status,
            status=Status.UNKNOWN,
            provider_message_id=self.canonical_id(raw_id, options),
            raw_message_id=raw_id,
            client_ref=text(fields.get("client-ref")),
            error_code=error_code,
            provider_time=timestamp(fields.get("message-timestamp")),
            cost=cost,
            currency=currency if cost is not None else None,
            channel=Channel.SMS,
            recipient=text(fields.get("msisdn")),
            details=compact(details),
        )
        return [event.with_code(_outcome("sms_status", raw_status, "err_code", error_code))]

    def _messages_status(self, fields: dict[str, Any], options: Options) -> list[Event]:
        raw_id = text(fields.get("message_uuid"))
        raw_status = text(fields.get("status"))
        if raw_status is None and "message_type" in fields:
            return []  # an inbound message sent to the status URL
        if raw_id is None or raw_status is None:
            raise ParseError("Messages API status without message_uuid or status")
        error_code, error_details = _messages_error(fields.get("error"))
        usage = mapping(fields.get("usage"))
        cost = decimal(usage.get("price"))
        currency = text(usage.get("currency")) or text(options.get("currency")) or DEFAULT_CURRENCY
        channel_raw = text(fields.get("channel"))
        details = {
            "channel": channel_raw,
            "from": _address(fields.get("from")),
            "network_code": text(mapping(fields.get("destination")).get("network_code")),
            "segments": text(mapping(fields.get("sms")).get("count_total")),
            **error_details,
        }
        event = Event(
            raw_status=raw_status,
            status=Status.UNKNOWN,
            provider_message_id=self.canonical_id(raw_id, options),
            raw_message_id=raw_id,
            client_ref=text(fields.get("client_ref")),
            error_code=error_code,
            provider_time=timestamp(fields.get("timestamp")),
            cost=cost,
            currency=currency if cost is not None else None,
            channel=_CHANNELS.get((channel_raw or "").lower()),
            recipient=_address(fields.get("to")),
            details=compact(details),
        )
        return [
            event.with_code(_outcome("messages_status", raw_status, "messages_error", error_code))
        ]

    def _sms_submit(
        self, messages: list[Any], submission: Submission, options: Options
    ) -> SubmitOutcome:
        events: list[Event] = []
        total = Decimal(0)
        currency = text(options.get("currency")) or DEFAULT_CURRENCY  # prices carry none
        for item in messages:
            if not isinstance(item, dict):
                raise ParseError("SMS API submit message is not an object")
            raw_id = text(item.get("message-id"))
            status = text(item.get("status")) or "0"
            info = codes.load("vonage").lookup("submit_status", status) or codes.unmapped(
                status, Status.REJECTED
            )
            price = decimal(item.get("message-price"))
            total += price or 0
            events.append(
                Event(
                    raw_status=status,
                    status=info.status,
                    provider_message_id=self.canonical_id(raw_id, options) if raw_id else None,
                    raw_message_id=raw_id,
                    client_ref=text(item.get("client-ref")) or submission.client_ref,
                    error_code=None if status == "0" else status,
                    cost=price,
                    currency=currency if price is not None else None,
                    channel=Channel.SMS,
                    recipient=text(item.get("to")) or submission.destination,
                    details=compact(
                        {
                            "network_code": text(item.get("network")),
                            "error_text": text(item.get("error-text")),
                        }
                    ),
                ).with_code(info)
            )
        if not events:
            raise ParseError("SMS API submit response without messages")
        ids = tuple(e.provider_message_id for e in events if e.provider_message_id)
        priced = any(e.cost is not None for e in events)
        return SubmitOutcome(
            events=tuple(events),
            provider_message_ids=ids,
            segments=len(events),
            cost=total if priced else None,
            currency=currency if priced else None,
        )

    def _messages_submit(self, raw_id: str, submission: Submission) -> SubmitOutcome:
        canonical = self.canonical_id(raw_id, {})
        event = Event(
            raw_status=str(submission.submit_http_status or 202),
            status=Status.ACCEPTED,
            provider_message_id=canonical,
            raw_message_id=raw_id,
            client_ref=submission.client_ref,
            channel=submission.channel,
            recipient=submission.destination,
        )
        return SubmitOutcome(events=(event,), provider_message_ids=(canonical,))

    def _messages_refused(self, response: dict[str, Any], submission: Submission) -> Event:
        code, details = _messages_error(response)
        info = (codes.load("vonage").lookup("messages_error", code) if code else None) or (
            codes.unmapped(code or "error", Status.REJECTED)
        )
        return Event(
            raw_status=str(submission.submit_http_status or "error"),
            status=Status.REJECTED,
            client_ref=submission.client_ref,
            error_code=code,
            channel=submission.channel,
            recipient=submission.destination,
            details=details,
        ).with_code(codes.refusal(info))


def _outcome(status_table: str, raw_status: str, error_table: str, code: str | None) -> CodeInfo:
    """The status row, with class, retryability and description from the error row if any."""
    tables = codes.load("vonage")
    status = tables.lookup_ci(status_table, raw_status) or codes.unmapped(raw_status)
    # an error refines a failure (rejected + 1360 is an expiry), never turns `read` into one
    error = None if code is None else tables.lookup(error_table, code) or codes.unmapped(code)
    return codes.combine(status, error)


def _messages_error(error: Any) -> tuple[str | None, dict[str, Any]]:
    """(code, details) of a Messages API error: `title` 1000, `type` URL `#1000`, v0.1 `code`."""
    if isinstance(error, str):
        return None, {"error_detail": error}
    if not isinstance(error, dict) or not error:
        return None, {}
    title = text(error.get("title"))
    fragment = (text(error.get("type")) or "").rpartition("#")[2]
    candidates = [title, fragment, text(error.get("code"))]
    code = next((c for c in candidates if c and c.isascii() and c.isdigit()), None)
    details = {
        "error_type": text(error.get("type")),
        "error_title": title,
        "error_detail": text(error.get("detail")) or text(error.get("reason")),
        "error_instance": text(error.get("instance")),
    }
    return code or title, compact(details)


def _address(value: Any) -> str | None:
    """`"447700900000"`, or v0.1 `{"type": "sms", "number": "447700900000"}`."""
    if isinstance(value, dict):
        return text(value.get("number")) or text(value.get("id"))
    return text(value)


ADAPTER = VonageAdapter()


# --- polling: the Reports API, GET /v2/reports/records (synchronous, by message id) -------


class VonagePoll(PollAdapter):
    """Look an SMS up in the Reports API's records: status, error code, total price."""

    name = "vonage"
    gives_price = True
    required = ("api_key", "api_secret")

    def poll_request(self, target: PollTarget, options: Options) -> PollRequest | None:
        message_id = first_id(target)
        if message_id is None or target.channel != Channel.SMS.value:
            return None
        key = secret(options, "api_key")
        return PollRequest(
            kind="lookup",
            method="GET",
            path="/v2/reports/records",
            query=(
                ("account_id", key.get_secret_value()),
                ("product", "SMS"),
                ("direction", "outbound"),
                ("id", message_id),
            ),
            # the account id is the API key: a credential, redacted where the request is stored
            secret_query=frozenset({"account_id"}),
            auth=Auth(
                "basic", secret(options, "api_secret"), user=key.get_secret_value(), show_user=False
            ),
            message_id=target.message_id,
            client_ref=target.client_ref,
        )

    def parse(self, response: PollResponse, options: Options) -> list[Event]:
        """One event per record (`records[]`: message_id, status, error_code, total_price...)."""
        doc = response.json()
        if not isinstance(doc, dict) or not isinstance(doc.get("records", []), list):
            raise ParseError("not a Reports API response: no records[]")
        default_currency = text(doc.get("currency")) or text(options.get("currency"))
        return [
            _record(require_object(item, "record"), default_currency, options)
            for item in doc.get("records", [])
        ]


def _record(item: dict[str, Any], currency: str | None, options: Options) -> Event:
    raw_id = text(item.get("message_id"))
    raw_status = text(item.get("status"))
    if raw_id is None or raw_status is None:
        raise ParseError("record without message_id or status")
    err = text(item.get("error_code"))
    error_code = None if err in (None, "0") else err
    price = decimal(item.get("total_price"))
    currency = text(item.get("currency")) or currency or DEFAULT_CURRENCY
    details = {
        "network_code": text(item.get("network")),
        "network_name": text(item.get("network_name")),
        "country": text(item.get("country")),
        "date_received": text(item.get("date_received")),
        "date_finalized": text(item.get("date_finalized")),
        "error_description": text(item.get("error_code_description")),
        "sender": text(item.get("from")),
    }
    event = Event(
        raw_status=raw_status,
        status=Status.UNKNOWN,
        provider_message_id=ADAPTER.canonical_id(raw_id, options),
        raw_message_id=raw_id,
        client_ref=text(item.get("client_ref")),
        error_code=error_code,
        # no provider time: a record's dates are not the receipt's, and a record read twice
        # must stay one event
        cost=price,
        currency=currency if price is not None else None,
        channel=Channel.SMS,
        recipient=text(item.get("to")),
        details=compact(details),
    )
    return event.with_code(_outcome("sms_status", raw_status, "err_code", error_code))


POLL = VonagePoll()
