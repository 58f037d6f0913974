"""A stored request is the request: an adapter parses the row rebuilt from the inbox exactly as
it parses the live request (`receiver.inbox.stored`), for every corpus example and for
arbitrary queries, headers and bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
from hypothesis import given
from hypothesis import strategies as st

from receiver import adapters
from receiver.db.inbox import InboxRow, NewInboxRow
from receiver.inbox import stored
from receiver.model import RawRequest
from tests.support.corpus_cases import CASES, Case

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def live(case: Case, extra_headers: dict[str, str] | None = None) -> RawRequest:
    headers = [*case.headers.items(), *(extra_headers or {}).items()]
    if case.content_type:
        headers.append(("Content-Type", f"{case.content_type}; charset=utf-8"))
    return stored.request(
        method=case.method,
        path=f"/v1/callbacks/{case.key}",
        raw_query=urlencode(case.query),
        headers=headers,
        body=case.body,
        remote="203.0.113.7",
    )


def through_the_inbox(row: NewInboxRow) -> InboxRow:
    """What the processor reads back: headers through jsonb, everything else as stored."""
    return InboxRow(
        id=1,
        provider_key=row.provider_key,
        method=row.method,
        path=row.path,
        query=row.query,
        headers=json.loads(json.dumps(row.headers)),
        body=bytes(row.body),
        remote_addr=row.remote_addr,
        received_at=row.received_at,
    )


def round_trip(request: RawRequest, *, redact_path_token: bool = False) -> RawRequest:
    row = stored.to_row(
        request,
        provider_key="k",
        verification="verified",
        verification_reason=None,
        state="pending",
        received_at=NOW,
        redact_path_token=redact_path_token,
    )
    return stored.from_row(through_the_inbox(row))


@pytest.mark.parametrize(("label", "case"), CASES, ids=[label for label, _ in CASES])
def test_every_corpus_example_parses_the_same_replayed(label: str, case: Case) -> None:
    adapter = adapters.get(case.key)
    options = {"currency": "EUR"} if case.key == "vonage" else {}
    request = live(case)
    replayed = round_trip(request)
    assert replayed == request
    assert adapter.parse_callback(replayed, options) == adapter.parse_callback(request, options)


def test_credentials_are_redacted_and_nothing_else_changes() -> None:
    query = [("token", "s3cret-token"), ("messageId", "A1"), ("status", "delivered")]
    case = Case("geniq", "GET", query=query)
    request = live(case, {"Authorization": "Basic dmVsaXA6cHc=", "X-Custom": "kept"})
    replayed = round_trip(request, redact_path_token=True)
    assert replayed.query_dict()["token"] == "[redacted]"
    assert replayed.headers["authorization"] == "[redacted]"
    assert replayed.headers["x-custom"] == "kept"
    assert replayed.query[1:] == request.query[1:]
    events = adapters.get("geniq").parse_callback
    assert events(replayed, {}) == events(request, {})


def test_the_media_type_is_read_the_same_way_live_and_replayed() -> None:
    request = stored.request(
        method="POST",
        path="/v1/callbacks/x",
        raw_query="",
        headers=[("CONTENT-TYPE", "Application/JSON; charset=UTF-8")],
        body=b"{}",
        remote=None,
    )
    assert request.content_type == "application/json"
    assert round_trip(request).content_type == "application/json"
    no_type = stored.request(
        method="POST", path="/", raw_query="", headers=[], body=b"x", remote=None
    )
    assert no_type.content_type == "" == round_trip(no_type).content_type


_text = st.text(st.characters(codec="utf-8", exclude_characters="\x00"), max_size=20)


@given(
    pairs=st.lists(st.tuples(_text, _text), max_size=6),
    headers=st.dictionaries(
        st.from_regex(r"[A-Za-z][A-Za-z0-9-]{0,15}", fullmatch=True), _text, max_size=5
    ),
    body=st.binary(max_size=200),
)
def test_any_request_comes_back_as_it_was(
    pairs: list[tuple[str, str]], headers: dict[str, str], body: bytes
) -> None:
    raw_query = urlencode(pairs)
    request = stored.request(
        method="POST",
        path="/v1/callbacks/k",
        raw_query=raw_query,
        headers=[(k, v) for k, v in headers.items() if k.lower() not in stored.REDACTED_HEADERS],
        body=body,
        remote="::1",
    )
    replayed = round_trip(request)
    assert replayed == request
    assert replayed.query == tuple(pairs)
