"""Process plumbing of `serve` that needs no running service."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from dlrecon import runtime


def test_metrics_folders_of_dead_serves_are_removed() -> None:
    root = Path(tempfile.gettempdir())
    stale = root / "dlrecon-metrics-999999999-test"  # above any pid_max: never a live process
    live = root / f"dlrecon-metrics-{os.getpid()}-test"
    for folder in (stale, live):
        folder.mkdir(exist_ok=True)
        (folder / "counter_1.db").write_bytes(b"")
    try:
        runtime._remove_stale_metrics_dirs()
        assert not stale.exists()
        assert (live / "counter_1.db").exists()
    finally:
        for folder in (stale, live):
            for item in folder.glob("*"):
                item.unlink()
            if folder.exists():
                folder.rmdir()
