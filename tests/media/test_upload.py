"""POST /api/whatsapp/media/: a multipart upload passed on to Meta."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
import respx

from app.media import upload as upload_module
from app.media.limits import MB
from tests.conftest import ACCESS_TOKEN, PHONE_NUMBER_ID
from tests.media.conftest import GRAPH

UPLOAD_URL = f"{GRAPH}/{PHONE_NUMBER_ID}/media"
PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 100


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    """Meta's Graph API, mocked; any other outgoing request fails the test."""
    with respx.mock(assert_all_called=False) as router:
        yield router


def meta_accepts(graph: respx.MockRouter, media_id: str = "1037543291543636") -> respx.Route:
    return graph.post(UPLOAD_URL).mock(return_value=httpx.Response(200, json={"id": media_id}))


async def test_upload_is_passed_to_meta_and_answers_the_media_id(
    api: httpx.AsyncClient, graph: respx.MockRouter
) -> None:
    route = meta_accepts(graph)

    response = await api.post(
        "/api/whatsapp/media/", files={"file": ("logo.png", PNG, "image/png")}
    )

    assert response.status_code == 201
    assert response.json() == {
        "media_id": "1037543291543636",
        "media_type": "image",
        "mime_type": "image/png",
        "file_size": len(PNG),
        "filename": "logo.png",
    }
    sent = route.calls.last.request
    assert sent.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"
    body = sent.content
    assert PNG in body
    assert b'name="messaging_product"\r\n\r\nwhatsapp' in body
    assert b'name="type"\r\n\r\nimage/png' in body
    assert b'filename="logo.png"' in body


async def test_type_is_taken_from_the_file_name_when_the_part_has_none(
    api: httpx.AsyncClient, graph: respx.MockRouter
) -> None:
    meta_accepts(graph)

    response = await api.post(
        "/api/whatsapp/media/",
        files={"file": ("terms.pdf", b"%PDF-1.7", "application/octet-stream")},
    )

    assert response.status_code == 201
    assert response.json()["media_type"] == "document"
    assert response.json()["mime_type"] == "application/pdf"


async def test_file_over_the_limit_for_its_type_is_413(
    api: httpx.AsyncClient, graph: respx.MockRouter
) -> None:
    route = meta_accepts(graph)
    too_big = b"\xff\xd8" + b"\0" * (5 * MB - 1)

    response = await api.post(
        "/api/whatsapp/media/", files={"file": ("big.jpg", too_big, "image/jpeg")}
    )

    assert response.status_code == 413
    body = response.json()
    assert body["error"] == "payload_too_large"
    assert "limit of 5242880 bytes" in body["detail"]
    assert route.call_count == 0


async def test_body_over_every_limit_is_refused_while_it_arrives(
    api: httpx.AsyncClient, graph: respx.MockRouter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload_module, "MAX_UPLOAD_BODY_BYTES", 64 * 1024)
    route = meta_accepts(graph)
    sent = 0

    async def endless_body() -> AsyncIterator[bytes]:
        nonlocal sent
        yield b'--b\r\nContent-Disposition: form-data; name="file"; filename="x.mp4"\r\n'
        yield b"Content-Type: video/mp4\r\n\r\n"
        for _ in range(1000):
            sent += 16 * 1024
            yield b"\0" * (16 * 1024)

    response = await api.post(
        "/api/whatsapp/media/",
        content=endless_body(),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )

    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert sent < 200 * 1024
    assert route.call_count == 0


async def test_declared_length_over_every_limit_is_refused_before_reading(
    api: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(upload_module, "MAX_UPLOAD_BODY_BYTES", 1024)

    response = await api.post(
        "/api/whatsapp/media/", files={"file": ("clip.mp4", b"\0" * 4096, "video/mp4")}
    )

    assert response.status_code == 413


async def test_form_without_a_file_is_422(api: httpx.AsyncClient, graph: respx.MockRouter) -> None:
    route = meta_accepts(graph)

    response = await api.post(
        "/api/whatsapp/media/",
        data={"caption": "no file here"},
        files={"other": ("x.png", PNG, "image/png")},
    )

    assert response.status_code == 422
    assert "no file in the field 'file'" in response.json()["detail"]
    assert route.call_count == 0


async def test_body_that_is_not_multipart_is_422(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/whatsapp/media/", json={"file": "aGVsbG8="})

    assert response.status_code == 422
    assert "multipart/form-data" in response.json()["detail"]


async def test_broken_multipart_is_400(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/whatsapp/media/",
        content=b"--b\r\nnot a header line\r\n\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )

    assert response.status_code == 400
    assert response.json()["error"] == "bad_request"


async def test_file_type_meta_does_not_take_is_415(
    api: httpx.AsyncClient, graph: respx.MockRouter
) -> None:
    route = meta_accepts(graph)

    response = await api.post(
        "/api/whatsapp/media/", files={"file": ("tool.exe", b"MZ", "application/x-msdownload")}
    )

    assert response.status_code == 415
    assert "application/x-msdownload" in response.json()["detail"]
    assert route.call_count == 0


async def test_meta_failure_is_502_with_metas_code_and_message(
    api: httpx.AsyncClient, graph: respx.MockRouter
) -> None:
    graph.post(UPLOAD_URL).mock(
        return_value=httpx.Response(
            500,
            json={
                "error": {
                    "message": "An unknown error occurred",
                    "type": "OAuthException",
                    "code": 131000,
                    "error_data": {"details": "Something went wrong"},
                }
            },
        )
    )

    response = await api.post(
        "/api/whatsapp/media/", files={"file": ("logo.png", PNG, "image/png")}
    )

    assert response.status_code == 502
    body = response.json()
    assert body["error"] == "meta_error"
    assert body["meta"]["code"] == 131000
    assert body["meta"]["message"] == "An unknown error occurred"
    assert ACCESS_TOKEN not in response.text


async def test_meta_refusing_the_file_is_400_with_metas_code(
    api: httpx.AsyncClient, graph: respx.MockRouter
) -> None:
    graph.post(UPLOAD_URL).mock(
        return_value=httpx.Response(
            400,
            json={
                "error": {
                    "message": "(#131053) Media upload error",
                    "type": "OAuthException",
                    "code": 131053,
                    "error_data": {"details": "Unsupported file type"},
                }
            },
        )
    )

    response = await api.post(
        "/api/whatsapp/media/", files={"file": ("logo.png", PNG, "image/png")}
    )

    assert response.status_code == 400
    assert response.json()["meta"]["code"] == 131053
    assert response.json()["meta"]["details"] == "Unsupported file type"


@pytest.mark.parametrize("from_", ["", "x" * 65, "sales\x00"])
async def test_a_from_that_is_not_a_short_text_is_400(
    api: httpx.AsyncClient, graph: respx.MockRouter, from_: str
) -> None:
    route = meta_accepts(graph)

    response = await api.post(
        "/api/whatsapp/media/",
        data={"from": from_},
        files={"file": ("logo.png", PNG, "image/png")},
    )

    assert response.status_code == 400
    assert response.json()["detail"].startswith("from: ")
    assert not route.called


async def test_upload_needs_the_api_key(client: httpx.AsyncClient, graph: respx.MockRouter) -> None:
    route = meta_accepts(graph)

    response = await client.post(
        "/api/whatsapp/media/", files={"file": ("logo.png", PNG, "image/png")}
    )

    assert response.status_code == 401
    assert route.call_count == 0
