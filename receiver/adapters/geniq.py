"""GenIQ (geniq.io): send responses with one id per SMS part, and SMS/WhatsApp delivery reports."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from receiver.adapters import _submit, codes
from receiver.adapters.base import Adapter, Options, ParseError
from receiver.adapters.fields import body_data, json_object, scalar, when
from receiver.model import Channel, CodeInfo, Event, RawRequest, Status, Submission, SubmitOutcome

_HEX = re.compile(r"[0-9A-Fa-f]+")


def _code(value: Any) -> str | None:
    """A responseCode/reasonCode as text: int or string, `"00"` read as `"0"`."""
    raw = scalar(value)
    if raw is not None and raw.isdigit():
        return raw.lstrip("0") or "0"
    return raw


def _error_info(table: str, code: str, channel: Channel | None, status: Status) -> CodeInfo:
    """A code's row in `table`, falling back to the WhatsApp (Meta) codes, else unmapped."""
    tables = codes.load("geniq")
    info = tables.lookup(table, code)
    if info is None and channel is Channel.WHATSAPP:
        info = tables.lookup("template", code)
    return info or codes.unmapped(code, status)


def _channel(value: Any) -> Channel | None:
    try:
        return Channel((scalar(value) or "").lower())
    except ValueError:
        return None


class GenIQAdapter(Adapter):
    """GenIQ send responses and delivery reports (GET query, form or JSON)."""

    name = "geniq"

    def canonical_id(self, raw: str, options: Options) -> str:
        """GenIQ ids are hex: match them case-insensitively (upper case)."""
        raw = raw.strip()
        return raw.upper() if _HEX.fullmatch(raw) else raw

    def parse_submit(self, submission: Submission, options: Options) -> SubmitOutcome:
        """Read `{reference, responseCode, responseMessage, messageIds}`; odd bodies → unknown."""
        return _submit.guarded(submission, lambda: self._submit(submission, options))

    def _submit(self, submission: Submission, options: Options) -> SubmitOutcome:
        body = json_object(submission.submit_response)
        code = _code(body.get("responseCode")) if body else None
        if body is None or code is None:
            raise ParseError("no responseCode")
        ids = body.get("messageIds") or []
        if not isinstance(ids, list):
            raise ParseError("messageIds is not a list")
        raw_ids = [raw for raw in map(scalar, ids) if raw is not None]
        if code == "0":
            info = codes.load("geniq").lookup("response", "0") or codes.unmapped(code)
        else:
            info = _error_info("response", code, submission.channel, Status.REJECTED)
        details = {
            key: value
            for key in ("reference", "responseMessage")
            if (value := scalar(body.get(key))) is not None
        }
        event = Event(
            raw_status=code,
            status=info.status,
            error_code=code if info.error_class else None,
            details=details,
        ).with_code(info)
        # one messageId per SMS part: the count is the segment count GenIQ will bill
        segments = len(raw_ids) if raw_ids and submission.channel is Channel.SMS else None
        return _submit.outcome(
            submission,
            event,
            raw_ids,
            lambda raw: self.canonical_id(raw, options),
            segments=segments,
        )

    def parse_callback(self, request: RawRequest, options: Options) -> list[Event]:
        """One SMS or WhatsApp delivery report (one per SMS part)."""
        report = body_data(request)
        if not isinstance(report, dict):
            raise ParseError("delivery report is not an object")
        raw_id = scalar(report.get("messageId"))
        if raw_id is None:
            raise ParseError("delivery report has no messageId")
        raw_status = scalar(report.get("status"))
        if raw_status is None:
            raise ParseError("delivery report has no status")
        channel = _channel(report.get("channel"))
        tables = codes.load("geniq")
        names = ["sms_status", "whatsapp_status"]
        if channel is Channel.WHATSAPP:  # the same word may differ between the two channels
            names.reverse()
        info = next(
            (row for name in names if (row := tables.lookup_ci(name, raw_status))),
            codes.unmapped(raw_status),
        )
        reason = _code(report.get("reasonCode"))
        # operatorTimestamp (SMS) / providerTimestamp (WhatsApp) say when the status happened
        happened = report.get("operatorTimestamp") or report.get("providerTimestamp")
        details: dict[str, Any] = {}
        if message_time := when(report.get("messageTimestamp")):
            details["messageTimestamp"] = message_time.isoformat()
        event = Event(
            raw_status=raw_status,
            status=info.status,
            provider_message_id=self.canonical_id(raw_id, options),
            raw_message_id=raw_id,
            error_code=reason if reason not in (None, "0") else None,
            provider_time=when(happened) or message_time,
            channel=channel,
            recipient=scalar(report.get("recipient")),
            details=details,
        ).with_code(info)
        if event.error_code and event.status.failure:
            why = _error_info("reason", event.error_code, channel, event.status)
            event = replace(
                event,
                error_class=why.error_class,
                retryable=why.retryable,
                description=why.description,
            )
        return [event]


ADAPTER = GenIQAdapter()
