"""YellowPush: the public 400/401 error envelope on submit; callbacks via the generic adapter."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from receiver.adapters import _submit, codes, generic
from receiver.adapters._poll import Auth, PollAdapter, PollRequest, PollResponse, PollTarget, secret
from receiver.adapters.base import Adapter, Options, ParseError, default_submit_outcome
from receiver.adapters.fields import json_object, scalar
from receiver.model import Event, RawRequest, Status, Submission, SubmitOutcome

_NAMED_NUMBER = re.compile(r"mobile number\s+\+?(\d+)", re.IGNORECASE)


def digits(number: str) -> str:
    """A phone number reduced for comparison: digits only, no leading zeros (`00`, `+`)."""
    return re.sub(r"\D", "", number).lstrip("0")


def _named(list_errors: list[Any]) -> dict[str, str]:
    """The numbers `listErrors` names (reduced to digits), each with its entry."""
    named: dict[str, str] = {}
    for entry in list_errors:
        if isinstance(entry, str) and (match := _NAMED_NUMBER.search(entry)):
            named.setdefault(digits(match.group(1)), entry)
    return named


def _list_event(list_errors: list[Any], destination: str | None, message: str | None) -> Event:
    """This message's fate in a batch whose bad numbers `listErrors` names by position."""
    named = _named(list_errors)
    wanted = digits(destination or "")
    details = {"list_errors": len(list_errors), "message": message or ""}
    if wanted and wanted not in named:
        # the provider refused other numbers of the batch, not this one: it keeps going
        return Event(raw_status="not in listErrors", status=Status.ACCEPTED, details=details)
    if wanted:
        info = codes.load("yellowpush").lookup("error", "list_error")
        why = named[wanted]
    else:
        info, why = None, "listErrors names numbers but the message has no destination to compare"
    info = info or codes.unmapped("listErrors")
    event = Event(
        raw_status="listErrors", status=info.status, error_code=info.code, details=details
    )
    return replace(event.with_code(info), description=why)


class YellowPushAdapter(Adapter):
    """YellowPush submit errors; callback fields are configured (their bodies are not public)."""

    name = "yellowpush"
    # its callbacks (and poll bodies, `poll_fields`) are read by the generic adapter
    option_names = generic.OPTION_NAMES | {"poll_fields"}

    def parse_callback(self, request: RawRequest, options: Options) -> list[Event]:
        """Read a callback through the generic adapter's configured field paths."""
        return generic.ADAPTER.parse_callback(request, options)

    def check_options(self, options: Options) -> str | None:
        fields = options.get("poll_fields")
        if fields is not None:
            if not isinstance(fields, Mapping):
                return "poll_fields must be a table of the generic adapter's field options"
            unknown = sorted(set(fields) - generic.OPTION_NAMES)
            if unknown:
                return f"poll_fields: unknown key(s) {', '.join(unknown)}"
            if problem := generic.check_tables({**options, **fields}):
                return f"poll_fields: {problem}"
        return generic.check_tables(options)

    def parse_submit(self, submission: Submission, options: Options) -> SubmitOutcome:
        """2xx → accepted; 401 → auth; the 400 envelope per message; odd responses → unknown."""
        return _submit.guarded(submission, lambda: self._submit(submission))

    def _submit(self, submission: Submission) -> SubmitOutcome:
        http = submission.submit_http_status
        if http is not None and 200 <= http < 300:
            return default_submit_outcome(submission)  # success bodies are not public
        tables = codes.load("yellowpush")
        if http == 401:
            info = tables.lookup("http", "401") or codes.unmapped("401", Status.REJECTED)
            event = Event(raw_status="401", status=info.status, error_code="401")
            return _submit.outcome(submission, event.with_code(info))
        body = json_object(submission.submit_response)
        code = scalar(body.get("code")) if body else None
        if body is None or code is None:
            raise ParseError("no {message, code, listErrors} envelope")
        message = scalar(body.get("message"))
        list_errors = body.get("listErrors")
        if list_errors:
            if not isinstance(list_errors, list):
                raise ParseError("listErrors is not a list")
            event = _list_event(list_errors, submission.destination, message)
        else:
            # no per-number errors: the whole request failed
            info = tables.lookup("error", code) or codes.unmapped(code, Status.REJECTED)
            event = Event(
                raw_status=code,
                status=info.status,
                error_code=code,
                details={"message": message} if message else {},
            ).with_code(info)
        return _submit.outcome(submission, event)


ADAPTER = YellowPushAdapter()


# --- polling: GET /rest/sms_edr?client_message_id=…&start_date=…&end_date=… ---------------

EDR_DAYS = 2  # the date range asked around the submit time (days before and after)


class YellowPushPoll(PollAdapter):
    """The SMS EDR of a message by its client reference. Its body is not public: it is read
    with the generic adapter's field options, where the key's `poll_fields` table overrides
    the callback's (`poll_fields = { items_field = "data", status_field = "state" }`)."""

    name = "yellowpush"
    required = ("api_token",)

    def poll_request(self, target: PollTarget, options: Options) -> PollRequest | None:
        if target.client_ref is None:
            return None  # the EDR is looked up by the client message id only
        sent = target.submitted_at
        query: list[tuple[str, str]] = [("client_message_id", target.client_ref)]
        if sent is not None:
            start = (sent - timedelta(days=EDR_DAYS)).date().isoformat()
            end = (sent + timedelta(days=EDR_DAYS)).date().isoformat()
            query += [("start_date", start), ("end_date", end)]
        return PollRequest(
            kind="lookup",
            method="GET",
            path="/rest/sms_edr",
            query=tuple(query),
            auth=Auth("bearer", secret(options, "api_token")),
            message_id=target.message_id,
            client_ref=target.client_ref,
        )

    def parse(self, response: PollResponse, options: Options) -> list[Event]:
        fields = options.get("poll_fields") or {}
        if not isinstance(fields, Mapping):
            raise ParseError("option poll_fields must be a table")
        merged: dict[str, Any] = {**options, **fields}
        items = generic.items(response.json(), merged)
        looked_up = response.looked_up()
        if looked_up and not merged.get("client_ref_field"):
            # the EDR was asked for by this reference: it names the message
            merged["client_ref_field"] = _LOOKED_UP
            items = [{**i, _LOOKED_UP: looked_up} if isinstance(i, dict) else i for i in items]
        return [generic.ADAPTER.report(item, merged) for item in items]


_LOOKED_UP = "__looked_up_client_ref"

POLL = YellowPushPoll()
