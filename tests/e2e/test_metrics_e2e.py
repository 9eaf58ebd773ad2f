"""/metrics of `serve --workers 2`: every scrape counts what both web processes did."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.conftest import API_KEY
from tests.support.deliveries import deliver_concurrently
from tests.support.payloads import encode, inbound, text_message
from tests.support.processes import start_server

pytestmark = pytest.mark.e2e

DELIVERIES = 20
SCRAPES = 8


def _stored(url: str) -> float:
    """whatsapp_webhook_deliveries_total{outcome="stored"}, scraped on a new connection."""
    text = httpx.get(
        f"{url}/metrics", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=10
    ).text
    found = re.search(r'^whatsapp_webhook_deliveries_total\{outcome="stored"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_every_scrape_of_two_web_processes_counts_all_their_deliveries(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    server, url = start_server(service_env, tmp_path / "server.log", args=["--workers", "2"])
    try:
        bodies = [encode(inbound(text_message(f"hello {n}"))) for n in range(DELIVERIES)]
        # A connection per delivery: the kernel hands them to either process.
        assert set(deliver_concurrently(url, bodies, copies=1, senders=4)) == {200}
        assert [_stored(url) for _ in range(SCRAPES)] == [DELIVERIES] * SCRAPES
    finally:
        server.stop()


def test_a_given_metrics_directory_is_emptied_before_the_processes_start(
    service_env: dict[str, str], tmp_path: Path
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    # Counts an earlier run left behind.
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from app.metrics.registry import WEBHOOK_DELIVERIES;"
            "WEBHOOK_DELIVERIES.labels('stored').inc(1000)",
        ],
        env={**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)},
        check=True,
    )
    env = {**service_env, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    server, url = start_server(env, tmp_path / "server.log", args=["--workers", "2"])
    try:
        assert _stored(url) == 0
        body = encode(inbound(text_message("after the restart")))
        assert deliver_concurrently(url, [body], copies=1, senders=1) == [200]
        assert _stored(url) == 1
    finally:
        server.stop()
