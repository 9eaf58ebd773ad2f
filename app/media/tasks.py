"""The MEDIA_DOWNLOAD job: fetch an inbound message's media from Meta into storage."""

from __future__ import annotations

from typing import Any

from app.jobs.exceptions import PermanentJobError
from app.media import service
from app.media.exceptions import ChecksumMismatch, MediaRejected
from app.models import Job, MediaState
from app.outbound.graph import GraphAPIError
from app.runtime import Runtime

# A corrupted transfer can pass on a second try; a file that keeps failing its hash won't.
CHECKSUM_ATTEMPTS = 3


async def download_media(runtime: Runtime, job: Job) -> dict[str, Any] | None:
    """Download the media of the payload's message (payload: {"message_id": wamid}).

    Runs again safely: an already stored file is left alone, and a rerun writes the
    same storage key. When the job will not be tried again (a permanent failure, or
    the last attempt failing) the message records media_state "failed" and why.
    """
    payload = job.payload if isinstance(job.payload, dict) else {}
    message_id = payload.get("message_id")
    if not isinstance(message_id, str) or not message_id:
        raise PermanentJobError("media download job without a message_id")
    target = await service.load_target(runtime, message_id)
    if target is None:
        raise PermanentJobError(f"message {message_id} no longer exists")
    if target.state == MediaState.STORED:
        return {"skipped": "already stored"}
    last_attempt = job.attempts >= job.max_attempts
    try:
        record = await service.fetch_to_storage(runtime, target)
    except ChecksumMismatch as exc:
        if last_attempt or job.attempts >= CHECKSUM_ATTEMPTS:
            await service.record_failed(runtime, message_id, str(exc))
            raise PermanentJobError(str(exc)) from exc
        raise
    except MediaRejected as exc:
        await service.record_failed(runtime, message_id, str(exc))
        raise PermanentJobError(str(exc)) from exc
    except GraphAPIError as exc:
        if last_attempt or not exc.retryable:
            await service.record_failed(runtime, message_id, str(exc))
        raise
    except Exception as exc:
        if last_attempt:
            await service.record_failed(runtime, message_id, f"{type(exc).__name__}: {exc}")
        raise
    await service.record_stored(runtime, message_id, record)
    return {"path": record.path, "size": record.size, "sha256": record.sha256}
