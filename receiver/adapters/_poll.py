"""The poll contract: pure request builders and response parsers for provider status APIs.

A provider whose API can be asked about a message defines `POLL = SomePoll()` at the end of its
adapter module. `poll_request` builds the request for one message, `list_request` one for many
(a date range, or a drain of reports queued for us), `next_page` the request after a page, and
`parse` turns a stored response into events. No I/O here: the poller sends the requests
(`receiver/poll/`), stores every response in the inbox, and the processor calls `parse`.
Credentials travel in `PollRequest.auth` and are applied only when sending, so the request
that is stored (`PollRequest.described()`) never holds them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import SecretStr

from receiver.adapters.base import Options, ParseError
from receiver.adapters.fields import json_value
from receiver.model import Event

Kind = Literal["lookup", "list", "drain"]


@dataclass(frozen=True, slots=True)
class Auth:
    """How a request authenticates: HTTP Basic, a bearer token, or a header with a secret."""

    scheme: Literal["basic", "bearer", "header"]
    secret: SecretStr
    user: str = ""  # basic: the user name
    show_user: bool = True  # False when the user name is itself a credential (Vonage's API key)
    header: str = "Authorization"  # header: its name
    prefix: str = ""  # header: text before the secret (Infobip's `App `)

    def headers(self) -> dict[str, str]:
        """The header(s) to send. Only the poller's sending code calls this."""
        import base64

        value = self.secret.get_secret_value()
        if self.scheme == "basic":
            token = base64.b64encode(f"{self.user}:{value}".encode()).decode()
            return {"Authorization": f"Basic {token}"}
        if self.scheme == "bearer":
            return {"Authorization": f"Bearer {value}"}
        return {self.header: f"{self.prefix}{value}"}

    def described(self) -> dict[str, str]:
        """What the stored request says about the credentials used: the scheme, never the secret."""
        if self.scheme == "basic":
            user = self.user if self.show_user else "<redacted>"
            return {"scheme": "basic", "user": user, "secret": "<redacted>"}
        return {"scheme": self.scheme, "header": self.header, "secret": "<redacted>"}


@dataclass(frozen=True, slots=True)
class PollRequest:
    """One request to a provider's API, relative to the key's `api_base_url`."""

    kind: Kind
    method: str
    path: str  # starts with "/"
    query: tuple[tuple[str, str], ...] = ()
    json_body: Any = None  # sent as JSON when not None
    headers: tuple[tuple[str, str], ...] = ()  # never credentials: those go in `auth`
    auth: Auth | None = None
    message_id: int | None = None  # the message a look-up is for
    # the looked-up message's client reference: events of a response that names the message
    # only by an id it does not know yet (Hellio, YellowPush) are matched by it
    client_ref: str | None = None
    page: int = 1
    # query parameters whose values are credentials (Vonage's account_id is its API key)
    secret_query: frozenset[str] = frozenset()

    def described(self) -> dict[str, Any]:
        """The request as stored in the inbox and the poll log: everything but the secrets."""
        return {
            "kind": self.kind,
            "method": self.method,
            "path": self.path,
            "query": [[k, "<redacted>" if k in self.secret_query else v] for k, v in self.query],
            "json": self.json_body,
            "headers": dict(self.headers),
            "auth": self.auth.described() if self.auth else None,
            "message_id": self.message_id,
            "client_ref": self.client_ref,
            "page": self.page,
        }

    def next(self, **changes: Any) -> PollRequest:
        """The request for the following page."""
        return replace(self, page=self.page + 1, **changes)


@dataclass(frozen=True, slots=True)
class PollTarget:
    """A message the poller asks about, with what a request can name it by."""

    message_id: int
    channel: str
    client_ref: str | None
    provider_message_ids: tuple[str, ...]
    submitted_at: datetime | None
    final: bool
    priced: bool
    submit_response: Any = None


@dataclass(frozen=True, slots=True)
class PollResponse:
    """A stored poll response: the request made (described, no secrets), status, headers, body."""

    request: Mapping[str, Any]
    status: int
    headers: Mapping[str, str]  # lower-cased names
    body: bytes

    def json(self) -> Any:
        """The body as JSON (exact decimals); ParseError when it is not."""
        return json_value(self.body.strip())

    def looked_up(self) -> str | None:
        """The client reference of the message a look-up asked about."""
        ref = self.request.get("client_ref")
        return str(ref) if ref else None


@dataclass(frozen=True, slots=True)
class Window:
    """The period a list request covers (the due messages' submit times, with a margin)."""

    start: datetime
    end: datetime


class PollAdapter:
    """Base class: a provider's status API. Subclasses override what they support."""

    name: ClassVar[str] = ""
    # lookup: one request per message; drain: the key's queued reports (`list_request`) only
    mode: ClassVar[Literal["lookup", "drain"]] = "lookup"
    # whether a final message without a provider price is worth polling (the API gives prices)
    gives_price: ClassVar[bool] = False
    # the option names this provider's polling reads from `[providers.KEY]` (credentials...)
    required: ClassVar[tuple[str, ...]] = ()
    # list requests an hour the provider allows (None: no documented limit)
    list_per_hour: ClassVar[float | None] = None

    def poll_request(self, target: PollTarget, options: Options) -> PollRequest | None:
        """The request asking about one message; None when nothing names it for this API."""
        return None

    def list_request(
        self, targets: Sequence[PollTarget], window: Window, page_size: int, options: Options
    ) -> PollRequest | None:
        """One request covering many messages (a date range, a drain); None: look each up."""
        return None

    def next_page(
        self, request: PollRequest, response: PollResponse, options: Options
    ) -> PollRequest | None:
        """The request for the page after this response, None when it was the last."""
        return None

    def parse(self, response: PollResponse, options: Options) -> list[Event]:
        """The events a stored response reports. ParseError: quarantined, replayable."""
        raise ParseError(f"adapter {self.name!r} does not parse poll responses")


def poll_adapter(adapter_name: str) -> PollAdapter | None:
    """The poll side of an adapter (its module's `POLL`), None when its provider has no API."""
    module = importlib.import_module(f"receiver.adapters.{adapter_name}")
    found = getattr(module, "POLL", None)
    return found if isinstance(found, PollAdapter) else None


def secret(options: Options, name: str) -> SecretStr:
    """A credential option, as SecretStr; ParseError naming it when it is not configured."""
    value = options.get(name)
    if isinstance(value, SecretStr):
        return value
    if isinstance(value, str) and value:
        return SecretStr(value)
    raise ParseError(f"option {name} is not configured")


def first_id(target: PollTarget) -> str | None:
    """The message's first provider id (part 0), if it has one."""
    return target.provider_message_ids[0] if target.provider_message_ids else None
