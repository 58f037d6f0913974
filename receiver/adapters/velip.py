"""Velip (Brazil): the `{"return": …}` submit envelope and voice call results pushed via `rurl`.

Velip documents no SMS/WhatsApp delivery-report callback: SMS truth is the submit response
(including upstream pass-through statuses). Voice results arrive as GetCallStatus `calls[]`.
"""

from __future__ import annotations

import re
from typing import Any

from receiver.adapters import _submit, codes
from receiver.adapters.base import Adapter, Options, ParseError
from receiver.adapters.fields import body_data, decimal, json_object, scalar
from receiver.model import Channel, CodeInfo, Event, RawRequest, Status, Submission, SubmitOutcome

NO_ID = {"", "0"}  # a failed send returns cdls_id "0"
CALL_DETAILS = ("dur", "rate", "cd_amdasw", "cp_id", "date", "origin")
_BRACKETS = re.compile(r"\[([^\[\]]*)\]")


def _id(envelope: dict[str, Any], *names: str) -> str | None:
    """The first real id among the named fields (`"0"` means none)."""
    for name in names:
        value = scalar(envelope.get(name))
        if value is not None and value not in NO_ID:
            return value
    return None


def _submit_info(code: str, status: str, channel: Channel, has_id: bool) -> CodeInfo:
    """The table row for a submit envelope's status_code and status."""
    table = codes.load("velip")
    if code == "0":
        if status.upper() == "OK":
            return table.lookup("status_code", "0") or codes.unmapped(code)
        return table.lookup_ci("passthrough", status) or codes.unmapped(status)
    info = table.lookup_ci("status_text", status) or table.lookup("status_code", code)
    if info is None and channel is Channel.WHATSAPP:
        info = table.lookup("meta", code)
    # an unknown code with no message id logged was refused; with an id its fate is unknown
    return info or codes.unmapped(code, Status.UNKNOWN if has_id else Status.REJECTED)


def _unflatten(form: dict[str, Any]) -> dict[str, Any]:
    """PHP `http_build_query` keys (`calls[0][cd_id]=…`) as nested tables."""
    if not any("[" in key for key in form):
        return form
    nested: dict[str, Any] = {}
    for key, value in form.items():
        head, _, rest = key.partition("[")
        path = [head, *_BRACKETS.findall("[" + rest)] if rest else [head]
        node = nested
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ParseError(f"form key {key!r} conflicts with another key")
            node = child
        node[path[-1]] = value
    return nested


def _calls(body: Any) -> list[Any]:
    """The call records of a pushed GetCallStatus result (list, `calls`, or one record)."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        inner = body.get("return")
        for holder in (body, inner if isinstance(inner, dict) else {}):
            calls = holder.get("calls")
            if isinstance(calls, list):
                return calls
            if isinstance(calls, dict):  # a PHP form list arrives keyed "0", "1", …
                return list(calls.values())
            if "cd_status" in holder:
                return [holder]
    raise ParseError("no calls[] or cd_status in the body")


class VelipAdapter(Adapter):
    """Velip submit envelopes (SMS, WhatsApp, voice) and pushed voice call results."""

    name = "velip"
    option_names = frozenset({"currency"})

    def parse_submit(self, submission: Submission, options: Options) -> SubmitOutcome:
        """Read `{"return": {status, status_code, cdls_id|cd_id|cp_id}}`; odd bodies → unknown."""
        return _submit.guarded(submission, lambda: self._submit(submission, options))

    def _submit(self, submission: Submission, options: Options) -> SubmitOutcome:
        body = json_object(submission.submit_response)
        envelope = body.get("return") if body else None
        code = scalar(envelope.get("status_code")) if isinstance(envelope, dict) else None
        if envelope is None or code is None:
            raise ParseError("no return.status_code envelope")
        status = scalar(envelope.get("status")) or ""
        raw_id = _id(envelope, "cdls_id", "cd_id")
        info = _submit_info(code, status, submission.channel, raw_id is not None)
        details: dict[str, Any] = {"status_code": code}
        if campaign := _id(envelope, "cp_id"):
            details["cp_id"] = campaign
        failure_code = code
        if code == "0" and status.upper() != "OK":
            # left Velip but the upstream answered something else: reconciliation flags it
            details.update(downstream="pass-through status", downstream_status=status[:500])
            failure_code = status[:100]
        event = Event(
            raw_status=(status or code)[:120],
            status=info.status,
            error_code=failure_code if info.error_class else None,
            details=details,
        ).with_code(info)
        raw_ids = [raw_id] if raw_id else []
        return _submit.outcome(
            submission, event, raw_ids, lambda raw: self.canonical_id(raw, options)
        )

    def parse_callback(self, request: RawRequest, options: Options) -> list[Event]:
        """Voice call results (GetCallStatus `calls[]`) pushed to `rurl` as JSON or a form."""
        body = body_data(request)
        if isinstance(body, dict):
            body = _unflatten(body)
        return [self._call(call, options) for call in _calls(body)]

    def _call(self, call: Any, options: Options) -> Event:
        if not isinstance(call, dict):
            raise ParseError("call record is not an object")
        raw_id = _id(call, "cd_id", "cdls_id")
        client_ref = scalar(call.get("ctid"))
        if raw_id is None and client_ref is None:
            raise ParseError("call record has neither cd_id nor ctid")
        raw_status = scalar(call.get("cd_status"))
        if raw_status is None:
            raise ParseError("call record has no cd_status")
        info = codes.load("velip").lookup_ci("call_status", raw_status) or codes.unmapped(
            raw_status
        )
        cost = decimal(call.get("value"))  # `value` is what the call cost; `rate` the tariff
        details: dict[str, Any] = {}
        for name in CALL_DETAILS:
            value = scalar(call.get(name))
            if value is not None:
                details[name] = value
        if "rate" in details:
            details["rate"] = str(decimal(details["rate"]))
        if details.get("dur", "").isdecimal():
            details["dur"] = int(details["dur"])
        event = Event(
            raw_status=raw_status,
            status=info.status,
            provider_message_id=self.canonical_id(raw_id, options) if raw_id else None,
            raw_message_id=raw_id,
            client_ref=client_ref,
            error_code=raw_status if info.error_class else None,
            cost=cost,
            # Velip bills in reais; its documents never name the currency, so it is configurable
            currency=str(options.get("currency", "BRL")) if cost is not None else None,
            channel=Channel.VOICE,
            recipient=scalar(call.get("dest")),
            details=details,
        )
        return event.with_code(info)


ADAPTER = VelipAdapter()
