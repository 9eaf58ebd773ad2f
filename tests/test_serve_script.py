"""./scripts/serve.sh: the first start installs, every start after it is quick."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from tests.conftest import API_KEY, APP_SECRET, VERIFY_TOKEN
from tests.support.processes import ROOT, free_port

pytestmark = pytest.mark.e2e


def _start_and_time(tmp_path: Path) -> float:
    """Seconds from running the script to the server answering; the server is then stopped."""
    names = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k not in names}
    # Every secret given, and the database elsewhere: the checkout gets no files.
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path}/serve-script.db",
        MEDIA_DIR=str(tmp_path / "media"),
        WHATSAPP_APP_SECRET=APP_SECRET,
        WHATSAPP_VERIFY_TOKEN=VERIFY_TOKEN,
        WHATSAPP_ACCESS_TOKEN="token",
        API_KEYS=API_KEY,
        SESSION_SECRET="session-secret",
    )
    port = free_port()
    started = time.monotonic()
    with (tmp_path / "serve.log").open("a") as log:
        script = subprocess.Popen(
            ["bash", str(ROOT / "scripts" / "serve.sh"), "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        while True:
            assert script.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    return time.monotonic() - started
            except httpx.TransportError:
                pass
            assert time.monotonic() - started < 300, (tmp_path / "serve.log").read_text()
            time.sleep(0.05)
    finally:
        os.killpg(script.pid, signal.SIGTERM)
        script.wait(30)


def test_a_second_start_of_the_serve_script_takes_under_ten_seconds(tmp_path: Path) -> None:
    _start_and_time(tmp_path)  # installs, if pyproject.toml changed since the last install
    assert _start_and_time(tmp_path) < 10
