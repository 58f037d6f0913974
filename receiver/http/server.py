"""One HTTP worker's server: aiohttp's application runner, listening with connections of our own
(`Connection`) that bound what a connection buffers and how long a client may take to send a
request head (the body's time is bounded where handlers read it: `bodies.read_limited`)."""

from __future__ import annotations

import asyncio
import signal
import socket
from collections.abc import Callable
from typing import Any

import structlog
from aiohttp import web

from receiver.http import keys
from receiver.settings import ServerSettings

log = structlog.get_logger(__name__)

# seconds an idle keep-alive connection is kept (aiohttp's `run_app` default)
KEEPALIVE_SECONDS = 75.0
BACKLOG = 2048


class Connection(web.RequestHandler):
    """aiohttp's request handler (one per connection), which closes the connection when a
    request head has begun to arrive but is not complete `head_timeout` seconds later (a client
    sending its headers a byte at a time holds a connection no longer than that)."""

    def __init__(
        self,
        manager: web.Server,
        *,
        head_timeout: float,
        on_head_timeout: Callable[[], None],
        **kwargs: Any,
    ) -> None:
        super().__init__(manager, **kwargs)
        self._dl_head_timeout = head_timeout
        self._dl_on_head_timeout = on_head_timeout
        self._dl_timer: asyncio.TimerHandle | None = None
        # from a request's complete head to the end of its body: bytes are its body
        self._dl_in_request = False

    def data_received(self, data: bytes) -> None:
        if data and not self._dl_in_request and self._dl_timer is None:
            # the first bytes of a request head
            self._dl_timer = asyncio.get_running_loop().call_later(
                self._dl_head_timeout, self._dl_head_expired
            )
        super().data_received(data)

    def request_began(self, request: web.BaseRequest) -> None:
        """The request's head is complete (called by the middleware)."""
        self._dl_stop_timer()
        self._dl_in_request = True
        request.content.on_eof(self._dl_request_read)

    def connection_lost(self, exc: BaseException | None) -> None:
        self._dl_stop_timer()
        super().connection_lost(exc)

    def _dl_request_read(self) -> None:
        self._dl_in_request = False

    def _dl_stop_timer(self) -> None:
        if self._dl_timer is not None:
            self._dl_timer.cancel()
            self._dl_timer = None

    def _dl_head_expired(self) -> None:
        self._dl_timer = None
        if self.transport is None:
            return
        peer = self.transport.get_extra_info("peername")
        remote = peer[0] if peer else None
        log.info("http_head_timeout", remote=remote, seconds=self._dl_head_timeout)
        self._dl_on_head_timeout()
        self.force_close()


def request_began(request: web.BaseRequest) -> None:
    """Tell the request's connection that its head is complete (its head timer stops)."""
    if isinstance(request.protocol, Connection):
        request.protocol.request_began(request)


def run(
    app: web.Application,
    *,
    host: str,
    port: int,
    reuse_port: bool,
    settings: ServerSettings,
    on_listening: Callable[[], None] | None = None,
) -> None:
    """Serve `app` until SIGTERM or SIGINT, then stop as aiohttp's `run_app` does (stop
    listening, let requests in progress finish within `shutdown_timeout`, clean up).
    `on_listening` is called once the port is open (an `OSError` if it cannot be)."""
    asyncio.run(
        _serve(
            app,
            host=host,
            port=port,
            reuse_port=reuse_port,
            settings=settings,
            on_listening=on_listening,
        )
    )


async def _serve(
    app: web.Application,
    *,
    host: str,
    port: int,
    reuse_port: bool,
    settings: ServerSettings,
    on_listening: Callable[[], None] | None,
) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    handler: dict[str, Any] = {
        "access_log": None,  # dlrecon logs its own (receiver.http.middleware)
        "keepalive_timeout": KEEPALIVE_SECONDS,
        # aiohttp reads ahead at most twice this per connection before it pauses reading
        "read_bufsize": settings.read_buffer_bytes,
    }
    runner = web.AppRunner(app, shutdown_timeout=settings.shutdown_timeout, **handler)
    await runner.setup()
    try:
        manager = runner.server
        assert manager is not None
        incomplete = app[keys.METRICS].http_incomplete.labels("head", "timeout")
        listener = await loop.create_server(
            lambda: Connection(
                manager,
                loop=loop,
                head_timeout=settings.head_timeout,
                on_head_timeout=incomplete.inc,
                **handler,
            ),
            host,
            port,
            # connections the kernel completes before the worker accepts them: aiohttp's 128
            # overflowed when a thousand providers' retries came at once (the overflowed
            # ones were reset mid-request); the kernel caps it at net.core.somaxconn
            backlog=BACKLOG,
            reuse_port=reuse_port or None,
        )
        for sock in listener.sockets:
            # inherited by every accepted connection: what the kernel holds for one, and so
            # what one read of it returns at most
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, settings.read_buffer_bytes)
        if on_listening is not None:
            on_listening()
        try:
            await stop.wait()
        finally:
            listener.close()
    finally:
        await runner.cleanup()
