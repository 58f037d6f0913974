"""Process plumbing of `serve` that needs no running service."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

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


def test_an_operator_metrics_folder_is_emptied_at_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "counter_123.db").write_bytes(b"old")
    (tmp_path / "keep.txt").write_text("not ours")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    assert runtime._clear_given_metrics_dir()
    assert not (tmp_path / "counter_123.db").exists()
    assert (tmp_path / "keep.txt").exists()
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR")
    assert not runtime._clear_given_metrics_dir()


def _exits_with_one() -> None:
    raise SystemExit(1)


def test_a_child_that_fails_its_first_start_stops_the_supervisor() -> None:
    """What `serve` does when a worker cannot start (a port taken after serve's own check):
    it stops with a failure instead of starting the child again and again."""
    import signal

    before = signal.getsignal(signal.SIGTERM)
    child = runtime._Child("bad", _exits_with_one, ())
    with runtime._shared_metrics_dir():  # as serve runs it
        assert runtime._supervise([child], kill_after=5) is True
    assert child.starts == 1
    assert signal.getsignal(signal.SIGTERM) is before  # its signal handlers are undone
