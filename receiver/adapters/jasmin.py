"""Jasmin SMS gateway: HTTP DLRs (GET query or POST form) sent to the message's `dlr-url`.

Level 1 reports carry the SMSC's submit answer (`message_status` = `ESME_*`); level 2/3
reports carry the receipt fields (`message_status` = `DELIVRD`...). Jasmin cannot sign and
resends a DLR until it gets HTTP 200 with the body `ACK/Jasmin`.
"""

from __future__ import annotations

from typing import Any

from receiver.adapters import _smpp_receipt as smpp
from receiver.adapters.base import Ack, Adapter, Options, ParseError
from receiver.adapters.fields import compact, params, text
from receiver.model import Channel, Event, RawRequest

PARAMS = {"ref": "ref"}  # optional sender id embedded in the dlr-url query (?ref=...)
_RECEIPT_FIELDS = ("id_smsc", "sub", "dlvrd", "subdate", "donedate", "err", "text")


class JasminAdapter(Adapter):
    """Jasmin DLRs, matched on Jasmin's message id (the one `/send` returned)."""

    name = "jasmin"
    option_names = smpp.OPTION_NAMES
    signature_scheme = None

    def parse_callback(self, request: RawRequest, options: Options) -> list[Event]:
        """One event per DLR request."""
        names = smpp.param_names(options, PARAMS)
        fields = params(request)
        raw_id = text(fields.get("id"))
        raw_status = text(fields.get("message_status"))
        provider_id = None if raw_id is None else smpp.canonical_submit_id(raw_id, options)
        if not provider_id:  # absent, or nothing left of it (control characters only)
            raise ParseError("missing id")
        if raw_status is None:
            raise ParseError("missing message_status")
        values = {key: text(fields.get(key)) for key in _RECEIPT_FIELDS}
        receipt = smpp.Receipt(
            id=values["id_smsc"],
            sub=values["sub"],
            dlvrd=values["dlvrd"],
            submit_date=values["subdate"],
            done_date=values["donedate"],
            stat=raw_status,
            err=values["err"],
            text=values["text"],
        )
        # decide by the value, not `level`: a level-3 request sends both kinds
        submit_answer = raw_status.upper().startswith("ESME_")
        if submit_answer:
            info = smpp.command_status_info(raw_status)
            error_code = None if info.error_class is None else raw_status
        else:
            info = smpp.stat_info(raw_status)
            error_code = smpp.error_code(receipt.err)
        details: dict[str, Any] = {
            "level": text(fields.get("level")),
            "connector": text(fields.get("connector")),
            **receipt.details(),
        }
        if receipt.id is not None:
            details["smsc_message_id"] = smpp.canonical_receipt_id(receipt.id, options)
        return [
            Event(
                raw_status=raw_status,
                status=info.status,
                provider_message_id=provider_id,
                raw_message_id=raw_id,
                client_ref=text(fields.get(names["ref"])),
                error_code=error_code,
                provider_time=smpp.receipt_time(receipt.done_date, options),
                channel=Channel.SMS,
                details=compact(details),
            ).with_code(info)
        ]

    def canonical_id(self, raw: str, options: Options) -> str:
        """Jasmin ids are UUIDs: case-folded (option `id_case`), conversions rarely needed."""
        return smpp.canonical_submit_id(raw, options)

    def acknowledge(self, request: RawRequest, options: Options) -> Ack:
        """Anything but 200 + `ACK/Jasmin` makes Jasmin resend the DLR."""
        return Ack(status=200, body=b"ACK/Jasmin")


ADAPTER = JasminAdapter()
