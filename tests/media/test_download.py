"""The MEDIA_DOWNLOAD job against a mocked Graph API (respx): its handler, and the
outcome on the message once a worker has run the job to its end.
"""

from __future__ import annotations

import base64
import hashlib
import tracemalloc
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx
from sqlalchemy import update

from app.db import utcnow
from app.jobs import kinds
from app.jobs.exceptions import PermanentJobError
from app.jobs.repository import LEASE_LOST_ERROR, JobRepository
from app.jobs.worker import Worker
from app.media.exceptions import ChecksumMismatch
from app.media.limits import MB
from app.media.tasks import CHECKSUM_ATTEMPTS, download_media
from app.messages.repository import MessageRepository
from app.models import Job, JobState, MediaState, Message
from app.outbound.graph import GraphAPIError
from app.runtime import Runtime
from tests.conftest import ACCESS_TOKEN
from tests.media.conftest import GRAPH, MEDIA_HOST_URL, add_message

JPEG = b"\xff\xd8\xff\xe0" + b"a tiny picture" * 10


@pytest.fixture
def graph() -> Iterator[respx.MockRouter]:
    """Meta's Graph API and media host, mocked; any other request fails the test."""
    with respx.mock(assert_all_called=False) as router:
        yield router


def serve_media(
    graph: respx.MockRouter,
    media_id: str,
    content: bytes | None = None,
    *,
    stream: Any = None,
    mime_type: str = "image/jpeg",
    sha256: str | None = None,
    file_size: int | None = None,
    url: str | None = None,
) -> respx.Route:
    """Answer GET /{media_id} with the file's facts, and serve the file at its URL."""
    url = url or f"{MEDIA_HOST_URL}{media_id}"
    info: dict[str, Any] = {"messaging_product": "whatsapp", "id": media_id, "url": url}
    info["mime_type"] = mime_type
    if content is not None:
        info["sha256"] = sha256 or hashlib.sha256(content).hexdigest()
        info["file_size"] = str(file_size if file_size is not None else len(content))
    elif sha256 is not None:
        info["sha256"] = sha256
    graph.get(f"{GRAPH}/{media_id}").mock(return_value=httpx.Response(200, json=info))
    body = content if content is not None else stream
    return graph.get(url).mock(
        side_effect=lambda _request: httpx.Response(
            200, content=body() if callable(body) else body, headers={"content-type": mime_type}
        )
    )


def job_for(message: Message, *, attempts: int = 1, max_attempts: int = 8) -> Job:
    return Job(
        kind=kinds.MEDIA_DOWNLOAD,
        payload={"message_id": message.message_id},
        attempts=attempts,
        max_attempts=max_attempts,
    )


async def run_job(
    runtime: Runtime, message: Message, *, max_attempts: int = 8, runs: int = 1
) -> Job:
    """Enqueue the message's download, let a worker run it `runs` times; the stored job."""
    async with runtime.sessions() as session:
        queued = await JobRepository(session).enqueue(
            kinds.MEDIA_DOWNLOAD, {"message_id": message.message_id}, max_attempts=max_attempts
        )
        await session.commit()
    # No backoff: a retried job is due again at once.
    settings = runtime.settings.model_copy(update={"job_backoff_base_seconds": 0.0})
    worker = Worker(replace(runtime, settings=settings))
    for _ in range(runs):
        assert await worker.run_once()
    async with runtime.sessions() as session:
        job = await JobRepository(session).get_by_id(queued.id)
    assert job is not None
    return job


async def reload(runtime: Runtime, message_id: str) -> Message:
    async with runtime.sessions() as session:
        message = await MessageRepository(session).get_by_message_id(message_id)
    assert message is not None
    return message


async def stored_bytes(runtime: Runtime, key: str) -> bytes:
    stored = await runtime.storage.open(key)
    return b"".join([chunk async for chunk in stored.chunks])


def files_under(settings_media_dir: str) -> list[Path]:
    return [p for p in Path(settings_media_dir).rglob("*") if p.is_file()]


