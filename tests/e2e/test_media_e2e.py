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
    signed_headers,
)
from tests.support.fake_graph import MEDIA_DOWNLOAD, FakeGraph
from tests.support.payloads import WEBHOOK_URL, encode, image_message, inbound
from tests.support.processes import running_server
from tests.support.s3 import create_bucket, s3_server, s3_settings

pytestmark = pytest.mark.e2e

# A small but real JPEG header and body; the bytes only have to come back unchanged.
JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 300 + b"\xff\xd9"


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
def server(service_env: dict[str, str], media_env: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """The real service with its worker, pointed at the fake Graph API; yields its URL."""
    assert service_env["WHATSAPP_ACCESS_TOKEN"] == ACCESS_TOKEN
    with running_server({**service_env, **media_env}, tmp_path / "server.log") as url:
        yield url


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
