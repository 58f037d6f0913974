"""Issue 16, defect 4: a client that closes its connection in the middle of a body (it said
`Content-Length: 100` and sent 10 bytes) is its own outcome: counted, logged without a
traceback, never a 500 in the metrics or an error in the log, and nothing is stored."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest

from tests.support.load import (
    Load,
    log_records,
    metric,
    scaled,
    start_service,
    stored_ids,
)
from tests.support.service import Service

ROUTE = "/v1/callbacks/{provider}"


def half_sent(port: int, n: int, how: str) -> None:
    """A request head announcing 100 bytes of body, 10 of them, then the connection closed
    (or only its sending half: the client says it has nothing more to send)."""
    head = (
        f"POST /v1/callbacks/open?messageId=CD{n:05d}&status=delivered HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\nContent-Type: application/octet-stream\r\n"
        "Content-Length: 100\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head.encode() + b"x" * 10)
        time.sleep(0.05)  # the server is reading the body when the client goes
        if how == "half-closed":
            sock.shutdown(socket.SHUT_WR)
            sock.recv(4096)  # whatever the server answers, until it closes


@pytest.mark.parametrize("how", ["closed", "half-closed"])
async def test_a_client_gone_mid_body_is_no_server_error(
    how: str, database_url: str, fault_workdir: Path, services: list[Service]
) -> None:
    service = start_service(fault_workdir, services, database_url)
    count = int(scaled(20, 200))
    for n in range(count):
        await asyncio.to_thread(half_sent, service.port, n, how)

    def seen() -> float:
        return metric(service, "dlrecon_http_requests_total", route=ROUTE)

    deadline = time.monotonic() + 30  # until every request has been accounted for
    while seen() < count and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
    server_errors = metric(service, "dlrecon_http_requests_total", route=ROUTE, status="500")
    disconnects = metric(
        service, "dlrecon_http_incomplete_requests_total", phase="body", reason="disconnect"
    )
    load = Load(service.url, "CA")
    after = await load.burst(5)
    service.stop()
    records = log_records(service)
    errors = [r for r in records if r.get("level") in ("error", "critical")]
    tracebacks = [r for r in records if "exception" in r or "Traceback" in str(r)]
    gone = [r for r in records if r.get("event") == "http_client_disconnected"]
    print(
        f"{count} bodies cut short ({how}): 500s={server_errors:.0f} counted={disconnects:.0f} "
        f"error lines={len(errors)} tracebacks={len(tracebacks)} logged={len(gone)}"
    )
    assert server_errors == 0, errors[:3]
    assert not errors and not tracebacks, (errors + tracebacks)[:3]
    assert disconnects == count
    assert len(gone) == count and all(r["level"] == "info" for r in gone)
    assert set(after) == {200}, "the service stopped answering callbacks"
    assert await stored_ids(database_url, "CD") == []
