"""Acceptance tests run the real `dlrecon` process and talk to it over HTTP
(`tests.support.service`)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.service import CONFIG, Service


@pytest.fixture
def workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dlrecon-accept-"))
    (path / "dlrecon.toml").write_text(CONFIG)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def services() -> Iterator[list[Service]]:
    """Services a test started; killed and their logs closed whatever happens."""
    started: list[Service] = []
    yield started
    for service in started:
        if service.proc is not None and service.proc.poll() is None:
            service.proc.kill()
            service.proc.wait(10)
        service.close_log()
