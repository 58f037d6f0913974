"""A real `dlrecon serve` process for the acceptance and fault tiers: started, waited for,
stopped, its log kept."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from tests.support import TOKENS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


CONFIG = f"""
[api]
tokens = [{{ token = "{TOKENS["send"]}", scopes = ["send", "read"] }}]
[providers.open]
adapter = "geniq"
verify = "off"
[log]
format = "json"
[reconcile]
# the process tests count serve's children: no reconciler among them (its own test starts one)
processes = 0
"""


class Service:
    """One `dlrecon serve` process."""

    def __init__(self, workdir: Path, env: dict[str, str], port: int) -> None:
        self.workdir = workdir
        self.env = env
        self.port = port
        self.proc: subprocess.Popen[str] | None = None
        self.log = workdir / f"serve-{port}.log"
        self._handle: IO[str] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def children(self) -> list[Any]:
        """The processes `serve` started (psutil processes); one that exits while they are
        listed (a killed child being reaped) is left out."""
        import psutil

        assert self.proc is not None
        found = []
        for child in psutil.Process(self.proc.pid).children():
            try:
                if "spawn_main" in " ".join(child.cmdline()):
                    found.append(child)
            except (psutil.NoSuchProcess, psutil.ZombieProcess):
                continue
        return found

    def http_workers(self, expected: int) -> list[Any]:
        """The children listening on the service's port, once there are `expected` of them
        (readiness answers as soon as the first one listens)."""
        deadline = time.monotonic() + 30
        while True:
            found = [c for c in self.children() if self._listens(c)]
            if len(found) >= expected or time.monotonic() > deadline:
                return found
            time.sleep(0.1)

    def _listens(self, process: Any) -> bool:
        return any(
            s.status == "LISTEN" and s.laddr.port == self.port
            for s in process.net_connections("tcp")
        )

    def start(self, *args: str, launcher: Sequence[str] = (), new_session: bool = False) -> None:
        """`dlrecon serve` with `args`, run through `launcher` (e.g. `unshare ...`) if given, in
        a session of its own (as from a terminal) with `new_session`."""
        self.close_log()
        self._handle = open(self.log, "a")  # noqa: SIM115 - closed by close_log()
        self.proc = subprocess.Popen(
            [*launcher, sys.executable, "-m", "dlrecon", "serve", "--port", str(self.port), *args],
            env=self.env,
            stdout=self._handle,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=new_session,
        )

    def close_log(self) -> None:
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"dlrecon exited {self.proc.returncode}:\n{self.log.read_text()}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/readyz", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.2)
        raise AssertionError(f"not ready in {timeout}s:\n{self.log.read_text()}")

    def stop(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.terminate()
        try:
            return self.proc.wait(timeout)
        finally:
            self.close_log()


def own_env() -> dict[str, str]:
    """This process's environment without what configures dlrecon (DLRECON_*, DATABASE_URL):
    a child given a configuration file uses that file's database, not the suite's server."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith("DLRECON_") and k != "DATABASE_URL"
    }


def service_env(workdir: Path, database_url: str | None) -> dict[str, str]:
    env = own_env()
    env["DLRECON_CONFIG"] = str(workdir / "dlrecon.toml")
    env["DLRECON_DATABASE__DATA_DIR"] = str(workdir / "data")
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def stored_message_ids(database_url: str) -> set[str]:
    """The `messageId` of every callback in the inbox (tests send one unique id each)."""
    import asyncio

    import asyncpg

    async def fetch() -> set[str]:
        conn = await asyncpg.connect(database_url)
        try:
            rows = await conn.fetch("SELECT query FROM inbox")
        finally:
            await conn.close()
        return {q.split("messageId=")[1].split("&")[0] for q in (r["query"] for r in rows)}

    return asyncio.run(fetch())


def finance_config(finance_token: str) -> str:
    """The configuration of the reconciliation and finance acceptance tests: a sending token,
    a finance token, one GeniQ key (`open`) without verification, runs picked up at once."""
    return f"""
[api]
tokens = [
  {{ token = "{TOKENS["send"]}", scopes = ["send", "read"] }},
  {{ token = "{finance_token}", scopes = ["finance"], name = "finance-team" }},
]
[providers.open]
adapter = "geniq"
verify = "off"
[log]
format = "json"
[reconcile]
poll_interval = 0.2
"""


def call(
    url: str, token: str, method: str = "GET", body: Any = None, timeout: float = 30
) -> tuple[int, Any]:
    """One API request: its status, and its body (parsed when JSON), errors included."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw, kind = response.status, response.read(), response.headers
    except urllib.error.HTTPError as exc:
        status, raw, kind = exc.code, exc.read(), exc.headers
    text = raw.decode()
    return status, json.loads(text) if "json" in kind.get("Content-Type", "") else text
