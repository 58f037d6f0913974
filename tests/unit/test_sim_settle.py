"""`simulate --check` waits for the processor: its lag at 0, then an orphan sweep after a look."""

from __future__ import annotations

import time

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestServer

from dlrecon.sim import check


class FakeMetrics:
    """A /metrics whose sweep counter goes up by one every `every` seconds."""

    def __init__(self, lag: float, every: float) -> None:
        self.lag = lag
        self.every = every
        self.start = time.monotonic()

    async def handle(self, request: web.Request) -> web.Response:
        sweeps = 1 + int((time.monotonic() - self.start) / self.every)
        text = (
            f"# TYPE dlrecon_processor_lag_seconds gauge\n"
            f"dlrecon_processor_lag_seconds {self.lag}\n"
            f"dlrecon_orphan_sweeps_total {float(sweeps)}\n"
        )
        return web.Response(text=text)


async def serve(fake: FakeMetrics) -> TestServer:
    app = web.Application()
    app.router.add_get("/metrics", fake.handle)
    server = TestServer(app)
    await server.start_server()
    return server


async def test_settle_waits_for_a_whole_sweep_after_the_mark() -> None:
    fake = FakeMetrics(lag=0.0, every=0.5)
    server = await serve(fake)
    try:
        url = str(server.make_url("")).rstrip("/")
        async with aiohttp.ClientSession() as session:
            settled, mark = await check.settle(session, url, 5)
            assert settled and mark >= 1
            began = time.monotonic()
            settled, later = await check.settle(session, url, 5, sweeps_after=mark)
            assert settled
            assert later >= mark + 2
            assert time.monotonic() - began >= 0.5  # one sweep period at least
    finally:
        await server.close()


async def test_settle_gives_up_while_the_processor_lags() -> None:
    server = await serve(FakeMetrics(lag=3.0, every=0.1))
    try:
        url = str(server.make_url("")).rstrip("/")
        async with aiohttp.ClientSession() as session:
            settled, _ = await check.settle(session, url, 0.5)
            assert not settled
    finally:
        await server.close()


async def test_without_sweeps_on_metrics_the_check_pauses_instead() -> None:
    # a service whose processor runs elsewhere: no sweep ever counted there
    async def handle(request: web.Request) -> web.Response:
        return web.Response(text="dlrecon_processor_lag_seconds 0.0\n")

    app = web.Application()
    app.router.add_get("/metrics", handle)
    server = TestServer(app)
    await server.start_server()
    try:
        url = str(server.make_url("")).rstrip("/")
        async with aiohttp.ClientSession() as session:
            settled, mark = await check.settle(session, url, 5)
            assert settled and mark == 0
            began = time.monotonic()
            settled, _ = await check.settle(session, url, 5, sweeps_after=mark)
            assert settled
            assert time.monotonic() - began >= check.QUIET_SECONDS * 0.9
    finally:
        await server.close()
