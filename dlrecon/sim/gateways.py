"""Payloads of Infobip and the SMPP gateways (Jasmin, Kannel), and the registry of flows."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime
from typing import Any

from dlrecon.sim.model import Callback, Request, SimMessage, Step
from dlrecon.sim.payloads import (
    Flow,
    GenIQ,
    Hellio,
    Meta,
    Twilio,
    Vonage,
    _digits,
    moment,
)

_INFOBIP_STATUS = {
    "PENDING_ACCEPTED": (1, "PENDING", 26, "Message sent to next instance"),
    "DELIVERED_TO_OPERATOR": (3, "DELIVERED", 2, "Message delivered to operator"),
    "DELIVERED_TO_HANDSET": (3, "DELIVERED", 5, "Message delivered to handset"),
    "UNDELIVERABLE_NOT_DELIVERED": (2, "UNDELIVERABLE", 9, "Message sent not delivered"),
    "EXPIRED_EXPIRED": (4, "EXPIRED", 15, "Message expired"),
}
_NO_ERROR = {
    "groupId": 0,
    "groupName": "OK",
    "id": 0,
    "name": "NO_ERROR",
    "description": "No Error",
    "permanent": False,
}
_PRICE = "__PRICE__"


def _infobip_status(name: str) -> dict[str, Any]:
    group_id, group, status_id, description = _INFOBIP_STATUS[name]
    return {
        "groupId": group_id,
        "groupName": group,
        "id": status_id,
        "name": name,
        "description": description,
    }


class Infobip(Flow):
    adapter = "infobip"
    segment_count = True
    pricing = "per_message"
    submit = Step("PENDING_ACCEPTED", "accepted")
    success = [Step("DELIVERED_TO_OPERATOR", "sent"), Step("DELIVERED_TO_HANDSET", "delivered")]
    failures = [
        [Step("DELIVERED_TO_OPERATOR", "sent"), Step("UNDELIVERABLE_NOT_DELIVERED", "failed", "1")],
        [Step("EXPIRED_EXPIRED", "expired")],
    ]

    def submit_response(self, m: SimMessage) -> dict[str, Any]:
        message = {
            "messageId": m.ids[0],
            "status": _infobip_status("PENDING_ACCEPTED"),
            "to": _digits(m.destination),
        }
        response = {"bulkId": f"bulk-{m.client_ref}", "messages": [message]}
        return {"submit_http_status": 200, "submit_response": response}

    def callback(self, m: SimMessage, cb: Callback) -> Request:
        at = moment(m, cb).isoformat(timespec="milliseconds")
        error = dict(_NO_ERROR)
        if cb.step.error:
            error = {
                "groupId": 1,
                "groupName": "HANDSET_ERRORS",
                "id": int(cb.step.error),
                "name": "EC_UNKNOWN_SUBSCRIBER",
                "description": "Unknown Subscriber",
                "permanent": True,
            }
        report = {
            "bulkId": f"bulk-{m.client_ref}",
            "price": {"pricePerMessage": _PRICE, "currency": m.currency},
            "status": _infobip_status(cb.step.raw),
            "error": error,
            "messageId": m.ids[0],
            "to": _digits(m.destination),
            "sender": "InfoSMS",
            "sentAt": datetime.fromtimestamp(m.submitted_at, UTC).isoformat(
                timespec="milliseconds"
            ),
            "doneAt": at,
            "messageCount": m.segments,
            "callbackData": m.client_ref,
        }
        # prices are JSON numbers at Infobip: written exactly, never through a float
        body = json.dumps({"results": [report]}).replace(f'"{_PRICE}"', str(m.reported_price))
        return Request(body=body.encode(), content_type="application/json")


def _smpp_date(m: SimMessage, cb: Callback) -> str:
    return moment(m, cb).strftime("%y%m%d%H%M")


class Jasmin(Flow):
    adapter = "jasmin"
    success = [Step("ESME_ROK", "sent"), Step("DELIVRD", "delivered")]
    failures = [
        [Step("ESME_ROK", "sent"), Step("UNDELIV", "failed", "001")],
        [Step("ESME_ROK", "sent"), Step("EXPIRED", "expired")],
        [Step("ESME_RINVDSTADR", "rejected")],
    ]

    def submit_response(self, m: SimMessage) -> dict[str, Any]:
        return {"submit_http_status": 200, "submit_response": f'Success "{m.ids[0]}"'}

    def callback(self, m: SimMessage, cb: Callback) -> Request:
        form = [("id", m.ids[0]), ("message_status", cb.step.raw), ("connector", "smsc-01")]
        if cb.step.raw.startswith("ESME_"):
            form.append(("level", "1"))
        else:
            delivered = "001" if cb.step.status == "delivered" else "000"
            form += [
                ("level", "3"),
                ("id_smsc", str(10**6 + m.index)),
                ("sub", "001"),
                ("dlvrd", delivered),
                ("subdate", datetime.fromtimestamp(m.submitted_at, UTC).strftime("%y%m%d%H%M")),
                ("donedate", _smpp_date(m, cb)),
                ("err", cb.step.error or "000"),
                ("text", "Your code is 4242"),
            ]
        return Request(
            query=[("ref", m.client_ref)],
            form=form,
            content_type="application/x-www-form-urlencoded",
        )


class Kannel(Flow):
    """Kannel returns no SMSC id at submit: receipts match by the `ref` in the dlr-url."""

    adapter = "kannel"
    success = [Step("8", "sent"), Step("DELIVRD", "delivered")]
    failures = [
        [Step("8", "sent"), Step("UNDELIV", "failed", "001")],
        [Step("8", "sent"), Step("EXPIRED", "expired")],
        [Step("16", "rejected")],
    ]

    def new_id(self, rng: random.Random) -> str:
        return str(rng.randrange(10**9, 10**10))

    def register(self, m: SimMessage) -> dict[str, Any]:
        item = super().register(m)
        item["provider_message_ids"] = []
        return item

    def submit_response(self, m: SimMessage) -> dict[str, Any]:
        return {"submit_http_status": 202, "submit_response": "0: Accepted for delivery"}

    def callback(self, m: SimMessage, cb: Callback) -> Request:
        query = [
            ("ref", m.client_ref),
            ("type", cb.step.raw if cb.step.raw.isdigit() else _kannel_type(cb.step.status)),
            ("fid", m.ids[0]),
            ("smsc", "smsc-01"),
            ("to", m.destination),
            ("from", "dlrecon"),
            ("ts", str(int(moment(m, cb).timestamp()))),
        ]
        if cb.step.raw.isdigit():
            query.append(("answer", "ACK/" if cb.step.raw == "8" else "NACK/0x0000000b"))
        else:
            done = _smpp_date(m, cb)
            delivered = "001" if cb.step.status == "delivered" else "000"
            query.append(
                (
                    "answer",
                    f"id:{m.ids[0]} sub:001 dlvrd:{delivered} submit date:{done} "
                    f"done date:{done} stat:{cb.step.raw} err:{cb.step.error or '000'} "
                    "text:Your code is 4242",
                )
            )
        return Request(method="GET", query=query)


def _kannel_type(status: str) -> str:
    return {"delivered": "1", "failed": "2", "expired": "2"}.get(status, "2")


FLOWS: dict[str, Flow] = {
    flow.adapter: flow
    for flow in (GenIQ(), Hellio(), Twilio(), Vonage(), Meta(), Infobip(), Jasmin(), Kannel())
}
