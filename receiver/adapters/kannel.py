"""Kannel: delivery reports fetched from the `dlr-url` template the sender configured.

Kannel cannot sign; it substitutes escape codes into the URL it was given. The template
this adapter reads (parameter names renameable with option `params`), on one line:

    https://dlr.example.com/v1/callbacks/<key>?ref=<your id>&type=%d&fid=%F&kid=%I
        &smsc=%i&to=%p&from=%P&ts=%T&answer=%A

In a DLR Kannel swaps the addresses: `%p` is the handset, `%P` the original sender.
"""

from __future__ import annotations

from typing import Any

from receiver.adapters import _smpp_receipt as smpp
from receiver.adapters import codes
from receiver.adapters.base import Adapter, Options, ParseError
from receiver.adapters.fields import compact, params, text
from receiver.model import Channel, CodeInfo, Event, RawRequest

PARAMS = {
    "ref": "ref",  # the sender's own message id, written into the dlr-url at send time
    "type": "type",  # %d
    "fid": "fid",  # %F foreign (SMSC) message id
    "kid": "kid",  # %I Kannel's internal message id
    "smsc": "smsc",  # %i smsc-id of the connection
    "to": "to",  # %p the handset
    "from": "from",  # %P the original sender
    "ts": "ts",  # %T unix time Kannel built the report
    "answer": "answer",  # %A the SMSC's receipt text
}


class KannelAdapter(Adapter):
    """Kannel dlr-url callbacks: status from the receipt `stat:` in %A, else from %d."""

    name = "kannel"
    option_names = smpp.OPTION_NAMES
    signature_scheme = None

    def parse_callback(self, request: RawRequest, options: Options) -> list[Event]:
        """One event per dlr-url request."""
        names = smpp.param_names(options, PARAMS)
        fields = params(request)

        def get(key: str) -> str | None:
            return text(fields.get(names[key]))

        answer = get("answer")
        receipt = _receipt(answer)
        dlr_type = get("type")
        info, raw_status = _status(receipt, dlr_type)
        raw_id = get("fid") or receipt.id
        ref = get("ref")
        if raw_id is None and ref is None:
            raise ParseError(f"no message id ({names['fid']} or receipt id:) and no {names['ref']}")
        details: dict[str, Any] = {
            "dlr_type": dlr_type,
            "smsc": get("smsc"),
            "kannel_id": get("kid"),
            "sender": get("from"),
            "ts": get("ts"),
            **receipt.details(),
        }
        if receipt.stat is None and answer is not None:
            details["answer"] = answer  # an SMSC reply that is not a receipt ("ACK/", "NACK/...")
        return [
            Event(
                raw_status=raw_status,
                status=info.status,
                provider_message_id=smpp.canonical_receipt_id(raw_id, options) if raw_id else None,
                raw_message_id=raw_id,
                client_ref=ref,
                error_code=smpp.error_code(receipt.err),
                provider_time=smpp.receipt_time(receipt.done_date, options)
                or smpp.epoch_time(get("ts")),
                channel=Channel.SMS,
                recipient=get("to"),
                details=compact(details),
            ).with_code(info)
        ]

    def canonical_id(self, raw: str, options: Options) -> str:
        """Submit-side ids per option `id_format` / `id_case`."""
        return smpp.canonical_submit_id(raw, options)


def _receipt(answer: str | None) -> smpp.Receipt:
    """The receipt in %A, or an empty one when %A is absent or not a receipt."""
    if answer is None:
        return smpp.Receipt()
    try:
        return smpp.parse_receipt(answer)
    except ParseError:
        return smpp.Receipt()


def _status(receipt: smpp.Receipt, dlr_type: str | None) -> tuple[CodeInfo, str]:
    """The receipt's `stat:` is more precise than %d (Kannel folds UNKNOWN into "failed")."""
    if receipt.stat is not None:
        return smpp.stat_info(receipt.stat), receipt.stat
    if dlr_type is not None:
        return codes.load("kannel").lookup("type", dlr_type) or codes.unmapped(dlr_type), dlr_type
    raise ParseError("neither a DLR type nor a receipt stat: to take the status from")


ADAPTER = KannelAdapter()
