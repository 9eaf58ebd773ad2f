"""A stored media file is a media.stored event, in the transaction that records it."""

from __future__ import annotations

from typing import Any

import respx
from sqlalchemy import select

from app.media.tasks import download_media
from app.models import ChangeEvent
from app.runtime import Runtime
from tests.media.conftest import add_message
from tests.media.test_download import JPEG, graph, job_for, serve_media

__all__ = ["graph"]


async def test_a_stored_file_is_a_media_stored_event(
    runtime: Runtime, session: Any, graph: respx.MockRouter
) -> None:
    message = await add_message(session, media_id="222")
    serve_media(graph, "222", JPEG)

    await download_media(runtime, job_for(message))
    await download_media(runtime, job_for(message))  # a rerun stores nothing new

    async with runtime.sessions() as db:
        events = (await db.scalars(select(ChangeEvent))).all()
    assert [e.type for e in events] == ["media.stored"]
    assert events[0].data["message_id"] == message.message_id
    assert events[0].data["mime_type"] == "image/jpeg"
    assert events[0].data["size"] == len(JPEG)
