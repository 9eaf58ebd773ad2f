"""A throwaway PostgreSQL cluster that a test starts, stops and restarts at will.

The shared server of the test run must never go down, so tests that need an outage (or
a server to put a pooler in front of) get a cluster of their own: `initdb` into a fresh
directory, `pg_ctl` on a free port, everything removed afterwards. It takes about a
second to create and a fraction of one to start.

The binaries are PG_BIN when set, else the newest Debian install under
/usr/lib/postgresql/, else whatever `initdb` is on PATH. PostgreSQL refuses to run as
root, so as root the cluster belongs to the `postgres` user and every command runs
through `runuser`.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.support.databases import IN_CI
from tests.support.processes import free_port

CLUSTER_USER = "postgres"


def _version(directory: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in directory.name.split(".") if part.isdigit())


def postgres_bin() -> Path | None:
    """The directory holding initdb and pg_ctl, or None when PostgreSQL is not installed."""
    if configured := os.environ.get("PG_BIN"):
        return Path(configured)
    installs = [p for p in Path("/usr/lib/postgresql").glob("*") if (p / "bin/initdb").exists()]
    if installs:
        return max(installs, key=_version) / "bin"
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path else None


def require_postgres_bin() -> Path:
    """The binaries' directory; skips the test without them (under CI, fails it)."""
    import pytest

    found = postgres_bin()
    if found is None:
        message = "PostgreSQL's initdb and pg_ctl are not installed (or set PG_BIN)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    return found


@dataclass
class PostgresCluster:
    """A cluster in `directory` serving 127.0.0.1:`port` and a socket in `directory`."""

    bin_dir: Path
    directory: Path
    port: int

    @property
    def data(self) -> Path:
        """The data directory."""
        return self.directory / "data"

    @property
    def log_path(self) -> Path:
        """The server's own log."""
        return self.directory / "server.log"

    @property
    def url(self) -> str:
        """A libpq-style URL of the `postgres` database as the `postgres` superuser."""
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", CLUSTER_USER, "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            log = self.log_path.read_text() if self.log_path.exists() else ""
            raise RuntimeError(
                f"{' '.join(args[:2])} failed:\n{result.stdout}{result.stderr}\n{log}"
            )

    def init(self) -> None:
        """Create the cluster: trust authentication, superuser `postgres`."""
        self._run(
            "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "--no-sync",
            "-E", "UTF8", "--locale=C",
        )  # fmt: skip

    def start(self) -> None:
        """Start the server and wait until it accepts connections."""
        options = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
            # The machine does not crash under a test, only the server: skipping fsync
            # loses nothing. synchronous_commit stays on, or a crash would lose commits.
            " -c fsync=off -c full_page_writes=off"
        )
        self._run(
            "pg_ctl", "start", "-D", str(self.data), "-l", str(self.log_path), "-w", "-t", "30",
            "-o", options,
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """Stop the server; mode `immediate` is a crash: connections drop mid-stream."""
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "30")

    def running(self) -> bool:
        """True while the server's postmaster runs."""
        return (self.data / "postmaster.pid").exists()


@contextmanager
def throwaway_cluster() -> Iterator[PostgresCluster]:
    """A new, started cluster for the length of a `with` block; gone afterwards.

    Skips the test without PostgreSQL's binaries (under CI, fails it).
    """
    bin_dir = require_postgres_bin()
    # Under /tmp, not pytest's tmp_path: a Unix socket's path must stay short.
    directory = Path(tempfile.mkdtemp(prefix="pgtest-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam(CLUSTER_USER)
        os.chown(directory, owner.pw_uid, owner.pw_gid)
    cluster = PostgresCluster(bin_dir, directory, free_port())
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        try:
            if cluster.running():
                cluster.stop("immediate")
        finally:
            shutil.rmtree(directory, ignore_errors=True)
