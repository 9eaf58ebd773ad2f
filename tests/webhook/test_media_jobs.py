"""A media message is stored with its media pending and a download job in the same
transaction; a redelivery queues no second job."""

from __future__ import annotations

import httpx

from app.jobs import kinds
from app.runtime import Runtime
from tests.support import payloads as p
from tests.webhook import stored


async def test_media_message_queues_one_download_job(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    image = p.image_message("1479537139650973")
    await p.deliver(client, p.inbound(image))
    (job,) = await stored.jobs(runtime)
    assert (job.kind, job.payload, job.state) == (
        kinds.MEDIA_DOWNLOAD,
        {"message_id": image["id"]},
        "queued",
    )
    assert job.max_attempts == runtime.settings.job_max_attempts
    assert (await stored.message(runtime, image["id"])).media_state == "pending"


async def test_every_media_type_queues_a_download(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    media = [
        p.image_message(),
        p.video_message(),
        p.audio_message(),
        p.document_message(),
        p.sticker_message(),
    ]
    await p.deliver(client, p.inbound(*media, p.text_message("and some text")))
    queued = sorted(job.payload["message_id"] for job in await stored.jobs(runtime))
    assert queued == sorted(m["id"] for m in media)


async def test_redelivered_media_message_queues_no_second_job(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    payload = p.inbound(p.audio_message())
    await p.deliver(client, payload)
    await p.deliver(client, payload)
    assert len(await stored.jobs(runtime)) == 1


async def test_text_message_queues_no_job(client: httpx.AsyncClient, runtime: Runtime) -> None:
    await p.deliver(client, p.inbound(p.text_message("no media here")))
    assert await stored.jobs(runtime) == []
