"""The MEDIA_DOWNLOAD job: fetch an inbound message's media from Meta into storage, and
record on the message why it failed once the job is dead.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from app.jobs.exceptions import PermanentJobError
from app.media import service
from app.media.exceptions import ChecksumMismatch, MediaRejected
from app.media.repository import MediaRepository
from app.models import Job, MediaState
from app.runtime import Runtime

# A corrupted transfer can pass on a second try; a file that keeps failing its hash won't.
CHECKSUM_ATTEMPTS = 3


def _message_id(job: Job) -> str | None:
    """The wamid the job's payload names ({"message_id": wamid}), or None."""
    payload = job.payload if isinstance(job.payload, dict) else {}
    message_id = payload.get("message_id")
    return message_id if isinstance(message_id, str) and message_id else None


async def download_media(runtime: Runtime, job: Job) -> dict[str, Any] | None:
    """Download the media of the payload's message (payload: {"message_id": wamid}).

    Runs again safely: an already stored file is left alone, and a rerun writes the
    same storage key. Failures only raise (PermanentJobError when no retry can help);
    once the job is dead, record_media_failure marks the media failed.
    """
    message_id = _message_id(job)
    if message_id is None:
        raise PermanentJobError("media download job without a message_id")
    target = await service.load_target(runtime, message_id)
    if target is None:
        raise PermanentJobError(f"message {message_id} no longer exists")
    if target.state == MediaState.STORED:
        return {"skipped": "already stored"}
    try:
        record = await service.fetch_to_storage(runtime, target)
    except ChecksumMismatch as exc:
        if job.attempts >= CHECKSUM_ATTEMPTS:
            raise PermanentJobError(str(exc)) from exc
        raise
    except MediaRejected as exc:
        raise PermanentJobError(str(exc)) from exc
    await service.record_stored(runtime, message_id, record)
    return {"path": record.path, "size": record.size, "sha256": record.sha256}


async def record_media_failure(session: AsyncSession, job: Job, error: str) -> None:
    """The dead hook of MEDIA_DOWNLOAD: the message's media failed, for `error`.

    Runs in the transaction that buries the job; a file another run stored is kept.
    """
    message_id = _message_id(job)
    if message_id is not None:
        await MediaRepository(session).mark_failed(message_id, error)
