"""A real PgBouncer in transaction pooling mode, in front of the tests' PostgreSQL.

    with PgBouncer.start() as bouncer:
        url = bouncer.url("some_database")   # postgresql+asyncpg://…@127.0.0.1:<port>/…

It uses Debian's `pgbouncer` package (scripts/test.sh installs it when run as root).
PgBouncer refuses to run as root, so as root it runs as the `postgres` user, with its
files in a directory of its own that user can read.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from sqlalchemy.engine import make_url

from tests.support.databases import IN_CI, POSTGRES_ADMIN_URL
from tests.support.processes import free_port

EXECUTABLE = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
UNPRIVILEGED_USER = "postgres"
# Few server connections, so that concurrent clients really take turns on each one.
SERVER_CONNECTIONS = 2


def require_pgbouncer() -> None:
    """Skip a test when PgBouncer is not installed; under CI, fail it instead."""
    import pytest

    if not Path(EXECUTABLE).exists():
        message = "pgbouncer is not installed (apt-get install pgbouncer)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)


def _config(port: int, directory: Path, user: str) -> str:
    upstream = make_url(POSTGRES_ADMIN_URL)
    return f"""\
[databases]
* = host={upstream.host or "127.0.0.1"} port={upstream.port or 5432}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {directory / "userlist.txt"}
pool_mode = transaction
default_pool_size = {SERVER_CONNECTIONS}
max_client_conn = 500
logfile = {directory / "pgbouncer.log"}
pidfile = {directory / "pgbouncer.pid"}
admin_users = {user}
"""


@dataclass
class PgBouncer:
    """A running PgBouncer; stop it with `stop()` or by leaving a `with` block."""

    port: int
    directory: Path
    process: subprocess.Popen[bytes]

    @classmethod
    def start(cls, timeout: float = 15) -> PgBouncer:
        """Start PgBouncer on a free port and wait until it accepts connections."""
        require_pgbouncer()
        user = make_url(POSTGRES_ADMIN_URL).username or UNPRIVILEGED_USER
        port = free_port()
        directory = Path(tempfile.mkdtemp(prefix="pgbouncer-"))
        (directory / "userlist.txt").write_text(f'"{user}" ""\n')
        (directory / "pgbouncer.ini").write_text(_config(port, directory, user))
        uid: int | None = None
        gid: int | None = None
        if os.geteuid() == 0:
            account = pwd.getpwnam(UNPRIVILEGED_USER)
            uid, gid = account.pw_uid, account.pw_gid
            for path in (directory, *directory.iterdir()):
                os.chown(path, uid, gid)
        process = subprocess.Popen(
            [EXECUTABLE, str(directory / "pgbouncer.ini")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            user=uid,
            group=gid,
            extra_groups=[] if gid is not None else None,
        )
        bouncer = cls(port, directory, process)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                log = bouncer.log()
                bouncer.stop()
                raise RuntimeError(f"pgbouncer exited early:\n{log}")
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return bouncer
            except OSError:
                time.sleep(0.05)
        bouncer.stop()
        raise RuntimeError("pgbouncer did not start listening")

    def url(self, database: str) -> str:
        """The asyncpg URL of `database` through this PgBouncer."""
        upstream = make_url(POSTGRES_ADMIN_URL)
        through = upstream.set(
            drivername="postgresql+asyncpg", host="127.0.0.1", port=self.port, database=database
        )
        return through.render_as_string(hide_password=False)

    def log(self) -> str:
        """What PgBouncer logged so far."""
        path = self.directory / "pgbouncer.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        """Shut PgBouncer down (SIGINT: at once, closing every connection) and clean up."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> PgBouncer:
        return self

    def __exit__(
        self,
        _type: type[BaseException] | None,
        _value: BaseException | None,
        _traceback: TracebackType | None,
    ) -> None:
        self.stop()