async def test_image_is_stored_and_recorded_on_the_message(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(session, media_id="111")
    download = serve_media(graph, "111", JPEG)

    result = await download_media(runtime, job_for(message))

    stored = await reload(runtime, message.message_id)
    assert stored.media_state == MediaState.STORED
    assert stored.media_error is None
    assert stored.media_size == len(JPEG)
    assert stored.media_sha256 == hashlib.sha256(JPEG).hexdigest()
    assert stored.mime_type == "image/jpeg"
    assert stored.filename == f"{message.message_id}.jpg"
    assert stored.media_url == f"/api/whatsapp/media/{message.message_id}"
    assert stored.media_path is not None and stored.media_path.endswith(".jpg")
    assert await stored_bytes(runtime, stored.media_path) == JPEG
    assert result == {"path": stored.media_path, "size": len(JPEG), "sha256": stored.media_sha256}
    assert download.calls.last.request.headers["authorization"] == f"Bearer {ACCESS_TOKEN}"


async def test_document_keeps_the_customers_file_name(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(
        session,
        message_type="document",
        media_id="222",
        mime_type="application/pdf",
        filename="Invoice March.pdf",
    )
    serve_media(graph, "222", b"%PDF-1.7 ...", mime_type="application/pdf")

    await download_media(runtime, job_for(message))

    stored = await reload(runtime, message.message_id)
    assert stored.media_state == MediaState.STORED
    assert stored.filename == "Invoice March.pdf"
    assert stored.mime_type == "application/pdf"


async def test_voice_note_mime_type_loses_its_codec_parameter(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(
        session, message_type="audio", media_id="333", mime_type="audio/ogg; codecs=opus"
    )
    serve_media(graph, "333", b"OggS voice", mime_type="audio/ogg; codecs=opus")

    await download_media(runtime, job_for(message))

    stored = await reload(runtime, message.message_id)
    assert stored.mime_type == "audio/ogg"
    assert stored.filename == f"{message.message_id}.ogg"


async def test_webhook_base64_sha256_is_accepted_when_meta_gives_none(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    webhook_sha = base64.b64encode(hashlib.sha256(JPEG).digest()).decode()
    message = await add_message(
        session,
        media_id="444",
        raw={"type": "image", "image": {"id": "444", "sha256": webhook_sha}},
    )
    serve_media(graph, "444", stream=JPEG)

    await download_media(runtime, job_for(message))

    assert (await reload(runtime, message.message_id)).media_state == MediaState.STORED


async def test_webhook_base64_sha256_that_differs_is_a_mismatch(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    other_sha = base64.b64encode(hashlib.sha256(b"another file").digest()).decode()
    message = await add_message(
        session, media_id="445", raw={"type": "image", "image": {"id": "445", "sha256": other_sha}}
    )
    serve_media(graph, "445", stream=JPEG)

    with pytest.raises(ChecksumMismatch):
        await download_media(runtime, job_for(message))


async def test_rerun_after_success_leaves_the_file_alone(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(session, media_id="555")
    download = serve_media(graph, "555", JPEG)
    await download_media(runtime, job_for(message))

    result = await download_media(runtime, job_for(message, attempts=2))

    assert result == {"skipped": "already stored"}
    assert download.call_count == 1


async def test_rerun_after_a_crash_overwrites_the_same_key(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(session, media_id="556")
    serve_media(graph, "556", JPEG)
    first = await download_media(runtime, job_for(message))
    # As if the worker died before recording: the message still says pending.
    async with runtime.sessions() as db, db.begin():
        row = await MessageRepository(db).get_by_message_id(message.message_id)
        assert row is not None
        row.media_state = MediaState.PENDING

    second = await download_media(runtime, job_for(message, attempts=2))

    assert second == first
    assert len(files_under(runtime.settings.media_dir)) == 1


async def test_file_declared_over_the_limit_fails_without_downloading(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(session, media_id="666")
    download = serve_media(graph, "666", JPEG, file_size=5 * MB + 1)

    job = await run_job(runtime, message)

    assert (job.state, job.attempts) == (JobState.DEAD, 1)
    assert "limit of 5242880 bytes" in (job.last_error or "")
    stored = await reload(runtime, message.message_id)
    assert stored.media_state == MediaState.FAILED
    assert "over its limit of 5242880 bytes" in (stored.media_error or "")
    assert download.call_count == 0


async def test_file_streaming_past_the_limit_is_cut_off_and_not_kept(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    async def endless() -> AsyncIterator[bytes]:
        for _ in range(6 * 16):
            yield b"\0" * (64 * 1024)

    message = await add_message(session, media_id="777")
    serve_media(graph, "777", stream=endless)

    job = await run_job(runtime, message)

    assert (job.state, job.attempts) == (JobState.DEAD, 1)
    assert "larger than Meta's limit" in (job.last_error or "")
    stored = await reload(runtime, message.message_id)
    assert stored.media_state == MediaState.FAILED
    assert "larger than Meta's limit of 5242880 bytes" in (stored.media_error or "")
    assert files_under(runtime.settings.media_dir) == []


async def test_static_sticker_over_100_kb_is_refused(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(
        session,
        message_type="sticker",
        media_id="888",
        mime_type="image/webp",
        raw={"type": "sticker", "sticker": {"id": "888", "animated": False}},
    )
    serve_media(graph, "888", b"W" * 150 * 1024, mime_type="image/webp")

    with pytest.raises(PermanentJobError, match="102400"):
        await download_media(runtime, job_for(message))


async def test_animated_sticker_of_150_kb_is_stored(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(
        session,
        message_type="sticker",
        media_id="889",
        mime_type="image/webp",
        raw={"type": "sticker", "sticker": {"id": "889", "animated": True}},
    )
    serve_media(graph, "889", b"W" * 150 * 1024, mime_type="image/webp")

    await download_media(runtime, job_for(message))

    assert (await reload(runtime, message.message_id)).media_state == MediaState.STORED


async def test_checksum_mismatch_is_retried_and_keeps_nothing(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(session, media_id="999")
    serve_media(graph, "999", JPEG, sha256="0" * 64)

    with pytest.raises(ChecksumMismatch):
        await download_media(runtime, job_for(message, attempts=1))

    stored = await reload(runtime, message.message_id)
    assert stored.media_state == MediaState.PENDING
    assert files_under(runtime.settings.media_dir) == []


async def test_checksum_mismatch_that_persists_fails_the_media(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(session, media_id="998")
    serve_media(graph, "998", JPEG, sha256="0" * 64)

    job = await run_job(runtime, message, max_attempts=8, runs=CHECKSUM_ATTEMPTS)

    assert (job.state, job.attempts) == (JobState.DEAD, CHECKSUM_ATTEMPTS)
    assert (job.last_error or "").startswith("the downloaded image file does not match")
    stored = await reload(runtime, message.message_id)
    assert stored.media_state == MediaState.FAILED
    assert "does not match Meta's sha256" in (stored.media_error or "")


async def test_retryable_meta_error_leaves_the_media_pending(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(session, media_id="1010")
    graph.get(f"{GRAPH}/1010").mock(
        return_value=httpx.Response(
            503, json={"error": {"message": "Service temporarily unavailable", "code": 2}}
        )
    )

    with pytest.raises(GraphAPIError) as caught:
        await download_media(runtime, job_for(message))

    assert caught.value.retryable
    assert (await reload(runtime, message.message_id)).media_state == MediaState.PENDING


async def test_retryable_meta_error_on_the_last_attempt_fails_the_media(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(session, media_id="1011")
    graph.get(f"{GRAPH}/1011").mock(
        return_value=httpx.Response(
            503, json={"error": {"message": "Service temporarily unavailable", "code": 2}}
        )
    )

    job = await run_job(runtime, message, max_attempts=2, runs=2)

    # Retried once, then dead after its last attempt.
    assert (job.state, job.attempts) == (JobState.DEAD, 2)
    stored = await reload(runtime, message.message_id)
    assert stored.media_state == MediaState.FAILED
    assert "Service temporarily unavailable" in (stored.media_error or "")


async def test_permanent_meta_error_fails_the_media_with_metas_reason(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(session, media_id="1212")
    graph.get(f"{GRAPH}/1212").mock(
        return_value=httpx.Response(
            400,
            json={
                "error": {
                    "message": "Unsupported get request. Object with ID '1212' does not exist",
                    "type": "GraphMethodException",
                    "code": 100,
                    "error_subcode": 33,
                }
            },
        )
    )

    job = await run_job(runtime, message)

    # Not retried: the job is dead after its first attempt.
    assert (job.state, job.attempts) == (JobState.DEAD, 1)
    stored = await reload(runtime, message.message_id)
    assert stored.media_state == MediaState.FAILED
    assert "Graph API error 100" in (stored.media_error or "")
    assert ACCESS_TOKEN not in (stored.media_error or "")


async def test_download_url_outside_meta_gets_no_token_and_fails(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(session, media_id="1313")
    elsewhere = serve_media(graph, "1313", JPEG, url="https://files.example.com/steal")

    job = await run_job(runtime, message)

    assert (job.state, job.attempts) == (JobState.DEAD, 1)
    assert elsewhere.call_count == 0
    stored = await reload(runtime, message.message_id)
    assert stored.media_state == MediaState.FAILED
    assert "files.example.com" in (stored.media_error or "")


async def test_job_for_a_message_that_is_gone_is_permanent(runtime: Runtime) -> None:
    job = Job(kind=kinds.MEDIA_DOWNLOAD, payload={"message_id": "wamid.gone"}, attempts=1)

    with pytest.raises(PermanentJobError, match="no longer exists"):
        await download_media(runtime, job)


async def test_job_without_a_message_id_is_permanent(runtime: Runtime) -> None:
    job = Job(kind=kinds.MEDIA_DOWNLOAD, payload={}, attempts=1)

    with pytest.raises(PermanentJobError, match="without a message_id"):
        await download_media(runtime, job)


async def test_message_without_a_media_id_fails_permanently(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(session, media_id=None, raw={"type": "image", "image": {}})

    job = await run_job(runtime, message)

    assert (job.state, job.attempts) == (JobState.DEAD, 1)
    assert "names no media id" in (job.last_error or "")
    stored = await reload(runtime, message.message_id)
    assert stored.media_state == MediaState.FAILED
    assert "names no media id" in (stored.media_error or "")


async def test_large_download_is_streamed_not_held_in_memory(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    chunk = bytes(range(256)) * 256  # 64 KiB
    count = 50 * 16  # 50 MiB in all
    digest = hashlib.sha256()
    for _ in range(count):
        digest.update(chunk)

    async def fifty_megabytes() -> AsyncIterator[bytes]:
        for _ in range(count):
            yield chunk

    message = await add_message(
        session, message_type="document", media_id="5050", mime_type="application/pdf"
    )
    serve_media(
        graph,
        "5050",
        stream=fifty_megabytes,
        sha256=digest.hexdigest(),
        mime_type="application/pdf",
    )

    tracemalloc.start()
    try:
        await download_media(runtime, job_for(message))
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    stored = await reload(runtime, message.message_id)
    assert stored.media_state == MediaState.STORED
    assert stored.media_size == 50 * MB
    assert peak < 5 * MB, f"peak {peak} bytes while downloading 50 MiB"


async def _orphan_download(runtime: Runtime, message: Message, *, max_attempts: int) -> Job:
    """The message's download, claimed for its last attempt by a worker that then died."""
    async with runtime.sessions() as session:
        job = await JobRepository(session).enqueue(
            kinds.MEDIA_DOWNLOAD, {"message_id": message.message_id}, max_attempts=max_attempts
        )
        await session.execute(
            update(Job)
            .where(Job.id == job.id)
            .values(
                state=JobState.RUNNING,
                attempts=max_attempts,
                locked_by="dead-worker",
                locked_until=utcnow() - timedelta(seconds=1),
            )
        )
        await session.commit()
    return job


async def test_media_whose_worker_died_on_the_last_attempt_fails_saying_so(
    runtime: Runtime, session: Any, api: httpx.AsyncClient
) -> None:
    message = await add_message(session, media_id="1414")
    orphan = await _orphan_download(runtime, message, max_attempts=3)

    assert not await Worker(runtime).run_once()

    async with runtime.sessions() as db:
        job = await JobRepository(db).get_by_id(orphan.id)
    assert job is not None and job.state == JobState.DEAD
    stored = await reload(runtime, message.message_id)
    assert stored.media_state == MediaState.FAILED
    assert stored.media_error == LEASE_LOST_ERROR
    assert "worker running this job stopped" in stored.media_error
    response = await api.get(f"/api/whatsapp/media/{message.message_id}")
    assert response.status_code == 404
    assert response.json()["media_state"] == "failed"
    assert response.json()["media_error"] == LEASE_LOST_ERROR


async def test_stored_media_is_not_marked_failed_when_a_later_job_dies(
    runtime: Runtime, session: Any
) -> None:
    message = await add_message(
        session,
        media_id="1515",
        media_state=MediaState.STORED,
        media_path="image/stored.jpg",
        media_size=3,
    )
    orphan = await _orphan_download(runtime, message, max_attempts=1)
    assert not await Worker(runtime).run_once()

    async with runtime.sessions() as db:
        job = await JobRepository(db).get_by_id(orphan.id)
    assert job is not None and job.state == JobState.DEAD
    stored = await reload(runtime, message.message_id)
    assert (stored.media_state, stored.media_error) == (MediaState.STORED, None)
    assert stored.media_path == "image/stored.jpg"
