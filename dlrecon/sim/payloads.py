"""Per-adapter payloads in the providers' real shapes: submit responses and callbacks."""

from __future__ import annotations

import json
import random
import uuid
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any, ClassVar

from dlrecon.sim.model import Callback, Request, SimMessage, Step

SGT = timezone(timedelta(hours=8))


def moment(m: SimMessage, cb: Callback) -> datetime:
    """The provider time of a callback: a few seconds per step after the submit."""
    return datetime.fromtimestamp(m.submitted_at + 2 + 3 * cb.seq + cb.part, UTC)


def _json(doc: Any) -> bytes:
    return json.dumps(doc, separators=(",", ":")).encode()


def _digits(destination: str) -> str:
    return destination.lstrip("+")


class Flow:
    """How one provider reports: id shapes, status sequences, registration and callbacks."""

    adapter: ClassVar[str] = ""
    channel: ClassVar[str] = "sms"
    per_part_ids: ClassVar[bool] = False  # one provider id per SMS part (GenIQ, Vonage)
    segment_count: ClassVar[bool] = False  # several parts under one id, counted (Infobip)
    pricing: ClassVar[str | None] = None
    currency: ClassVar[str] = "EUR"
    submit: ClassVar[Step] = Step("accepted", "accepted")
    success: ClassVar[list[Step]] = []
    failures: ClassVar[list[list[Step]]] = []

    def new_id(self, rng: random.Random) -> str:
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def success_steps(self, rng: random.Random) -> list[Step]:
        return list(self.success)

    def register(self, m: SimMessage) -> dict[str, Any]:
        """The `POST /v1/messages` item, with the provider's submit response."""
        return {
            "provider": m.key,
            "channel": m.channel,
            "client_ref": m.client_ref,
            "provider_message_ids": m.ids,
            "destination": m.destination,
            "submitted_at": datetime.fromtimestamp(m.submitted_at, UTC).isoformat(),
            "segments": m.segments,
            "value": str(m.cost * 2),
            "cost": str(m.cost),
            "currency": m.currency,
            **self.submit_response(m),
        }

    def submit_response(self, m: SimMessage) -> dict[str, Any]:
        return {"submit_http_status": 200, "submit_response": None}

    def callback(self, m: SimMessage, cb: Callback) -> Request:
        raise NotImplementedError


class GenIQ(Flow):
    adapter = "geniq"
    per_part_ids = True
    currency = "SGD"
    submit = Step("0", "accepted")
    success = [Step("processed", "accepted"), Step("delivered", "delivered")]
    failures = [[Step("undeliverable", "failed", "5")], [Step("expired", "expired", "1")]]

    def new_id(self, rng: random.Random) -> str:
        return f"{rng.getrandbits(128):032X}"

    def submit_response(self, m: SimMessage) -> dict[str, Any]:
        return {
            "submit_http_status": 200,
            "submit_response": {
                "reference": f"r-{m.client_ref}",
                "responseCode": "0",
                "responseMessage": "Success",
                "messageIds": m.ids,
            },
        }

    def callback(self, m: SimMessage, cb: Callback) -> Request:
        at = moment(m, cb).astimezone(SGT)
        query = [
            ("messageId", m.ids[cb.part]),
            ("channel", "sms"),
            ("recipient", _digits(m.destination)),
            ("status", cb.step.raw),
            ("reasonCode", cb.step.error or "0"),
            ("messageTimestamp", (at - timedelta(seconds=1)).isoformat(timespec="seconds")),
            ("operatorTimestamp", at.isoformat(timespec="seconds")),
        ]
        return Request(method="GET", query=query)


class Hellio(Flow):
    adapter = "hellio"
    submit = Step("queued", "accepted")
    success = [Step("delivered", "delivered")]
    failures = [[Step("failed", "failed")], [Step("EXPIRED", "expired")]]

    def submit_response(self, m: SimMessage) -> dict[str, Any]:
        data = {
            "reference": f"cmp-{m.index}",
            "campaign_id": f"c{m.index}",
            "status": "queued",
            "accepted_recipients": 1,
            "invalid_recipients": 0,
            "segments": m.segments,
            "estimated_cost": str(m.cost),
            "currency": m.currency,
        }
        return {"submit_http_status": 202, "submit_response": {"data": data}}

    def callback(self, m: SimMessage, cb: Callback) -> Request:
        final = cb.step.status
        hook = {
            "event": f"message.{final if final != 'expired' else 'failed'}",
            "mobile_number": m.destination,
            "provider_message_id": m.ids[0],
            "status": cb.step.raw,
            "timestamp": moment(m, cb).isoformat().replace("+00:00", "Z"),
        }
        return Request(body=_json(hook), content_type="application/json")


