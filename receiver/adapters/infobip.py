"""Infobip: delivery reports, `{"results": [...]}` with many reports per POST.

Same shape from the webhook (notifyUrl / Subscriptions) and the pull API `GET /sms/1/reports`:
`messageId`, `bulkId`, `to`, `sentAt`, `doneAt`, `status` {groupId, groupName, id, name,
description}, `error` {groupId, groupName, id, name, description, permanent}, `price`
{pricePerMessage, currency} (per SMS part), `messageCount` (older `smsCount`), `callbackData`.
`DELIVERED_TO_OPERATOR` sits in the DELIVERED group but is not final. Infobip publishes no
signature for these webhooks: protect the URL with `path_token` and `allow_ips`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from receiver.adapters import _submit, codes
from receiver.adapters._poll import (
    Auth,
    PollAdapter,
    PollRequest,
    PollResponse,
    PollTarget,
    Window,
    secret,
)
from receiver.adapters.base import Adapter, Options, ParseError
from receiver.adapters.fields import (
    decimal,
    json_body,
    mapping,
    require_object,
    small_int,
    text,
    timestamp,
)
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
    option_names = frozenset({"channel", "currency"})
    signature_scheme = None

    def parse_callback(self, request: RawRequest, options: Options) -> list[Event]:
        """Every report of the batch, in order."""
        doc = json_body(request)
        if not isinstance(doc, dict) or not isinstance(doc.get("results"), list):
            raise ParseError("not an Infobip report batch: no results[]")
        return [self._report(require_object(item, "report"), options) for item in doc["results"]]

    def parse_submit(self, submission: Submission, options: Options) -> SubmitOutcome:
        """`{"bulkId", "messages": [{"messageId", "status", "to"}]}`: each message's status."""
        return _submit.read(submission, lambda body: self._submit(body, submission, options))

    def _submit(
        self, response: dict[str, Any], submission: Submission, options: Options
    ) -> SubmitOutcome | None:
        if not isinstance(response.get("messages"), list):
            return None
        items = [require_object(item, "report") for item in response["messages"]]
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
        status = mapping(item.get("status"))
        raw_status = text(status.get("name")) or text(status.get("groupName"))
        if raw_status is None:
            raise ParseError("report without status.name or status.groupName")
        error = mapping(item.get("error"))
        error_code = text(error.get("id")) or text(error.get("name"))
        if error_code in _NO_ERROR or text(error.get("groupName")) == "OK":
            error_code = None
        price = decimal(mapping(item.get("price")).get("pricePerMessage"))
        currency = text(mapping(item.get("price")).get("currency")) or text(options.get("currency"))
        segments = small_int(item.get("messageCount")) or small_int(item.get("smsCount"))
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
            "entity_id": text(mapping(item.get("platform")).get("entityId")),
            "application_id": text(mapping(item.get("platform")).get("applicationId")),
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
            provider_time=timestamp(item.get("doneAt")) or timestamp(item.get("sentAt")),
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
        mapped=info.mapped and row is not None,
    )


def _to(item: dict[str, Any]) -> str | None:
    return text(item.get("to")) or text(item.get("destination"))


ADAPTER = InfobipAdapter()


# --- polling: GET /sms/1/reports (drain-once) ---------------------------------------------

REPORTS_MAX = 1000  # Infobip: `limit` at most 1000 per request (default 50), last 48 hours


class InfobipPoll(PollAdapter):
    """Drain the delivery reports Infobip queues for pulling: each report is returned once,
    so every page is stored before the next is asked for (the poller does that), and the
    drain goes on while pages come back full."""

    name = "infobip"
    mode = "drain"
    required = ("api_key",)

    def list_request(
        self, targets: Sequence[PollTarget], window: Window, page_size: int, options: Options
    ) -> PollRequest | None:
        limit = max(1, min(page_size, REPORTS_MAX))
        return PollRequest(
            kind="drain",
            method="GET",
            path="/sms/1/reports",
            query=(("limit", str(limit)),),
            auth=Auth("header", secret(options, "api_key"), prefix="App "),
        )

    def next_page(
        self, request: PollRequest, response: PollResponse, options: Options
    ) -> PollRequest | None:
        """Again while the page was full: a short page means the queue is empty."""
        limit = int(dict(request.query).get("limit", "50"))
        return request.next() if len(_results(response)) >= limit else None

    def parse(self, response: PollResponse, options: Options) -> list[Event]:
        """Same shape as the webhook's batch: one event per report."""
        return [
            ADAPTER._report(require_object(item, "report"), options) for item in _results(response)
        ]


def _results(response: PollResponse) -> list[Any]:
    doc = response.json()
    if not isinstance(doc, dict) or not isinstance(doc.get("results", []), list):
        raise ParseError("not an Infobip reports page: no results[]")
    results: list[Any] = doc.get("results", [])
    return results


POLL = InfobipPoll()
