"""The embedded Postgres's paths (starting it is covered by the acceptance tests)."""

from pathlib import Path

from receiver.db.embedded import socket_dir_for


def test_embedded_socket_dir_stays_short() -> None:
    short = Path("/var/lib/dlrecon")
    assert socket_dir_for(short) == short / "run"
    deep = Path("/tmp") / ("very-long-folder-name-" * 8)
    socket = socket_dir_for(deep) / ".s.PGSQL.5432"
    assert len(str(socket).encode()) <= 107
    assert socket_dir_for(deep) == socket_dir_for(deep)  # stable across starts
