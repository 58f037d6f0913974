"""Shared plumbing for the benchmarks: a throw-away embedded Postgres, configs, tools, machine,
and the callbacks of the benchmark mix (GenIQ GET, Hellio signed JSON, Twilio signed form)."""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from random import Random
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = ROOT / ".venv" / "bin"
DLRECON = VENV_BIN / "dlrecon"
PYTHON = VENV_BIN / "python"

# secrets of the benchmark configuration (throw-away, 127.0.0.1 only)
HELLIO_SECRET = "bench-hellio-signing-secret"
GENIQ_TOKEN = "bench-geniq-path-token-7f3c9a1e5b2d4c6e8a0b"
TWILIO_TOKEN = "bench-twilio-auth-token-0123456789abcdef"
TWILIO_PUBLIC_URL = "https://dlrecon.example.com/v1/callbacks/twilio"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ensure_tool(name: str) -> str:
    """The tool's path; installs the Debian package of the same name when it is missing."""
    found = shutil.which(name)
    if found:
        return found
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        sys.exit(f"{name} is not installed: apt-get install -y {name}")
    log(f"installing {name} with apt-get")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    if subprocess.run(["apt-get", "install", "-y", name], **quiet, timeout=600).returncode:
        subprocess.run(["apt-get", "update"], **quiet, timeout=600, check=True)
        subprocess.run(["apt-get", "install", "-y", name], **quiet, timeout=600, check=True)
    found = shutil.which(name)
    if not found:
        sys.exit(f"could not install {name}")
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f}s")


