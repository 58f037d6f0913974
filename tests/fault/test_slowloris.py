"""Issue 16, "also asked": slowloris. Connections sending a request a byte at a time, in its
head or in its body, are closed once `server.head_timeout` / `server.body_timeout` has passed,
and counted, while other clients are served; nothing of them is stored."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from tests.support.load import Load, log_records, metric, scaled, start_service, stored_ids
from tests.support.service import Service

# far beyond the timeouts configured (2 s): only a guard that ends the test's own loop
GIVE_UP_SECONDS = 60.0


async def dribble(port: int, n: int, phase: str) -> bool:
    """Send one request a byte every half second; True once the server has closed the
    connection, False if it never did (the guard)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    head = (
        f"POST /v1/callbacks/open?messageId=SL{phase}{n:05d}&status=delivered HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nContent-Type: application/octet-stream\r\n"
        "Content-Length: 1000\r\n"
    )
    if phase == "head":
        writer.write(head.encode() + b"X-Slow: ")
        trickle = b"a"
    else:
        writer.write(head.encode() + b"\r\n")
        trickle = b"x"
    started = time.monotonic()
    try:
        while time.monotonic() - started < GIVE_UP_SECONDS:
            await writer.drain()
            try:
                # the server closing shows as end of file (or a reset)
                if await asyncio.wait_for(reader.read(4096), 0.5) == b"":
                    return True
            except TimeoutError:
                pass
            writer.write(trickle)
        return False
    except ConnectionError:
        return True
    finally:
        writer.close()


async def test_slow_heads_and_bodies_are_closed_and_counted(
    database_url: str, fault_workdir: Path, services: list[Service]
) -> None:
    service = start_service(
        fault_workdir, services, database_url, server={"head_timeout": 2, "body_timeout": 2}
    )
    per_phase = int(scaled(25, 100))
    slow = [dribble(service.port, n, phase) for phase in ("head", "body") for n in range(per_phase)]
    dribbling = asyncio.gather(*slow)
    load = Load(service.url, "SN", concurrency=4)
    stop = asyncio.Event()
    # the others are served meanwhile
    runner = asyncio.create_task(load.run(stop, max_requests=int(scaled(2_000, 20_000))))
    closed = await dribbling
    stop.set()
    await runner
    heads = metric(
        service, "dlrecon_http_incomplete_requests_total", phase="head", reason="timeout"
    )
    bodies = metric(
        service, "dlrecon_http_incomplete_requests_total", phase="body", reason="timeout"
    )
    service.stop()
    events = [r.get("event") for r in log_records(service)]
    print(
        f"slowloris {2 * per_phase} connections: closed={sum(closed)} counted head={heads:.0f} "
        f"body={bodies:.0f}; meanwhile {load.summary()}"
    )
    assert all(closed), f"{closed.count(False)} slow connections were never closed"
    assert (heads, bodies) == (per_phase, per_phase)
    assert events.count("http_head_timeout") == per_phase
    assert events.count("http_body_timeout") == per_phase
    assert load.statuses[200] > 0 and set(load.statuses) == {200}, load.summary()
    assert await stored_ids(database_url, "SL") == []