class Twilio(Flow):
    adapter = "twilio"
    currency = "USD"
    submit = Step("queued", "accepted")
    success = [Step("sent", "sent"), Step("delivered", "delivered")]
    failures = [
        [Step("sent", "sent"), Step("undelivered", "failed", "30003")],
        [Step("failed", "failed", "30008")],
    ]

    def new_id(self, rng: random.Random) -> str:
        return f"SM{rng.getrandbits(128):032x}"

    def submit_response(self, m: SimMessage) -> dict[str, Any]:
        created = datetime.fromtimestamp(m.submitted_at, UTC)
        resource = {
            "account_sid": "AC" + "0" * 32,
            "api_version": "2010-04-01",
            "date_created": format_datetime(created),
            "date_sent": None,
            "date_updated": format_datetime(created),
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": "+15017250604",
            "num_segments": str(m.segments),
            "price": None,
            "price_unit": "USD",
            "sid": m.ids[0],
            "status": "queued",
            "to": m.destination,
        }
        return {"submit_http_status": 201, "submit_response": resource}

    def callback(self, m: SimMessage, cb: Callback) -> Request:
        form = [
            ("AccountSid", "AC" + "0" * 32),
            ("ApiVersion", "2010-04-01"),
            ("From", "+15017250604"),
            ("MessageSid", m.ids[0]),
            ("MessageStatus", cb.step.raw),
            ("SmsSid", m.ids[0]),
            ("SmsStatus", cb.step.raw),
            ("To", m.destination),
        ]
        if cb.step.error:
            form.append(("ErrorCode", cb.step.error))
        if cb.step.status != "sent":
            form.append(("RawDlrDoneDate", moment(m, cb).strftime("%y%m%d%H%M")))
        return Request(form=form, content_type="application/x-www-form-urlencoded")


class Vonage(Flow):
    adapter = "vonage"
    per_part_ids = True
    pricing = "per_part"
    submit = Step("0", "accepted")
    success = [Step("accepted", "sent"), Step("delivered", "delivered")]
    failures = [
        [Step("accepted", "sent"), Step("failed", "failed", "2")],
        [Step("rejected", "rejected", "6")],
    ]

    def new_id(self, rng: random.Random) -> str:
        return f"{rng.getrandbits(64):016X}"

    def submit_response(self, m: SimMessage) -> dict[str, Any]:
        messages = [
            {
                "to": _digits(m.destination),
                "message-id": pid,
                "status": "0",
                "remaining-balance": "15.53590000",
                "message-price": str(m.unit_price),
                "network": "23410",
            }
            for pid in m.ids
        ]
        response = {"message-count": str(len(messages)), "messages": messages}
        return {"submit_http_status": 200, "submit_response": response}

    def callback(self, m: SimMessage, cb: Callback) -> Request:
        at = moment(m, cb)
        form = [
            ("msisdn", _digits(m.destination)),
            ("to", "dlrecon"),
            ("network-code", "23410"),
            ("messageId", m.ids[cb.part]),
            ("price", str(m.reported_price)),
            ("status", cb.step.raw),
            ("scts", at.strftime("%y%m%d%H%M")),
            ("err-code", cb.step.error or "0"),
            ("message-timestamp", at.strftime("%Y-%m-%d %H:%M:%S")),
            ("client-ref", m.client_ref),
        ]
        return Request(form=form, content_type="application/x-www-form-urlencoded")


class Meta(Flow):
    adapter = "meta"
    channel = "whatsapp"
    currency = "USD"
    submit = Step("accepted", "accepted")
    success = [Step("sent", "sent"), Step("delivered", "delivered")]
    failures = [
        [Step("sent", "sent"), Step("failed", "failed", "131026")],
        [Step("failed", "failed", "131049")],
    ]

    def new_id(self, rng: random.Random) -> str:
        return "wamid.HBgL" + "".join(rng.choices("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", k=40))

    def success_steps(self, rng: random.Random) -> list[Step]:
        read = [Step("read", "read")] if rng.random() < 0.5 else []
        return [*self.success, *read]

    def submit_response(self, m: SimMessage) -> dict[str, Any]:
        response = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": m.destination, "wa_id": _digits(m.destination)}],
            "messages": [{"id": m.ids[0], "message_status": "accepted"}],
        }
        return {"submit_http_status": 200, "submit_response": response}

    def callback(self, m: SimMessage, cb: Callback) -> Request:
        status: dict[str, Any] = {
            "id": m.ids[0],
            "status": cb.step.raw,
            "timestamp": str(int(moment(m, cb).timestamp())),
            "recipient_id": _digits(m.destination),
            "biz_opaque_callback_data": m.client_ref,
        }
        if cb.step.raw == "sent":
            status["pricing"] = {
                "billable": True,
                "pricing_model": "PMP",
                "type": "regular",
                "category": "utility",
            }
        if cb.step.error:
            status["errors"] = [
                {
                    "code": int(cb.step.error),
                    "title": "Message undeliverable",
                    "message": "Message undeliverable",
                    "error_data": {"details": "Message could not be delivered"},
                }
            ]
        value = {
            "messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": "1065403"},
            "statuses": [status],
        }
        doc = {
            "object": "whatsapp_business_account",
            "entry": [
                {"id": "102290129340398", "changes": [{"value": value, "field": "messages"}]}
            ],
        }
        return Request(body=_json(doc), content_type="application/json")