@contextlib.contextmanager
def embedded_postgres(keep: bool = False) -> Iterator[tuple[str, Path]]:
    """A fresh embedded Postgres in a temporary folder: (url, folder). Stopped and removed after."""
    sys.path.insert(0, str(ROOT))
    from receiver.db.embedded import EmbeddedPostgres

    folder = Path(tempfile.mkdtemp(prefix="dlrecon-bench-"))
    folder.chmod(0o755)  # as root, Postgres runs as its own user and must reach the folder
    embedded = EmbeddedPostgres(folder / "pg")
    log(f"starting embedded Postgres in {folder}")
    url = embedded.start()
    try:
        yield url, folder
    finally:
        embedded.stop()
        if keep:
            log(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


def write_config(folder: Path, url: str, port: int, workers: int) -> Path:
    path = folder / "bench.toml"
    path.write_text(
        f"""# written by bench/: keys that verify, a database URL, nothing else
[server]
host = "127.0.0.1"
port = {port}
workers = {workers}

[database]
url = "{url}"

[log]
level = "info"
format = "json"

[reconcile]
# the benchmarks measure one path each: no reconciler process beside it
processes = 0

[providers.hellio]
signing_secrets = ["{HELLIO_SECRET}"]

[providers.geniq]
path_token = "{GENIQ_TOKEN}"

[providers.twilio]
signing_secrets = ["{TWILIO_TOKEN}"]
public_url = "{TWILIO_PUBLIC_URL}"
"""
    )
    return path


def machine() -> dict[str, str]:
    model = "unknown"
    with contextlib.suppress(OSError), open("/proc/cpuinfo") as handle:
        for line in handle:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with contextlib.suppress(OSError), open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
                break
    return {
        "cpus": str(os.cpu_count()),
        "cpu": model,
        "memory": memory,
        "load": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def postgres_version(url: str) -> str:
    import asyncio

    import asyncpg

    async def ask() -> str:
        conn = await asyncpg.connect(url)
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()

    return asyncio.run(ask())


def cpu_of(processes: list) -> float:  # list[psutil.Process]
    """CPU seconds (user + system) the processes have used so far; one gone counts 0."""
    import psutil

    total = 0.0
    for p in processes:
        with contextlib.suppress(psutil.Error):
            times = p.cpu_times()
            total += times.user + times.system
    return total


def postgres_cpu(data_dir: Path) -> float:
    """CPU seconds used so far by the Postgres of `data_dir`: the postmaster, its live
    children (backends, WAL writer, checkpointer...) and the children that have exited."""
    import psutil

    try:
        pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        postmaster = psutil.Process(pid)
        times = postmaster.cpu_times()
        total = times.user + times.system + times.children_user + times.children_system
        return total + cpu_of(postmaster.children())
    except (OSError, ValueError, psutil.Error):
        return 0.0


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """SIGTERM, wait, then SIGKILL: only this process (its children follow SIGTERM)."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


@dataclass(frozen=True, slots=True)
class Callback:
    """One callback of the mix as its provider sends it (no Host or Content-Length header:
    the sender or the stored row adds them)."""

    key: str
    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: bytes


def geniq_callback(rng: Random, message_id: str, token: str) -> Callback:
    """A GenIQ delivery report: a GET with its query string and the key's path token."""
    status, reason = rng.choice([("delivered", "0")] * 8 + [("undeliverable", "5")] * 2)
    query = urlencode(
        {
            "token": token,
            "messageId": message_id,
            "channel": "sms",
            "recipient": f"659{rng.randrange(10**7):07d}",
            "status": status,
            "reasonCode": reason,
            "messageTimestamp": "2017-01-03T14:30:00+08:00",
            "operatorTimestamp": "2017-01-03T14:31:00+08:00",
        }
    )
    headers = {"user-agent": "GenIQ-DLR/1.0"}
    return Callback("geniq", "GET", "/v1/callbacks/geniq", query, headers, b"")


def hellio_callback(rng: Random, message_id: str, stamp: int, pad: int = 0) -> Callback:
    """A Hellio JSON POST signed with the V2 scheme (HMAC-SHA256 of `timestamp.body`); `pad`
    makes the body about that many bytes."""
    status = rng.choice(["delivered"] * 8 + ["failed", "sent"])
    payload = {
        "event": f"message.{status}",
        "mobile_number": f"+23324{rng.randrange(10**7):07d}",
        "provider_message_id": message_id,
        "status": status,
        "timestamp": datetime.fromtimestamp(stamp, UTC).isoformat(),
    }
    if pad:
        payload["note"] = "x" * max(0, pad - len(json.dumps(payload)) - 12)
    body = json.dumps(payload).encode()
    signature = hmac.new(HELLIO_SECRET.encode(), f"{stamp}.".encode() + body, "sha256")
    headers = {
        "user-agent": "Hellio-Webhooks/2.0",
        "content-type": "application/json",
        "x-hellio-timestamp": str(stamp),
        "x-hellio-signature-v2": signature.hexdigest(),
    }
    return Callback("hellio", "POST", "/v1/callbacks/hellio", "", headers, body)


def twilio_callback(rng: Random, sid: str) -> Callback:
    """A Twilio status callback: a form POST signed with X-Twilio-Signature (HMAC-SHA1 of the
    public URL and the sorted parameters)."""
    status = rng.choice(["delivered"] * 7 + ["sent", "undelivered", "failed"])
    params = {
        "AccountSid": "AC" + "a" * 32,
        "ApiVersion": "2010-04-01",
        "From": "+15017250604",
        "MessageSid": sid,
        "MessageStatus": status,
        "SmsSid": sid,
        "SmsStatus": status,
        "To": f"+1202{rng.randrange(10**7):07d}",
    }
    if status in ("undelivered", "failed"):
        params["ErrorCode"] = "30003"
    body = urlencode(params).encode()
    signed = TWILIO_PUBLIC_URL + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(TWILIO_TOKEN.encode(), signed.encode(), "sha1").digest()
    headers = {
        "user-agent": "TwilioProxy/1.1",
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": base64.b64encode(digest).decode(),
    }
    return Callback("twilio", "POST", "/v1/callbacks/twilio", "", headers, body)
