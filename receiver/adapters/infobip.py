"""Infobip: delivery reports, `{"results": [...]}` with many reports per POST.

Same shape from the webhook (notifyUrl / Subscriptions) and the pull API `GET /sms/1/reports`:
`messageId`, `bulkId`, `to`, `sentAt`, `doneAt`, `status` {groupId, groupName, id, name,
description}, `error` {groupId, groupName, id, name, description, permanent}, `price`
{pricePerMessage, currency} (per SMS part), `messageCount` (older `smsCount`), `callbackData`.
`DELIVERED_TO_OPERATOR` sits in the DELIVERED group but is not final. Infobip publishes no
signature for these webhooks: protect the URL with `path_token` and `allow_ips`.
"""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from receiver.adapters import codes
from receiver.adapters.base import Adapter, Options, ParseError, default_submit_outcome
from receiver.adapters.fields import decimal, text, timestamp
from receiver.model import (
    Channel,
    CodeInfo,
    ErrorClass,
    Event,
    RawRequest,
    Status,
    Submission,
    SubmitOutcome,
)

_CHANNELS = {"SMS": Channel.SMS, "WHATSAPP": Channel.WHATSAPP, "VOICE": Channel.VOICE}
_NO_ERROR = frozenset({"0", "NO_ERROR"})


class InfobipAdapter(Adapter):
    """Infobip delivery report batches: one event per `results[]` item."""

    name = "infobip"
    signature_scheme = None

    def parse_callback(self, request: RawRequest, options: Options) -> list[Event]:
        """Every report of the batch, in order."""
        doc = _json(request.body)
        if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
            raise ParseError("not an Infobip report batch: no results[]")
        return [self._report(_object(item), options) for item in doc["results"]]

    def parse_submit(self, submission: Submission, options: Options) -> SubmitOutcome:
        """`{"bulkId", "messages": [{"messageId", "status", "to"}]}`: each message's status."""
        try:
            outcome = self._submit(submission, options)
        except ParseError:
            outcome = None  # not Infobip's shape: the HTTP status still says accepted or refused
        return outcome if outcome is not None else default_submit_outcome(submission)

    def _submit(self, submission: Submission, options: Options) -> SubmitOutcome | None:
        response = submission.submit_response
        if isinstance(response, str):
            response = _json(response.encode())
        if not isinstance(response, dict) or not isinstance(response.get("messages"), list):
            return None
        items = [_object(item) for item in response["messages"]]
        mine = [i for i in items if _to(i) == submission.destination] or items
        if not mine:
            return None
        events = tuple(self._report(item, options, submission) for item in mine)
        ids = tuple(e.provider_message_id for e in events if e.provider_message_id)
        return SubmitOutcome(events=events, provider_message_ids=ids)

    def _report(
        self, item: dict[str, Any], options: Options, submission: Submission | None = None
    ) -> Event:
        raw_id = text(item.get("messageId"))
        client_ref = text(item.get("callbackData")) or (
            submission.client_ref if submission else None
        )
        if raw_id is None and client_ref is None:
            raise ParseError("report without messageId or callbackData")
        status = _dict(item.get("status"))
        raw_status = text(status.get("name")) or text(status.get("groupName"))
        if raw_status is None:
            raise ParseError("report without status.name or status.groupName")
        error = _dict(item.get("error"))
        error_code = text(error.get("id")) or text(error.get("name"))
        if error_code in _NO_ERROR or text(error.get("groupName")) == "OK":
            error_code = None
        price = _money(_dict(item.get("price")).get("pricePerMessage"))
        currency = text(_dict(item.get("price")).get("currency")) or text(options.get("currency"))
        segments = _int(item.get("messageCount")) or _int(item.get("smsCount"))
        details = {
            "status_id": text(status.get("id")),
            "status_group": text(status.get("groupName")),
            "error_name": text(error.get("name")) if error_code else None,
            "error_group": text(error.get("groupName")) if error_code else None,
            "bulk_id": text(item.get("bulkId")),
            "sender": text(item.get("sender")) or text(item.get("from")),
            "sent_at": text(item.get("sentAt")),
            "done_at": text(item.get("doneAt")),
            "mcc_mnc": text(item.get("mccMnc")),
            "price_per_message": str(price) if price is not None else None,
            "segments": segments,
            "entity_id": text(_dict(item.get("platform")).get("entityId")),
            "application_id": text(_dict(item.get("platform")).get("applicationId")),
            "campaign_reference_id": text(item.get("campaignReferenceId")),
        }
        # pricePerMessage is per SMS part: the message costs it times the parts. Money
        # without a currency is no cost; the price stays in details
        cost = price * (segments or 1) if price is not None and currency else None
        channel = text(item.get("channel")) or text(options.get("channel")) or "SMS"
        return Event(
            raw_status=raw_status,
            status=Status.UNKNOWN,
            provider_message_id=self.canonical_id(raw_id, options) if raw_id else None,
            raw_message_id=raw_id,
            client_ref=client_ref,
            error_code=error_code,
            provider_time=_time(item.get("doneAt")) or _time(item.get("sentAt")),
            cost=cost,
            currency=currency if cost is not None else None,
            channel=_CHANNELS.get(channel.upper()),
            recipient=_to(item),
            details={key: value for key, value in details.items() if value is not None},
        ).with_code(_outcome(status, raw_status, error, error_code))


def _outcome(
    status: dict[str, Any], raw_status: str, error: dict[str, Any], error_code: str | None
) -> CodeInfo:
    """Status by name, else by group; the error's class by id, else by group; `permanent` wins."""
    tables = codes.load("infobip")
    group = text(status.get("groupName"))
    info = (
        tables.lookup_ci("status", text(status.get("name")))
        or tables.lookup_ci("status_group", group)
        or codes.unmapped(raw_status)
    )
    if error_code is None:
        return info
    row = tables.lookup("error", error_code) or tables.lookup_ci(
        "error_group", text(error.get("groupName"))
    )
    permanent = error.get("permanent")
    # Infobip says per report whether an unchanged retry can succeed; trust it over the table
    retryable = (not permanent) if isinstance(permanent, bool) else bool(row and row.retryable)
    description = (row.description if row and row.code == error_code else None) or text(
        error.get("description")
    )
    return CodeInfo(
        code=error_code,
        status=info.status,  # Infobip's status name is precise: errors never refine it
        error_class=row.error_class if row else ErrorClass.UNKNOWN,
        retryable=retryable,
        description=description or "unmapped code",
    )


def _to(item: dict[str, Any]) -> str | None:
    return text(item.get("to")) or text(item.get("destination"))


def _json(body: bytes) -> Any:
    """JSON with decimals kept exact (prices are JSON numbers); failures are ParseErrors."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        raise ParseError(f"body is not valid JSON: {exc}") from None


def _money(value: Any) -> Decimal | None:
    amount = decimal(value)
    if amount is not None and not amount.is_finite():
        raise ParseError(f"price is not a number: {value!r}")
    return amount


def _time(value: Any) -> datetime | None:
    try:
        return timestamp(value)
    except (ValueError, OverflowError, OSError):
        raise ParseError(f"not a timestamp: {value!r}") from None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    raw = text(value)
    return int(raw) if raw and len(raw) < 10 and raw.isascii() and raw.isdigit() else None


def _object(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ParseError("report is not an object")
    return value


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


ADAPTER = InfobipAdapter()
