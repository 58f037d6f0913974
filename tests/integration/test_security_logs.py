"""The session-wide check that configured secrets never appear in logs: prove that it fails a
run whose test logs a secret (a separate pytest run, so this session stays clean)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support import ROOT

LEAKY_TEST = """
import structlog
from receiver import logs
from tests.support import SECRETS, TOKENS

def test_logs_a_secret_by_mistake():
    logs.configure("info", "json")
    # a non-secret-looking key, so the redaction processor does not catch it
    structlog.get_logger("leaky").info("oops", detail="token is " + TOKENS["read"])

def test_clean():
    logs.configure("info", "json")
    structlog.get_logger("clean").info("fine", token=TOKENS["admin"])  # redacted by key
"""


def run_inner(tmp_path: Path, source: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(source)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "--rootdir", str(tmp_path), "-c", os.devnull, str(tmp_path / "test_inner.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_logged_secret_fails_the_session(tmp_path: Path) -> None:
    result = run_inner(tmp_path, LEAKY_TEST)
    assert "2 passed" in result.stdout, result.stdout + result.stderr
    assert result.returncode == 1, result.stdout
    assert "CONFIGURED SECRETS FOUND IN LOGS" in result.stdout
    assert "TOKENS[read] in test_inner.py::test_logs_a_secret_by_mistake" in result.stdout
    # the report names where, never the secret itself
    assert "test-read-token" not in result.stdout.split("SECRETS FOUND")[1]


def test_a_clean_session_passes(tmp_path: Path) -> None:
    clean = LEAKY_TEST.split("def test_logs_a_secret_by_mistake")[0] + (
        "def test_clean():\n    logs.configure('info', 'json')\n"
        "    structlog.get_logger('clean').info('fine', token=TOKENS['admin'])\n"
    )
    result = run_inner(tmp_path, clean)
    assert result.returncode == 0, result.stdout + result.stderr
