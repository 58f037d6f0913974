"""Fault injection against a real `dlrecon serve` under load (`tests.support.load`)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.service import Service


@pytest.fixture
def fault_workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="dlrecon-fault-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def services() -> Iterator[list[Service]]:
    """Services a test started; killed (with their children) whatever happens."""
    import psutil

    started: list[Service] = []
    yield started
    for service in started:
        if service.proc is not None and service.proc.poll() is None:
            children = psutil.Process(service.proc.pid).children(recursive=True)
            service.proc.kill()
            service.proc.wait(10)
            for child in children:
                if child.is_running():
                    child.kill()
        service.close_log()
