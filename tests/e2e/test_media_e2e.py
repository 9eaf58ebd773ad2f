"""End to end: an image webhook ends with the file served by GET /api/whatsapp/media/{id}.

The real `serve` command runs (worker inside the web process) against a fresh database
and the fake Graph API; media goes to a local directory or to S3 (moto's server).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import (
    ACCESS_TOKEN,
    API_KEY,
    APP_SECRET,
    PHONE_NUMBER_ID,
    VERIFY_TOKEN,
    signed_headers,
)
from tests.support.databases import IN_CI, TestDatabase, create_database, postgres_available
from tests.support.fake_graph import MEDIA_DOWNLOAD, FakeGraph
from tests.support.payloads import WEBHOOK_URL, encode, image_message, inbound
from tests.support.processes import ServiceProcess, start_server
from tests.support.s3 import create_bucket, s3_server, s3_settings

pytestmark = pytest.mark.e2e

# A small but real JPEG header and body; the bytes only have to come back unchanged.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 300 + b"\xff\xd9"


@pytest.fixture
def fresh_database(backend: str, tmp_path: Path) -> Iterator[TestDatabase]:
    """A database of its own, so the server's worker sees only this test's jobs."""
    if backend == "postgresql" and not postgres_available():
        if IN_CI:
            pytest.fail("PostgreSQL is not reachable at 127.0.0.1:5432, and CI needs it")
        pytest.skip("PostgreSQL is not reachable")
    database = create_database(backend, tmp_path)
    yield database
    database.drop()


@pytest.fixture(params=["local", "s3"])
def media_env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, str]]:
    """Where the server keeps media: a local directory, or a bucket on moto's server."""
    if request.param == "local":
        yield {"MEDIA_STORAGE": "local", "MEDIA_DIR": str(tmp_path / "media")}
        return
    with s3_server() as endpoint:
        overrides = s3_settings(endpoint, create_bucket(endpoint))
        yield {name.upper(): str(value) for name, value in overrides.items()}


@pytest.fixture
def server(
    fresh_database: TestDatabase,
    fake_graph: FakeGraph,
    media_env: dict[str, str],
    tmp_path: Path,
) -> Iterator[str]:
    """The real service with its worker, pointed at the fake Graph API; yields its URL."""
    env = {
        "ENVIRONMENT": "test",
        "DATABASE_URL": fresh_database.url,
        "WHATSAPP_APP_SECRET": APP_SECRET,
        "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
        "WHATSAPP_PHONE_NUMBER_ID": PHONE_NUMBER_ID,
        "API_KEYS": API_KEY,
        "WORKER_ENABLED": "true",
        "WORKER_POLL_SECONDS": "0.2",
        **media_env,
        **fake_graph.env(),
    }
    assert env["WHATSAPP_ACCESS_TOKEN"] == ACCESS_TOKEN
    process: ServiceProcess
    process, url = start_server(env, tmp_path / "server.log")
    try:
        yield url
    finally:
        process.stop()


def test_image_webhook_ends_with_the_file_served(server: str, fake_graph: FakeGraph) -> None:
    media = fake_graph.add_media(JPEG, "image/jpeg")
    message = image_message(media.media_id, caption="the broken part")
    body = encode(inbound(message))

    with httpx.Client(base_url=server, timeout=10) as http:
        delivered = http.post(WEBHOOK_URL, content=body, headers=signed_headers(body))
        assert delivered.status_code == 200

        headers = {"Authorization": f"Bearer {API_KEY}"}
        deadline = time.monotonic() + 30
        response = http.get(f"/api/whatsapp/media/{message['id']}", headers=headers)
        while response.status_code == 404 and time.monotonic() < deadline:
            assert response.json()["media_state"] == "pending", response.text
            time.sleep(0.2)
            response = http.get(f"/api/whatsapp/media/{message['id']}", headers=headers)

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/jpeg"
    assert response.content == JPEG
    downloads = fake_graph.requests(MEDIA_DOWNLOAD)
    assert len(downloads) == 1
    assert downloads[0].headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
