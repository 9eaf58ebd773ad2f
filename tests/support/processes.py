"""Run the real service (and its worker) as separate processes for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]


def wait_until(
    condition: Callable[[], bool], within: float, what: str, *, every: float = 0.05
) -> None:
    """Check `condition` every `every` seconds until it holds; fail the test, naming
    `what`, when `within` seconds pass first."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(every)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class ServiceProcess:
    """A `whatsapp-inbox` subcommand running in its own process; its output goes to a log."""

    args: list[str]
    env: dict[str, str]
    log_path: Path
    cwd: Path = ROOT
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self) -> ServiceProcess:
        """Start the process with the given environment added to this one's."""
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "app.cli", *self.args],
            cwd=self.cwd,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        return self

    def stop(self, timeout: float = 15) -> int:
        """Ask the process to shut down (SIGTERM) and wait for it."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode

    def kill(self) -> None:
        """End the process at once (SIGKILL), as a crash would."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def log(self) -> str:
        """Everything the process printed so far."""
        return self.log_path.read_text(errors="replace")


@contextmanager
def running_server(env: dict[str, str], log_path: Path) -> Iterator[str]:
    """The real service running for the length of a `with` block; yields its URL."""
    server, url = start_server(env, log_path)
    try:
        yield url
    finally:
        server.stop()


def start_server(
    env: dict[str, str],
    log_path: Path,
    timeout: float = 30,
    cwd: Path = ROOT,
    args: Sequence[str] = (),
) -> tuple[ServiceProcess, str]:
    """Start `whatsapp-inbox serve [args]` on a free port and wait until /healthz answers."""
    port = free_port()
    server = ServiceProcess(
        ["serve", "--host", "127.0.0.1", "--port", str(port), *args], env, log_path, cwd
    )
    server.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.process is not None
        if server.process.poll() is not None:
            raise RuntimeError(f"server exited early:\n{server.log()}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return server, url
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.kill()
    raise RuntimeError(f"server did not become healthy:\n{server.log()}")
