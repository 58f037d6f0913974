"""Velip (Brazil): the `{"return": …}` submit envelope and voice call results pushed via `rurl`.

Velip documents no SMS/WhatsApp delivery-report callback: SMS truth is the submit response
(including upstream pass-through statuses). Voice results arrive as GetCallStatus `calls[]`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from receiver.adapters import _submit, codes
from receiver.adapters._poll import (
    Auth,
    PollAdapter,
    PollRequest,
    PollResponse,
    PollTarget,
    Window,
    first_id,
    secret,
)
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
    option_names = frozenset({"currency", "list_date_params", "timezone"})

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


# --- polling: POST /api/v2/GetCallStatus.php (voice) --------------------------------------

GET_CALL_STATUS = "/api/v2/GetCallStatus.php"
MAXREG = 5000  # Velip: at most 5000 records per list request
# the date-range filter's parameter names (our provider document names the filter, not its
# fields): configurable with the option `list_date_params = ["from", "to"]`
DATE_PARAMS = ("date_start", "date_end")
DEFAULT_ZONE = "America/Sao_Paulo"  # option `timezone`: the zone of the range's times


class VelipPoll(PollAdapter):
    """Voice call results: a look-up by `cd_id` (or `ctid`), or a date range paged with the
    `last_id` cursor (`maxreg` at most 5000; `return.pagination.has_more` / `next_id`)."""

    name = "velip"
    required = ("api_token",)
    list_per_hour = 200.0  # Velip: list queries are limited to 200 an hour

    def poll_request(self, target: PollTarget, options: Options) -> PollRequest | None:
        if target.channel != Channel.VOICE.value:
            return None  # Velip documents no status API for SMS or WhatsApp
        cd_id = first_id(target)
        if cd_id is not None:
            body = {"cd_id": cd_id}
        elif target.client_ref is not None:
            body = {"ctid": target.client_ref}
        else:
            return None
        return PollRequest(
            kind="lookup",
            method="POST",
            path=GET_CALL_STATUS,
            json_body=body,
            auth=_auth(options),
            message_id=target.message_id,
            client_ref=target.client_ref,
        )

    def list_request(
        self, targets: Sequence[PollTarget], window: Window, page_size: int, options: Options
    ) -> PollRequest | None:
        if not any(t.channel == Channel.VOICE.value for t in targets):
            return None
        names = options.get("list_date_params") or DATE_PARAMS
        if not (isinstance(names, list | tuple) and len(names) == 2):
            raise ParseError("option list_date_params must be two parameter names")
        zone = _zone(options)
        body = {
            str(names[0]): window.start.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            str(names[1]): window.end.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"),
            "maxreg": max(1, min(page_size, MAXREG)),
        }
        return PollRequest(
            kind="list", method="POST", path=GET_CALL_STATUS, json_body=body, auth=_auth(options)
        )

    def next_page(
        self, request: PollRequest, response: PollResponse, options: Options
    ) -> PollRequest | None:
        """The same range from `next_id` on, while `return.pagination.has_more` says so."""
        envelope = json_object(response.json()) or {}
        inner = envelope.get("return")
        pagination = inner.get("pagination") if isinstance(inner, dict) else None
        if not isinstance(pagination, dict) or pagination.get("has_more") not in (
            True,
            "true",
            1,
            "1",
        ):
            return None
        next_id = pagination.get("next_id")
        if scalar(next_id) is None or not isinstance(request.json_body, dict):
            return None  # sent back as Velip gave it (a number or a string)
        if request.json_body.get("last_id") == next_id:
            raise ParseError(f"pagination does not advance (next_id {next_id} again)")
        return request.next(json_body={**request.json_body, "last_id": next_id})

    def parse(self, response: PollResponse, options: Options) -> list[Event]:
        """One event per call record; none when Velip answers that it knows no such call."""
        doc = response.json()
        envelope = json_object(doc) or {}
        inner = envelope.get("return")
        has_calls = (
            isinstance(doc, list)
            or "calls" in envelope
            or (isinstance(inner, dict) and "calls" in inner)
        )
        if not has_calls:
            code = scalar(inner.get("status_code")) if isinstance(inner, dict) else None
            if code is not None:
                return []  # an envelope without calls: nothing to report (e.g. not found)
        return [ADAPTER._call(call, options) for call in _calls(doc)]


def _zone(options: Options) -> ZoneInfo:
    """The zone of the date range's wall-clock times (Velip documents none; it is Brazilian)."""
    name = str(options.get("timezone") or DEFAULT_ZONE)
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ParseError(f"option timezone {name!r} is not a known time zone") from None


def _auth(options: Options) -> Auth:
    """The account token (`tsid`) as a bearer token, which Velip accepts in place of `tsid`."""
    return Auth("bearer", secret(options, "api_token"))


POLL = VelipPoll()
