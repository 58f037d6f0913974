"""Shared helpers for the adapter tests: requests, submissions, corpus, code rows and fuzzing."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import EllipsisType
from typing import Any
from urllib.parse import parse_qsl, urlencode

from hypothesis import strategies as st

from receiver.adapters import codes
from receiver.adapters.base import Adapter, ParseError
from receiver.model import Channel, CodeInfo, Event, RawRequest, Status, Submission
from tests.support import CORPUS

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"

Body = str | bytes | RawRequest
Query = str | Iterable[tuple[str, str]]


# --- requests ---


def query_pairs(query: Query) -> tuple[tuple[str, str], ...]:
    """Query parameters from a query string (blank values kept) or from pairs."""
    if isinstance(query, str):
        return tuple(parse_qsl(query, keep_blank_values=True))
    return tuple(query)


@dataclass(frozen=True)
class Callbacks:
    """Callback requests to one adapter (POST JSON or form, GET query) and their events."""

    adapter: Adapter
    provider: str
    content_type: str = JSON

    def request(
        self,
        body: str | bytes = b"",
        *,
        query: Query = (),
        content_type: str | None = None,
        method: str = "POST",
    ) -> RawRequest:
        """A request to `/v1/callbacks/<provider>`; the content type defaults to the adapter's."""
        raw = body.encode() if isinstance(body, str) else body
        kind = self.content_type if content_type is None else content_type
        path = f"/v1/callbacks/{self.provider}"
        return RawRequest(method, path, query_pairs(query), {}, raw, kind)

    def get(self, query: Query) -> RawRequest:
        """A GET carrying its fields in the query string."""
        return self.request(query=query, method="GET")

    def form(self, fields: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> RawRequest:
        """A POST with a form-encoded body."""
        return self.request(urlencode(fields), content_type=FORM)

    def json(self, doc: Any) -> RawRequest:
        """A POST with `doc` as a JSON body."""
        return self.request(json.dumps(doc), content_type=JSON)

    def form_and_query(self, fields: Mapping[str, Any]) -> tuple[RawRequest, RawRequest]:
        """The same fields as a form POST and as a GET query string."""
        return self.form(fields), self.get(urlencode(fields))

    def parse(
        self, body: Body = b"", options: Mapping[str, Any] | None = None, **request: Any
    ) -> list[Event]:
        """The events of a request, or of a body sent with `request` keywords."""
        req = body if isinstance(body, RawRequest) else self.request(body, **request)
        return self.adapter.parse_callback(req, options or {})

    def one(
        self, body: Body = b"", options: Mapping[str, Any] | None = None, **request: Any
    ) -> Event:
        """The only event of a request."""
        events = self.parse(body, options, **request)
        assert len(events) == 1
        return events[0]


# --- submissions ---


@dataclass(frozen=True)
class Submissions:
    """Registered messages of one provider key, each with a submit response."""

    provider: str
    channel: Channel
    client_ref: str | None
    destination: str | None
    http: int | None = 200

    def __call__(
        self,
        response: Any,
        http: int | EllipsisType | None = ...,
        *,
        channel: Channel | None = None,
        destination: str | EllipsisType | None = ...,
        ids: tuple[str, ...] = (),
    ) -> Submission:
        """A submission with this response (and HTTP status, channel, destination, ids)."""
        return Submission(
            provider_key=self.provider,
            channel=channel or self.channel,
            client_ref=self.client_ref,
            provider_message_ids=ids,
            destination=self.destination if isinstance(destination, EllipsisType) else destination,
            submitted_at=None,
            submit_response=response,
            submit_http_status=self.http if isinstance(http, EllipsisType) else http,
        )


# --- corpus and code tables ---


def corpus(name: str) -> dict[str, Any]:
    """A corpus file (`tests/data/corpus/<name>`, a copy of shared/corpus)."""
    data: dict[str, Any] = json.loads((CORPUS / name).read_text())
    return data


def corpus_bodies(name: str) -> set[str]:
    """The verbatim bodies of a corpus file's examples."""
    return {example["body_verbatim"] for example in corpus(name)["examples"]}


def rows(provider: str, table: str) -> list[CodeInfo]:
    """Every row of one of a provider's code tables."""
    return list(codes.load(provider).tables[table].values())


# --- fuzzing ---


def json_values(
    *keys: str, text_size: int | None = 20, dict_size: int | None = None, max_leaves: int = 12
) -> st.SearchStrategy[Any]:
    """Any JSON document; objects sometimes keyed by `keys`, names an adapter looks for."""
    leaves = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=text_size)

    def nested(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        found = st.lists(inner, max_size=4)
        if keys:
            found |= st.dictionaries(st.sampled_from(keys), inner)
        return found | st.dictionaries(st.text(max_size=8), inner, max_size=dict_size)

    return st.recursive(leaves, nested, max_leaves=max_leaves)


# the shape the seed adapters' tests fuzz with: long texts, small objects
SEED_JSON = json_values(text_size=None, dict_size=4, max_leaves=16)


def names(keys: Iterable[str], size: int = 8) -> st.SearchStrategy[str]:
    """Field names: the ones an adapter reads, or any short text."""
    return st.sampled_from(list(keys)) | st.text(max_size=size)


def only_parse_error(
    adapter: Adapter, request: RawRequest, options: Mapping[str, Any] | None = None
) -> list[Event]:
    """The callback's events, none when it raises ParseError; anything else fails the test.

    Every event must be matchable, hold a real status, money only as Decimal with a currency,
    an aware provider time and JSON-safe details.
    """
    try:
        events = adapter.parse_callback(request, options or {})
    except ParseError:
        return []
    for event in events:
        assert isinstance(event.status, Status)
        assert event.provider_message_id or event.client_ref
        assert event.cost is None or (isinstance(event.cost, Decimal) and event.currency)
        assert event.provider_time is None or event.provider_time.tzinfo is not None
        json.dumps(event.details)
    return events
