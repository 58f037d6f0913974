"""Fake provider status APIs for the poller's tests (aiohttp, on 127.0.0.1, started by tests).

One server speaks for every provider: Velip GetCallStatus (look-ups, date ranges paged with
`last_id`), Twilio Message resources (prices that appear only after some fetches), Infobip's
report queue (each report returned once), Vonage Reports records, Hellio messages and YellowPush
EDRs. Faults are scripted: 429 with Retry-After on given requests, 503s, responses slower than
the client's read timeout, a page held until the test lets it go. Every request is logged with
its arrival time (monotonic), so tests measure the rate the server saw.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

TWILIO_SID = "AC0000000000000000000000000000test"
TWILIO_TOKEN = "twilio-auth-token-do-not-log"
VELIP_TOKEN = "velip-tsid-do-not-log"
INFOBIP_KEY = "infobip-api-key-do-not-log"
VONAGE_KEY = "vonage-key-do-not-log"
VONAGE_SECRET = "vonage-secret-do-not-log"
HELLIO_TOKEN = "hellio-api-token-do-not-log"
YELLOWPUSH_TOKEN = "yellowpush-token-do-not-log"
POLL_SECRETS = {
    "twilio_token": TWILIO_TOKEN,
    "velip_token": VELIP_TOKEN,
    "infobip_key": INFOBIP_KEY,
    "vonage_key": VONAGE_KEY,
    "vonage_secret": VONAGE_SECRET,
    "hellio_token": HELLIO_TOKEN,
    "yellowpush_token": YELLOWPUSH_TOKEN,
}


@dataclass
class Seen:
    """One request as the server received it."""

    at: float  # time.monotonic() on arrival
    method: str
    path: str
    query: dict[str, str]
    body: Any
    authorization: str | None


@dataclass
class TwilioMessage:
    status: str
    price: str | None = None  # the price the resource shows once `priced_after` fetches passed
    priced_after: int = 0
    error_code: int | None = None
    segments: str = "1"
    fetches: int = 0


@dataclass
class Fault:
    """What to do with request number `n` (1-based) of a path: a status, or a delay."""

    status: int | None = None
    retry_after: str | None = None
    delay: float = 0.0


@dataclass
class FakeProviders:
    velip_calls: list[dict[str, Any]] = field(default_factory=list)
    twilio: dict[str, TwilioMessage] = field(default_factory=dict)
    infobip_queue: deque[dict[str, Any]] = field(default_factory=deque)
    infobip_given: list[dict[str, Any]] = field(default_factory=list)  # fully answered pages
    infobip_hold_page: int | None = None  # the page (1-based) held until `release` is set
    vonage_records: dict[str, dict[str, Any]] = field(default_factory=dict)
    hellio: dict[str, dict[str, Any]] = field(default_factory=dict)
    yellowpush: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    faults: dict[tuple[str, int], Fault] = field(default_factory=dict)  # (path, n) -> fault
    seen: list[Seen] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    held: asyncio.Event = field(default_factory=asyncio.Event)  # set once the page is held
    url: str = ""
    _runner: web.AppRunner | None = None

    # --- lifecycle ---

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/api/v2/GetCallStatus.php", self._velip)
        app.router.add_get("/2010-04-01/Accounts/{account}/Messages/{sid}.json", self._twilio)
        app.router.add_get("/sms/1/reports", self._infobip)
        app.router.add_get("/v2/reports/records", self._vonage)
        app.router.add_get("/v1/messages/{id}", self._hellio)
        app.router.add_get("/rest/sms_edr", self._yellowpush)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        self.release.set()
        if self._runner is not None:
            await self._runner.cleanup()

    def fail(self, path: str, *numbers: int, **fault: Any) -> None:
        """Answer requests number `numbers` of `path` with the fault (status, retry_after, delay)."""
        for n in numbers:
            self.faults[(path, n)] = Fault(**fault)

    def requests(self, path: str | None = None) -> list[Seen]:
        return [s for s in self.seen if path is None or s.path == path]

    # --- common ---

    async def _enter(self, request: web.Request, authorized: Callable[[str | None], bool]) -> Any:
        """Log the request, apply its scripted fault; return its body, or a response to send."""
        body: Any = None
        if request.can_read_body:
            raw = await request.read()
            body = json.loads(raw) if raw else None
        path = request.path
        if path.startswith("/2010-04-01/"):
            path = "twilio"
        elif path.startswith("/v1/messages/"):
            path = "hellio"
        self.counts[path] = n = self.counts.get(path, 0) + 1
        auth = request.headers.get("Authorization")
        self.seen.append(
            Seen(time.monotonic(), request.method, path, dict(request.query), body, auth)
        )
        fault = self.faults.get((path, n))
        if fault is not None:
            if fault.delay:
                await asyncio.sleep(fault.delay)
            if fault.status is not None:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                return web.json_response(
                    {"error": "scripted"}, status=fault.status, headers=headers
                )
        if not authorized(auth):
            return web.json_response({"message": "Unauthorized"}, status=401)
        return body

    # --- Velip ---

    async def _velip(self, request: web.Request) -> web.StreamResponse:
        body = await self._enter(request, lambda a: a == f"Bearer {VELIP_TOKEN}")
        if isinstance(body, web.StreamResponse):
            return body
        body = body or {}
        if "cd_id" in body or "ctid" in body:
            calls = [
                c
                for c in self.velip_calls
                if ("cd_id" in body and c["cd_id"] == body["cd_id"])
                or ("ctid" in body and c.get("ctid") == body["ctid"])
            ]
            if not calls:
                return web.json_response({"return": {"status": "not found", "status_code": "404"}})
            return web.json_response(
                {"return": {"status": "OK", "status_code": "0"}, "calls": calls}
            )
        maxreg = int(body.get("maxreg", 5000))
        if maxreg > 5000:
            return web.json_response(
                {"return": {"status": "maxreg", "status_code": "400"}}, status=400
            )
        ordered = sorted(self.velip_calls, key=lambda c: c["_seq"])
        last = int(body.get("last_id", 0))
        rest = [c for c in ordered if c["_seq"] > last]
        page = rest[:maxreg]
        more = len(rest) > maxreg
        pagination = {"has_more": more, "next_id": page[-1]["_seq"] if more else None}
        calls = [{k: v for k, v in c.items() if k != "_seq"} for c in page]
        return web.json_response(
            {
                "return": {"status": "OK", "status_code": "0", "pagination": pagination},
                "calls": calls,
            }
        )

    def add_velip_call(self, **call: Any) -> None:
        self.velip_calls.append({**call, "_seq": len(self.velip_calls) + 1})

    # --- Twilio ---

    async def _twilio(self, request: web.Request) -> web.StreamResponse:
        expected = "Basic " + base64.b64encode(f"{TWILIO_SID}:{TWILIO_TOKEN}".encode()).decode()
        body = await self._enter(request, lambda a: a == expected)
        if isinstance(body, web.StreamResponse):
            return body
        sid = request.match_info["sid"]
        message = self.twilio.get(sid)
        if message is None or request.match_info["account"] != TWILIO_SID:
            return web.json_response(
                {"code": 20404, "message": "not found", "status": 404}, status=404
            )
        message.fetches += 1
        priced = message.price is not None and message.fetches > message.priced_after
        return web.json_response(
            {
                "account_sid": TWILIO_SID,
                "sid": sid,
                "status": message.status,
                "error_code": message.error_code,
                "price": message.price if priced else None,
                "price_unit": "USD",
                "num_segments": message.segments,
                "to": "+15005550006",
                "from": "+15005550001",
                "date_updated": f"Fri, 24 May 2019 17:18:{message.fetches % 60:02d} +0000",
            }
        )

    # --- Infobip ---

    async def _infobip(self, request: web.Request) -> web.StreamResponse:
        body = await self._enter(request, lambda a: a == f"App {INFOBIP_KEY}")
        if isinstance(body, web.StreamResponse):
            return body
        page_no = len(self.infobip_given) + 1
        if self.infobip_hold_page == page_no:
            self.held.set()
            await self.release.wait()  # the client is killed meanwhile: the page is never given
            return web.json_response({"results": []})
        limit = min(int(request.query.get("limit", "50")), 1000)
        results = [self.infobip_queue.popleft() for _ in range(min(limit, len(self.infobip_queue)))]
        page = {"results": results}
        response = web.json_response(page)
        await response.prepare(request)
        await response.write_eof()
        self.infobip_given.append(page)  # only once it is written: each report is given once
        return response

    # --- Vonage ---

    async def _vonage(self, request: web.Request) -> web.StreamResponse:
        expected = "Basic " + base64.b64encode(f"{VONAGE_KEY}:{VONAGE_SECRET}".encode()).decode()
        body = await self._enter(request, lambda a: a == expected)
        if isinstance(body, web.StreamResponse):
            return body
        record = self.vonage_records.get(request.query.get("id", ""))
        return web.json_response(
            {"request_status": "SUCCESS", "currency": "EUR", "records": [record] if record else []}
        )

    # --- Hellio ---

    async def _hellio(self, request: web.Request) -> web.StreamResponse:
        body = await self._enter(request, lambda a: a == f"Bearer {HELLIO_TOKEN}")
        if isinstance(body, web.StreamResponse):
            return body
        found = self.hellio.get(request.match_info["id"])
        if found is None:
            return web.json_response({"message": "not found", "error": "not_found"}, status=404)
        return web.json_response({"data": found})

    # --- YellowPush ---

    async def _yellowpush(self, request: web.Request) -> web.StreamResponse:
        body = await self._enter(request, lambda a: a == f"Bearer {YELLOWPUSH_TOKEN}")
        if isinstance(body, web.StreamResponse):
            return body
        edrs = self.yellowpush.get(request.query.get("client_message_id", ""), [])
        return web.json_response({"data": edrs})


def max_in_window(times: list[float], window: float) -> int:
    """The most requests that arrived within any `window` seconds (sliding over arrivals)."""
    times = sorted(times)
    best, start = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


class FakeInThread:
    """The fake server on an event loop of its own thread, for tests that are not async
    (they run `dlrecon serve` and wait with time.sleep)."""

    def __init__(self) -> None:
        import threading

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.fake: FakeProviders | None = None

    def __enter__(self) -> FakeProviders:
        self._thread.start()

        async def make() -> FakeProviders:
            fake = FakeProviders()
            await fake.start()
            return fake

        self.fake = asyncio.run_coroutine_threadsafe(make(), self.loop).result(30)
        return self.fake

    def __exit__(self, *exc: object) -> None:
        if self.fake is not None:
            asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(30)
        self.loop.close()
