"""`dlrecon simulate` against a real `dlrecon serve`, and `dlrecon demo` end to end."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.support import TOKENS
from tests.support.service import Service, free_port, service_env

CONFIG = f"""
[api]
tokens = [
  {{ token = "{TOKENS["read"]}", scopes = ["read"] }},
  {{ token = "{TOKENS["send"]}", scopes = ["send", "read"] }},
]
[log]
format = "json"
level = "warning"

[providers.geniq_sg]
adapter = "geniq"
path_token = "sim-geniq-token"

[providers.hellio]
signing_secrets = ["sim-hellio-old", "sim-hellio-new"]

[providers.twilio]
signing_secrets = ["sim-twilio-auth-token"]
public_url = "https://dlr.example.com/v1/callbacks/twilio"

[providers.vonage]
signing_secrets = ["sim-vonage-secret"]

[providers.meta]
signing_secrets = ["sim-meta-secret"]

[providers.infobip]
basic_auth = {{ user = "infobip", password = "sim-infobip-password" }}

[providers.jasmin]
path_token = "sim-jasmin-token"

[providers.kannel]
path_token = "sim-kannel-token"

[providers.gupshup]
path_token = "sim-gupshup-token"
"""


def dlrecon(
    env: dict[str, str], *args: str, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dlrecon", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_simulate_with_faults_then_check_passes_and_tampering_fails(
    workdir: Path, services: list[Service], database_url: str
) -> None:
    (workdir / "dlrecon.toml").write_text(CONFIG)
    env = service_env(workdir, database_url)
    service = Service(workdir, env, free_port())
    services.append(service)
    service.start()
    service.wait_ready()
    record = workdir / "sim.json"

    sent = dlrecon(
        env,
        "simulate",
        "--url",
        service.url,
        "--messages",
        "300",
        "--seed",
        "1234",
        "--duplicates",
        "0.2",
        "--reorder",
        "0.3",
        "--drops",
        "0.1",
        "--orphans",
        "0.15",
        "--multipart",
        "0.3",
        "--failures",
        "0.2",
        "--price-deviation",
        "0.2",
        "--delay-ms",
        "0..3",
        "--record",
        str(record),
    )
    assert sent.returncode == 0, sent.stderr
    assert "gupshup: skipped" in sent.stderr
    data = json.loads(record.read_text())
    assert data["seed"] == 1234 and len(data["messages"]) == 300
    assert data["callbacks"]["acknowledged"] == data["callbacks"]["sent"]
    flags = {f for m in data["messages"] for f in m["flags"]}
    assert {"orphan", "reordered", "duplicated", "dropped", "multipart", "failure"} <= flags
    assert "price_deviation" in flags
    assert {m["provider"] for m in data["messages"]} == {
        "geniq_sg", "hellio", "twilio", "vonage", "meta", "infobip", "jasmin", "kannel"
    }  # fmt: skip

    checked = dlrecon(
        env, "simulate", "--url", service.url, "--check", str(record), "--timeout", "30"
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "OK: all 300 messages as expected" in checked.stdout

    # dlrecon's state differs from the record: the check must fail and name the message
    victim = next(m for m in data["messages"] if m["expected_status"] == "delivered")
    victim["expected_status"] = "failed"
    priced = next(m for m in data["messages"] if m["expected_provider_cost"] is not None)
    priced["expected_provider_cost"] = "9.9999"
    tampered = workdir / "tampered.json"
    others = [m for m in data["messages"] if m not in (victim, priced)][:30]
    tampered.write_text(json.dumps({**data, "messages": [victim, priced, *others]}))
    failed = dlrecon(
        env,
        "simulate",
        "--url",
        service.url,
        "--check",
        str(tampered),
        "--timeout",
        "20",
        "--format",
        "json",
    )
    assert failed.returncode == 1, failed.stdout + failed.stderr
    result = json.loads(failed.stdout)
    assert not result["ok"] and result["differences"] == 2
    fields = {(d["client_ref"], d["field"]) for d in result["first_differences"]}
    assert fields == {(victim["client_ref"], "status"), (priced["client_ref"], "provider_cost")}


def test_demo_runs_end_to_end_on_a_throwaway_database() -> None:
    # a short folder: Postgres' socket path (inside the demo's folder) is limited to 107 bytes
    scratch = Path(tempfile.mkdtemp(prefix="dd-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLRECON_")}
    env.pop("DATABASE_URL", None)
    env["TMPDIR"] = str(scratch)
    try:
        result = dlrecon(env, "demo", "--messages", "200", timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "OK: all 200 messages as expected" in result.stdout
        assert "Trace of sim-" in result.stdout
        assert "What became of them" in result.stdout
        assert not list(scratch.glob("dlrecon-demo-*")), "the throwaway folder is removed"
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def test_demo_json_is_json_and_nothing_else() -> None:
    scratch = Path(tempfile.mkdtemp(prefix="dj-", dir="/tmp"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DLRECON_")}
    env.pop("DATABASE_URL", None)
    env["TMPDIR"] = str(scratch)
    try:
        result = dlrecon(env, "demo", "--messages", "30", "--format", "json", timeout=180)
        assert result.returncode == 0, result.stdout + result.stderr
        out = json.loads(result.stdout)
        assert out["check"]["ok"] is True
        assert out["trace"] and out["trace"][0]["events"]
        assert "Traceback" not in result.stderr
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
