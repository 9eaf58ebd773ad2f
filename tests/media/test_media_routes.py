"""GET /api/whatsapp/media/{message_id}, with media on local disk and on S3."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
import respx

from app.config import Settings
from app.jobs import kinds
from app.media.service import media_url
from app.media.tasks import download_media
from app.models import Job, MediaState
from app.runtime import Runtime
from tests.media.conftest import GRAPH, MEDIA_HOST_URL, add_message, chunks_of

JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40


@pytest.fixture
def settings(media_settings: Settings) -> Settings:
    """Every test here runs with media on local disk and on S3, on both databases."""
    return media_settings


async def store_file(runtime: Runtime, session: Any, content: bytes, **fields: Any) -> str:
    """A message whose media is stored; returns its wamid."""
    key = fields.pop("media_path", "image/stored.jpg")
    await runtime.storage.save(key, chunks_of(content))
    message = await add_message(
        session,
        media_state=MediaState.STORED,
        media_path=key,
        media_size=len(content),
        **fields,
    )
    return message.message_id


async def test_stored_image_is_served_with_its_type_and_length(
    runtime: Runtime, session: Any, api: httpx.AsyncClient
) -> None:
    wamid = await store_file(runtime, session, JPEG, filename="photo.jpg")

    response = await api.get(f"/api/whatsapp/media/{wamid}")

    assert response.status_code == 200
    assert response.content == JPEG
    assert response.headers["content-type"] == "image/jpeg"
    assert response.headers["content-length"] == str(len(JPEG))
    assert response.headers["content-disposition"].startswith("inline")
    assert response.headers["x-content-type-options"] == "nosniff"


async def test_served_media_cannot_run_as_a_page_of_this_origin(
    runtime: Runtime, session: Any, api: httpx.AsyncClient
) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    wamid = await store_file(runtime, session, svg, mime_type="image/svg+xml")

    response = await api.get(f"/api/whatsapp/media/{wamid}")

    assert response.status_code == 200
    assert "sandbox" in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["content-disposition"].startswith("attachment")


async def test_document_is_served_as_an_attachment_with_its_file_name(
    runtime: Runtime, session: Any, api: httpx.AsyncClient
) -> None:
    wamid = await store_file(
        runtime,
        session,
        b"%PDF-1.7",
        media_path="document/invoice.pdf",
        message_type="document",
        mime_type="application/pdf",
        filename="Rechnung März.pdf",
    )

    response = await api.get(f"/api/whatsapp/media/{wamid}")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Rechnung M_rz.pdf\"; filename*=UTF-8''Rechnung%20M%C3%A4rz.pdf"
    )


async def test_downloaded_media_is_served_at_its_media_url(
    runtime: Runtime, session: Any, api: httpx.AsyncClient
) -> None:
    message = await add_message(session, message_id="wamid.HBgM+ab/cd==", media_id="4242")
    with respx.mock(assert_all_called=True) as graph:
        url = f"{MEDIA_HOST_URL}4242"
        graph.get(f"{GRAPH}/4242").mock(
            return_value=httpx.Response(
                200,
                json={
                    "url": url,
                    "mime_type": "image/jpeg",
                    "sha256": hashlib.sha256(JPEG).hexdigest(),
                    "file_size": str(len(JPEG)),
                    "id": "4242",
                },
            )
        )
        graph.get(url).mock(return_value=httpx.Response(200, content=JPEG))
        job = Job(
            kind=kinds.MEDIA_DOWNLOAD,
            payload={"message_id": message.message_id},
            attempts=1,
            max_attempts=8,
        )
        await download_media(runtime, job)

    response = await api.get(media_url(message.message_id))

    assert response.status_code == 200
    assert response.content == JPEG


async def test_pending_media_is_404_with_its_state(session: Any, api: httpx.AsyncClient) -> None:
    message = await add_message(session)

    response = await api.get(f"/api/whatsapp/media/{message.message_id}")

    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "media_not_stored"
    assert body["media_state"] == "pending"
    assert "not stored yet" in body["detail"]


async def test_failed_media_is_404_with_the_reason(session: Any, api: httpx.AsyncClient) -> None:
    message = await add_message(
        session,
        media_state=MediaState.FAILED,
        media_error="the image file is larger than Meta's limit of 5242880 bytes",
    )

    response = await api.get(f"/api/whatsapp/media/{message.message_id}")

    assert response.status_code == 404
    body = response.json()
    assert body["media_state"] == "failed"
    assert body["media_error"] == "the image file is larger than Meta's limit of 5242880 bytes"


async def test_unknown_message_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/whatsapp/media/wamid.unknown")

    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


async def test_message_without_media_is_404(session: Any, api: httpx.AsyncClient) -> None:
    message = await add_message(
        session, message_type="text", media_id=None, mime_type=None, media_state=None, raw={}
    )

    response = await api.get(f"/api/whatsapp/media/{message.message_id}")

    assert response.status_code == 404
    assert "has no media" in response.json()["detail"]


async def test_stored_file_missing_from_storage_is_404(
    session: Any, api: httpx.AsyncClient
) -> None:
    message = await add_message(
        session, media_state=MediaState.STORED, media_path="image/vanished.jpg"
    )

    response = await api.get(f"/api/whatsapp/media/{message.message_id}")

    assert response.status_code == 404
    assert "missing" in response.json()["detail"]


async def test_media_needs_the_api_key(
    runtime: Runtime, session: Any, client: httpx.AsyncClient
) -> None:
    wamid = await store_file(runtime, session, JPEG)

    response = await client.get(f"/api/whatsapp/media/{wamid}")

    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized"
    assert response.content != JPEG
